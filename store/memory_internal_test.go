package store

import (
	"testing"
	"unsafe"
)

// The shard padding's claim: one shard per 64-byte cache line.
func TestShardIsOneCacheLine(t *testing.T) {
	if n := unsafe.Sizeof(memShard{}); n != 64 {
		t.Fatalf("memShard is %d bytes, want 64: adjust its padding", n)
	}
}
