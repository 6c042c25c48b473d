package throttle

import (
	"bytes"
	"testing"
)

// FuzzDecodeCounter: any stored value decodes to a valid counter or an
// error, and a valid one re-encodes to the same bytes.
func FuzzDecodeCounter(f *testing.F) {
	f.Add(counter{failures: 3, last: 1_800_000_000_000}.encode())
	f.Add([]byte{})
	f.Add([]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(window{start: 1, count: 1}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCounter(b)
		if err != nil {
			if c != (counter{}) {
				t.Fatal("error with a non-zero counter")
			}
			return
		}
		if len(b) == 0 {
			return
		}
		if c.failures == 0 || c.failures > maxFailures || c.last <= 0 {
			t.Fatalf("accepted %+v", c)
		}
		if !bytes.Equal(c.encode(), b) {
			t.Fatalf("round trip: %x -> %+v -> %x", b, c, c.encode())
		}
	})
}

// FuzzDecodeWindow is FuzzDecodeCounter for window records.
func FuzzDecodeWindow(f *testing.F) {
	f.Add(window{start: 1_800_000_000_000, count: 7}.encode())
	f.Add(counter{failures: 1, last: 1}.encode())
	f.Add([]byte{0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWindow(b)
		if err != nil || len(b) == 0 {
			return
		}
		if w.count == 0 || w.count > maxFailures || w.start <= 0 {
			t.Fatalf("accepted %+v", w)
		}
		if !bytes.Equal(w.encode(), b) {
			t.Fatalf("round trip: %x -> %+v", b, w)
		}
	})
}
