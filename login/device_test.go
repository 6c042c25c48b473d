package login

import (
	"bytes"
	"strings"
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

// FuzzParseRange: any response body parses to sorted 35-digit upper-case
// suffixes or ErrRangeResponse, never a panic.
func FuzzParseRange(f *testing.F) {
	f.Add([]byte("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte(":"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parseRange(b, 1)
		if err != nil {
			return
		}
		for i, s := range out {
			if len(s) != 35 || strings.ToUpper(s) != s || (i > 0 && out[i-1] > s) {
				t.Fatalf("bad suffix list %q", out)
			}
		}
	})
}

// FuzzDecodeChallenge: any stored value decodes to a valid challenge or an
// error, and a valid one re-encodes to the same bytes.
func FuzzDecodeChallenge(f *testing.F) {
	f.Add((&challenge{attempts: 2, expires: 1_900_000_000_000, subject: "u-1"}).encode())
	f.Add([]byte{challengeVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := decodeChallenge(b)
		if err != nil {
			return
		}
		if ch.subject == "" || len(ch.subject) > maxSubjectLen || ch.expires <= 0 {
			t.Fatalf("accepted %+v", ch)
		}
		if !bytes.Equal(ch.encode(), b) {
			t.Fatal("round trip")
		}
	})
}
