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
