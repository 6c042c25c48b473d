package cookie

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"strings"
	"testing"
	"time"
)

// TestWithExpiry checks that OpenWithExpiry and VerifyWithExpiry return the
// expiry sealed into the value, to the millisecond, so that a caller can
// renew a value that is about to expire.
func TestWithExpiry(t *testing.T) {
	withExpiry := map[string]func(c *Codec, name, v string) ([]byte, time.Time, error){
		"seal": (*Codec).OpenWithExpiry,
		"sign": (*Codec).VerifyWithExpiry,
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			now := t0.Add(1234567 * time.Microsecond) // not a whole millisecond
			clk := clocktest.New(now)
			c := newCodec(t, clk, Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(c, "n", []byte("x"), 90*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			open := withExpiry[m.name]
			got, exp, err := open(c, "n", v)
			want := time.UnixMilli(now.Add(90 * time.Minute).UnixMilli())
			if err != nil || string(got) != "x" || !exp.Equal(want) {
				t.Fatalf("got %q, %v, %v; want x, %v", got, exp, err, want)
			}
			clk.Set(want)
			if got, exp, err := open(c, "n", v); got != nil || !exp.IsZero() || !errors.Is(err, ErrExpired) {
				t.Fatalf("at expiry: %q, %v, %v; want ErrExpired and a zero time", got, exp, err)
			}
			if got, exp, err := open(c, "other", v); got != nil || !exp.IsZero() || !errors.Is(err, ErrInvalid) {
				t.Fatalf("wrong name: %q, %v, %v", got, exp, err)
			}
		})
	}
}

// TestTTLUnderOneMillisecond: expiries are stored in whole milliseconds, so
// a ttl under one millisecond would make a value that is already expired.
func TestTTLUnderOneMillisecond(t *testing.T) {
	for _, m := range modes {
		c := newCodec(t, clocktest.New(t0.Add(999*time.Microsecond)), Key{ID: 1, Secret: secret(1)})
		for _, ttl := range []time.Duration{time.Nanosecond, 500 * time.Microsecond, time.Millisecond - 1} {
			if v, err := m.encode(c, "n", []byte("x"), ttl); !errors.Is(err, ErrInvalidTTL) {
				t.Errorf("%s, ttl %v: %q, %v; want ErrInvalidTTL", m.name, ttl, v, err)
			}
		}
		v, err := m.encode(c, "n", []byte("x"), time.Millisecond)
		if err != nil {
			t.Fatalf("%s, ttl 1ms: %v", m.name, err)
		}
		if _, err := m.decode(c, "n", v); err != nil {
			t.Errorf("%s: a value with a 1ms ttl does not open at once: %v", m.name, err)
		}
	}
}

// TestMaxTTL: a Codec with MaxTTL refuses longer lifetimes, so that nothing
// outlives the time its keys are kept.
func TestMaxTTL(t *testing.T) {
	for _, m := range modes {
		c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
		c.MaxTTL = time.Hour
		if _, err := m.encode(c, "n", []byte("x"), time.Hour); err != nil {
			t.Errorf("%s, ttl = MaxTTL: %v", m.name, err)
		}
		if _, err := m.encode(c, "n", []byte("x"), time.Hour+time.Millisecond); !errors.Is(err, ErrInvalidTTL) {
			t.Errorf("%s, ttl over MaxTTL: %v, want ErrInvalidTTL", m.name, err)
		}
	}
}

// unknownKeyValue returns a well-formed value of mode m naming key ID 99.
func unknownKeyValue(t *testing.T, m mode) string {
	t.Helper()
	other := newCodec(t, clocktest.New(t0), Key{ID: 99, Secret: secret(9)})
	v, err := m.encode(other, "n", bytes.Repeat([]byte("p"), 64), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRefusedWithoutAllocating: every rejection that needs no key work —
// an unknown key ID, the other mode's format, a malformed value — costs no
// allocation, so a flood of forged values cannot make the server allocate.
func TestRefusedWithoutAllocating(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
	for _, m := range modes {
		unknown := unknownKeyValue(t, m)
		own, err := m.encode(c, "n", []byte("x"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name, value string
			want        error
		}{
			{"unknown key ID", unknown, ErrUnknownKey},
			{"bad base64 in the header", "!" + unknown[1:], ErrInvalid},
			{"too short", unknown[:20], ErrInvalid},
		} {
			var err error
			allocs := testing.AllocsPerRun(100, func() { _, err = m.decode(c, "n", tt.value) })
			if !errors.Is(err, tt.want) {
				t.Errorf("%s, %s: %v, want %v", m.name, tt.name, err, tt.want)
			}
			if allocs != 0 {
				t.Errorf("%s, %s: %v allocations, want 0", m.name, tt.name, allocs)
			}
		}
		var err2 error
		allocs := testing.AllocsPerRun(100, func() { _, err2 = m.other(c, "n", own) })
		if !errors.Is(err2, ErrInvalid) || allocs != 0 {
			t.Errorf("%s value opened in the other mode: %v, %v allocations; want ErrInvalid and 0", m.name, err2, allocs)
		}
	}
}

// TestUnknownKeyIDNotInError: the error for an unknown key ID is a fixed
// value; the ID it names is attacker-chosen and stays out of it.
func TestUnknownKeyIDNotInError(t *testing.T) {
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
	for _, m := range modes {
		_, err := m.decode(c, "n", unknownKeyValue(t, m))
		if !errors.Is(err, ErrUnknownKey) || strings.Contains(err.Error(), "99") {
			t.Errorf("%s: %v", m.name, err)
		}
	}
}

// TestHeaderCheckedBeforeDecoding: a value whose header is well formed but
// whose remainder is not base64url is still refused as malformed, whatever
// key it names.
func TestHeaderCheckedBeforeDecoding(t *testing.T) {
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
	for _, m := range modes {
		v, err := m.encode(c, "n", bytes.Repeat([]byte("p"), 64), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		bad := v[:40] + "*" + v[41:]
		if _, err := m.decode(c, "n", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", m.name, err)
		}
		// A known key ID in a value of the other format is the format error.
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		raw[0] ^= 3
		if _, err := m.decode(c, "n", base64.RawURLEncoding.EncodeToString(raw)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s, other format byte: %v", m.name, err)
		}
		if id := binary.BigEndian.Uint32(raw[1:5]); id != 1 {
			t.Fatalf("key ID %d", id)
		}
	}
}
