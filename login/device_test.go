package login

import (
	"bytes"
	"testing"
)

// FuzzDecodeDevice: any verified payload decodes to a device of at most
// maxDeviceAccounts accounts or an error, and a valid one re-encodes to the
// same bytes.
func FuzzDecodeDevice(f *testing.F) {
	d := device{tags: [][deviceTagLen]byte{accountTag("alice"), accountTag("bob")}}
	f.Add(d.encode())
	f.Add([]byte{deviceVersion})
	f.Add(append([]byte{deviceVersion}, make([]byte, deviceIDLen+1)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDevice(b)
		if err != nil {
			return
		}
		if len(d.tags) < 1 || len(d.tags) > maxDeviceAccounts {
			t.Fatalf("%d tags", len(d.tags))
		}
		if !bytes.Equal(d.encode(), b) {
			t.Fatalf("round trip %x", b)
		}
	})
}

func TestDeviceAdd(t *testing.T) {
	var d device
	for i := range maxDeviceAccounts + 3 {
		d.add(accountTag(string(rune('a' + i))))
	}
	if len(d.tags) != maxDeviceAccounts || d.knows(accountTag("a")) || !d.knows(accountTag(string(rune('a'+maxDeviceAccounts+2)))) {
		t.Fatalf("%d tags", len(d.tags))
	}
	d.add(accountTag("e")) // already there: moves last, no duplicate
	if len(d.tags) != maxDeviceAccounts || d.tags[len(d.tags)-1] != accountTag("e") {
		t.Fatal("re-adding a known account")
	}
	if _, err := decodeDevice(d.encode()); err != nil {
		t.Fatal(err)
	}
}
