package httpsyntax

import (
	"strings"
	"testing"
)

func TestTchar(t *testing.T) {
	const delimiters = "\"(),/:;<=>?@[\\]{}"
	for c := range 256 {
		b := byte(c)
		want := b > 0x20 && b < 0x7f && !strings.ContainsRune(delimiters, rune(b))
		if IsTchar(b) != want {
			t.Errorf("IsTchar(%#x) = %v, want %v", b, !want, want)
		}
	}
	for s, want := range map[string]bool{"Basic": true, "x-Custom_1.0~": true, "": false, "Bearer realm": false, "a\x7f": false, "ü": false} {
		if IsToken(s) != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, !want, want)
		}
	}
}
