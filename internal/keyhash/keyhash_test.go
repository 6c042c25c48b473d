package keyhash

import (
	"strings"
	"testing"

	"github.com/authkit/authkit/store"
)

func TestKey(t *testing.T) {
	// SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	const want = "sess:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
	if got := Key("sess:", "abc"); got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
	if got := KeyBytes("sess:", []byte("abc")); got != want {
		t.Fatalf("KeyBytes = %q, want %q", got, want)
	}
	k := Key("x:", strings.Repeat("\x00 ü", 1000))
	if len(k) != 2+EncodedLen || store.CheckKey(k) != nil {
		t.Fatalf("key %q is not a valid store key", k)
	}
}

func TestKeyAllocatesOnlyTheResult(t *testing.T) {
	secret := strings.Repeat("x", 43)
	if n := testing.AllocsPerRun(100, func() { _ = Key("sess:", secret) }); n != 1 {
		t.Fatalf("Key allocates %v times, want 1", n)
	}
	long := strings.Repeat("y", 1000)
	if got, want := Key("p:", long), KeyBytes("p:", []byte(long)); got != want {
		t.Fatalf("long input: Key = %q, KeyBytes = %q", got, want)
	}
}
