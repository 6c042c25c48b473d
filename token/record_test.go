package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/internal/secret"
)

var t0 = time.UnixMilli(1_900_000_000_000)

func sampleAccess() *accessRecord {
	return &accessRecord{
		created: t0, expires: t0.Add(time.Hour), lastUsed: t0.Add(time.Minute), authTime: t0.Add(-time.Hour),
		subject: "alice", clientID: "app", familyID: strings.Repeat("A", 43),
		scopes: []string{"read", "write"}, metadata: map[string]string{"name": "laptop", "b": ""},
	}
}

func sampleFamily() *familyRecord {
	f := &familyRecord{
		gen: 3, created: t0, authTime: t0, rotated: t0.Add(time.Minute), idleExpires: t0.Add(time.Hour), expires: t0.Add(2 * time.Hour),
		subject: "alice", clientID: "app", scopes: []string{"read"}, metadata: map[string]string{"device": "phone"},
		cur: sha256.Sum256([]byte("cur")), prev: sha256.Sum256([]byte("prev")),
		history: [][historyLen]byte{{1}, {2}},
		sealed:  make([]byte, minSealedLen),
		access:  []accessRef{{hash: sha256.Sum256([]byte("at")), expires: t0.Add(time.Hour)}},
	}
	return f
}

func sampleOneTime() *oneTimeRecord {
	return &oneTimeRecord{created: t0, expires: t0.Add(time.Minute), purpose: PurposePasswordReset, subject: "alice", data: []byte("x@y")}
}

func TestRecordRoundTrip(t *testing.T) {
	a := sampleAccess()
	ga, err := decodeAccess(encodeAccess(a))
	if err != nil || ga.subject != a.subject || ga.familyID != a.familyID || !ga.lastUsed.Equal(a.lastUsed) ||
		!slices.Equal(ga.scopes, a.scopes) || ga.metadata["name"] != "laptop" || len(ga.metadata) != 2 {
		t.Fatalf("access round trip: %+v, %v", ga, err)
	}
	f := sampleFamily()
	gf, err := decodeFamily(encodeFamily(f))
	if err != nil || gf.gen != 3 || gf.cur != f.cur || gf.prev != f.prev || len(gf.history) != 2 || gf.history[1][0] != 2 ||
		!bytes.Equal(gf.sealed, f.sealed) || len(gf.access) != 1 || gf.access[0].hash != f.access[0].hash || !gf.idleExpires.Equal(f.idleExpires) {
		t.Fatalf("family round trip: %+v, %v", gf, err)
	}
	ts, err := decodeFamily(encodeFamily(testTombstone(f)))
	if err != nil || !ts.revoked || ts.subject != "alice" || ts.cur != [32]byte{} || ts.access != nil {
		t.Fatalf("tombstone round trip: %+v, %v", ts, err)
	}
	// A revoked family keeps its ending list and the listeners' flag until
	// its revocation is finished.
	tf := testTombstone(f)
	tf.notify = true
	tf.ending = []accessRef{{hash: sha256.Sum256([]byte("e")), expires: t0.Add(time.Hour)}}
	gt, err := decodeFamily(encodeFamily(tf))
	if err != nil || !gt.revoked || !gt.notify || !gt.unfinished() || len(gt.ending) != 1 || gt.ending[0] != tf.ending[0] {
		t.Fatalf("unfinished tombstone round trip: %+v, %v", gt, err)
	}
	// A live family's ending list too.
	f.ending = tf.ending
	if gl, err := decodeFamily(encodeFamily(f)); err != nil || gl.revoked || len(gl.ending) != 1 || len(gl.access) != 1 {
		t.Fatalf("family with ending tokens round trip: %+v, %v", gl, err)
	}
	f.ending = nil
	o := sampleOneTime()
	g1, err := decodeOneTime(encodeOneTime(o))
	if err != nil || g1.purpose != o.purpose || string(g1.data) != "x@y" || !g1.expires.Equal(o.expires) {
		t.Fatalf("one-time round trip: %+v, %v", g1, err)
	}
	// A zero time survives as zero.
	a.lastUsed = time.Time{}
	if ga, _ := decodeAccess(encodeAccess(a)); !ga.lastUsed.IsZero() {
		t.Fatal("zero last-use time not kept")
	}
}

