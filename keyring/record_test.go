package keyring

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/clocktest"
	"github.com/authkit/authkit/jwt"
)

// seedRecords returns real records of both kinds, with published, signing,
// verify-only and revoked keys.
func seedRecords(t testing.TB) [][]byte {
	clk := clocktest.New(tStart)
	st := memoryStore(t, clk)
	a := mustServer(t, st, clk, testKEKs(t))
	ctx := context.Background()
	for _, p := range []string{CookieSeal, JWTPurpose(jwt.ES256)} {
		for range 2 {
			if _, err := a.kr.Rotate(ctx, p); err != nil {
				t.Fatal(err)
			}
			clk.Add(2 * time.Hour)
			a.kr.wake(ctx)
		}
		if _, err := a.kr.Rotate(ctx, p); err != nil {
			t.Fatal(err)
		}
		infos := a.kr.Keys()
		for _, k := range infos {
			if k.Purpose == p && k.State == StateVerifyOnly {
				if err := a.kr.Revoke(ctx, p, k.ID); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	var out [][]byte
	for _, v := range dump(st) {
		out = append(out, v)
	}
	return out
}

func TestRecordRoundTrip(t *testing.T) {
	for _, raw := range seedRecords(t) {
		r, err := decodeRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.keys) != 4 || len(r.live()) != 3 {
			t.Fatalf("%s: %d keys, %d live", r.purpose, len(r.keys), len(r.live()))
		}
		if !bytes.Equal(r.encode(), raw) {
			t.Fatalf("%s: encode(decode(b)) differs", r.purpose)
		}
		for n := range len(raw) {
			if _, err := decodeRecord(raw[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s truncated to %d bytes: %v", r.purpose, n, err)
			}
		}
		if _, err := decodeRecord(append(bytes.Clone(raw), 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s with a trailing byte: %v", r.purpose, err)
		}
	}
}

// TestRecordRules: each rule of the format, broken on a valid record.
func TestRecordRules(t *testing.T) {
	var cookieRaw []byte
	for _, raw := range seedRecords(t) {
		if r, _ := decodeRecord(raw); r.kind == kindCookie {
			cookieRaw = raw
		}
	}
	live := func(r *record) *entry { return &r.keys[r.live()[0]] }
	revoked := func(r *record) *entry {
		for i := range r.keys {
			if r.keys[i].isRevoked() {
				return &r.keys[i]
			}
		}
		panic("no revoked key")
	}
	for name, f := range map[string]func(*record){
		"unknown kind":             func(r *record) { r.kind = 3 },
		"cookie with algorithm":    func(r *record) { r.alg = "ES256" },
		"bad purpose":              func(r *record) { r.purpose = "Bad" },
		"cookie named jwt-":        func(r *record) { r.purpose = "jwt-x" },
		"non-canonical ID":         func(r *record) { live(r).id = "0" + live(r).id },
		"zero ID":                  func(r *record) { live(r).id = "0" },
		"repeated ID":              func(r *record) { r.keys[1].id = r.keys[0].id },
		"unknown flag":             func(r *record) { live(r).flags |= 8 },
		"negative time":            func(r *record) { live(r).created = -1 },
		"out of order":             func(r *record) { r.keys[0].activates = r.keys[len(r.keys)-1].activates + 1 },
		"created after activation": func(r *record) { e := live(r); e.created = e.activates + 1 },
		"removal without end":      func(r *record) { e := live(r); e.deactivates = 0; e.removes = 1 },
		"short sealed key":         func(r *record) { live(r).sealed = live(r).sealed[:20] },
		"revoked with material":    func(r *record) { revoked(r).sealed = live(r).sealed },
		"revoked without date":     func(r *record) { revoked(r).revoked = 0 },
		"live with revocation":     func(r *record) { live(r).revoked = 5 },
	} {
		r, err := decodeRecord(cookieRaw)
		if err != nil {
			t.Fatal(err)
		}
		f(r)
		if _, err := decodeRecord(r.encode()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// TestNormalizeNeverRevives: revoking the successor of a key that has
// stopped signing does not make it sign again; a replacement is needed.
func TestNormalizeNeverRevives(t *testing.T) {
	p := testSch.plan()
	r := &record{kind: kindCookie, purpose: CookieSeal}
	r.insert(entry{id: "1", created: 0, activates: 0, sealed: make([]byte, minSealed)})
	r.insert(entry{id: "2", created: 100, activates: 200, sealed: make([]byte, minSealed)})
	r.normalize(150, p)
	if r.signer(150) != 0 || r.signer(200) != 1 || r.keys[0].deactivates != 200 || r.keys[0].removes != 200+p.verify {
		t.Fatalf("before revocation: %+v", r.keys)
	}
	r.keys[1].flags |= flagRevoked
	r.normalize(300, p)
	if r.signer(300) != -1 || r.keys[0].deactivates != 200 {
		t.Fatalf("key 1 signs again after its successor was revoked: %+v", r.keys[0])
	}
	// Revoked while still waiting: the current key keeps signing with no
	// end date.
	r = &record{kind: kindCookie, purpose: CookieSeal}
	r.insert(entry{id: "1", activates: 0, sealed: make([]byte, minSealed)})
	r.insert(entry{id: "2", created: 100, activates: 200, sealed: make([]byte, minSealed)})
	r.normalize(150, p)
	r.keys[1].flags |= flagRevoked
	r.normalize(160, p)
	if r.signer(500) != 0 || r.keys[0].deactivates != 0 || r.keys[0].removes != 0 {
		t.Fatalf("after revoking the waiting key: %+v", r.keys[0])
	}
}

// FuzzDecodeRecord: the record decoder never panics, refuses with
// ErrCorrupt, and accepts only canonical records: whatever it accepts
// encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, raw := range seedRecords(f) {
		f.Add(raw)
		f.Add(raw[:len(raw)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1, 11, 'c', 'o', 'o', 'k', 'i', 'e', '-', 's', 'e', 'a', 'l', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			if r != nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v with a record", err)
			}
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("accepted a non-canonical record")
		}
		// The schedule functions cope with any valid record.
		now := int64(len(b)) * 1000
		r.signer(now)
		r.nextChange(now, testSch.plan())
		c := r.clone()
		c.prune(now)
		c.normalize(now, testSch.plan())
	})
}