func TestDecodeRejects(t *testing.T) {
	acc := encodeAccess(sampleAccess())
	fam := encodeFamily(sampleFamily())
	one := encodeOneTime(sampleOneTime())
	with := func(b []byte, i int, v byte) []byte { b = slices.Clone(b); b[i] = v; return b }
	badScope := sampleAccess()
	badScope.scopes = []string{"a b"}
	dupMeta := func() []byte {
		b := []byte{recordVersion, kindByteAccess, 2, 2, 0, 2}
		b = append(b, 5, 'a', 'l', 'i', 'c', 'e', 0, 0, 0, 2)
		return append(b, 1, 'k', 1, 'v', 1, 'k', 1, 'w')
	}()
	hugeScopes := binary.AppendUvarint([]byte{recordVersion, kindByteAccess, 2, 2, 0, 2, 1, 'a', 0, 0}, 1<<40)
	cases := []struct {
		name   string
		decode func([]byte) error
		b      []byte
	}{
		{"access: empty", decA, nil},
		{"access: version", decA, with(acc, 0, 2)},
		{"access: kind", decA, with(acc, 1, kindByteFamily)},
		{"access: truncated", decA, acc[:len(acc)-1]},
		{"access: trailing", decA, append(slices.Clone(acc), 0)},
		{"access: bad scope", decA, encodeAccess(badScope)},
		{"access: duplicate metadata", decA, dupMeta},
		{"access: huge scope count", decA, hugeScopes},
		{"access: non-minimal varint", decA, append([]byte{recordVersion, kindByteAccess, 0x82, 0x00}, acc[3:]...)},
		{"access: marker", decA, revokedMarker},
		{"family: marker", decF, revokedMarker},
		{"one-time: marker", decO, revokedMarker},
		{"family: empty ending list", decF, append(with(fam, 2, flagEnding), 0)},
		{"family: version", decF, with(fam, 0, 0)},
		{"family: unknown flag", decF, with(fam, 2, 2)},
		{"family: truncated", decF, fam[:len(fam)-3]},
		{"family: trailing", decF, append(slices.Clone(fam), 0)},
		{"family: access record", decF, acc},
		{"one-time: kind", decO, with(one, 1, kindByteAccess)},
		{"one-time: truncated", decO, one[:len(one)-1]},
		{"one-time: trailing", decO, append(slices.Clone(one), 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.decode(c.b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func decA(b []byte) error { _, err := decodeAccess(b); return err }
func decF(b []byte) error { _, err := decodeFamily(b); return err }
func decO(b []byte) error { _, err := decodeOneTime(b); return err }

func TestSeal(t *testing.T) {
	pred := newToken(DefaultRefreshPrefix, secret.Base62(locatorLen))
	succ := newToken(DefaultRefreshPrefix, string(pred[6:6+locatorLen]))
	aad := sealAAD("rtf:x", 7)
	sealed, err := sealSuccessor(pred, succ, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(succ[6+locatorLen:])) {
		t.Fatal("successor visible in the sealed box")
	}
	if got, err := openSuccessor(pred, sealed, aad); err != nil || got != succ {
		t.Fatalf("open: %v", err)
	}
	other := newToken(DefaultRefreshPrefix, string(pred[6:6+locatorLen]))
	tampered := slices.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	cases := map[string]func() (Token, error){
		"other predecessor": func() (Token, error) { return openSuccessor(other, sealed, aad) },
		"other generation":  func() (Token, error) { return openSuccessor(pred, sealed, sealAAD("rtf:x", 8)) },
		"other family":      func() (Token, error) { return openSuccessor(pred, sealed, sealAAD("rtf:y", 7)) },
		"tampered":          func() (Token, error) { return openSuccessor(pred, tampered, aad) },
		"truncated":         func() (Token, error) { return openSuccessor(pred, sealed[:minSealedLen-1], aad) },
	}
	for name, open := range cases {
		if _, err := open(); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// reencodes checks that whatever decodes re-encodes to bytes that decode
// and re-encode to the same bytes.
func FuzzDecodeAccess(f *testing.F) {
	f.Add(encodeAccess(sampleAccess()))
	f.Add(encodeAccess(&accessRecord{subject: "a"}))
	f.Add([]byte{recordVersion, kindByteAccess})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeAccess(b)
		if err != nil {
			return
		}
		e1 := encodeAccess(r)
		r2, err := decodeAccess(e1)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if e2 := encodeAccess(r2); !bytes.Equal(e1, e2) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzDecodeFamily(f *testing.F) {
	f.Add(encodeFamily(sampleFamily()))
	f.Add(encodeFamily(testTombstone(sampleFamily())))
	g0 := sampleFamily()
	g0.gen, g0.history, g0.sealed, g0.access = 0, nil, nil, nil
	f.Add(encodeFamily(g0))
	f.Add([]byte{recordVersion, kindByteFamily, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	g1 := testTombstone(sampleFamily())
	g1.notify, g1.ending = true, sampleFamily().access
	f.Add(encodeFamily(g1))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeFamily(b)
		if err != nil {
			return
		}
		if len(r.history) > maxHistory || len(r.access) > maxFamilyAccess || len(r.ending) > maxFamilyEnding || len(r.sealed) > maxSealedLen {
			t.Fatal("decoded past a bound")
		}
		e1 := encodeFamily(r)
		r2, err := decodeFamily(e1)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if e2 := encodeFamily(r2); !bytes.Equal(e1, e2) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzDecodeOneTime(f *testing.F) {
	f.Add(encodeOneTime(sampleOneTime()))
	f.Add(encodeOneTime(&oneTimeRecord{purpose: "p", subject: "s"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeOneTime(b)
		if err != nil {
			return
		}
		e1 := encodeOneTime(r)
		r2, err := decodeOneTime(e1)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if e2 := encodeOneTime(r2); !bytes.Equal(e1, e2) {
			t.Fatal("encoding is not stable")
		}
	})
}

// testTombstone is f revoked by a Manager with no listeners.
func testTombstone(f *familyRecord) *familyRecord {
	t, _ := new(Manager).tombstone(f, t0)
	return t
}
