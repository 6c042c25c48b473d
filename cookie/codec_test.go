package cookie

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"github.com/authkit/authkit/internal/clocktest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, MinKeySize) }

// clock is an injectable time source for Codec.Now.
type clock = clocktest.Clock

func newCodec(t *testing.T, clk *clock, keys ...Key) *Codec {
	t.Helper()
	c, err := NewCodec(keys...)
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	if clk != nil {
		c.Now = clk.Now
	}
	return c
}

// mode abstracts Seal/Open and Sign/Verify so every test runs on both.
type mode struct {
	name   string
	encode func(c *Codec, name string, p []byte, ttl time.Duration) (string, error)
	decode func(c *Codec, name, v string) ([]byte, error)
	other  func(c *Codec, name, v string) ([]byte, error)
}

var modes = []mode{
	{"seal", (*Codec).Seal, (*Codec).Open, (*Codec).Verify},
	{"sign", (*Codec).Sign, (*Codec).Verify, (*Codec).Open},
}

func rawOf(t *testing.T, v string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("decoding %q: %v", v, err)
	}
	return raw
}

func TestNewCodec(t *testing.T) {
	tests := []struct {
		name    string
		keys    []Key
		wantErr bool
		wantMsg string
	}{
		{"one key", []Key{{ID: 1, Secret: secret(1)}}, false, ""},
		{"zero ID", []Key{{Secret: secret(1)}}, false, ""},
		{"long key", []Key{{ID: 1, Secret: bytes.Repeat([]byte{1}, 64)}}, false, ""},
		{"three keys", []Key{{ID: 3, Secret: secret(3)}, {ID: 2, Secret: secret(2)}, {ID: 1, Secret: secret(1)}}, false, ""},
		{"no keys", nil, true, "no keys"},
		{"short key", []Key{{ID: 1, Secret: secret(1)[:31]}}, true, "31 bytes"},
		{"empty key", []Key{{ID: 1}}, true, "0 bytes"},
		{"short second key", []Key{{ID: 1, Secret: secret(1)}, {ID: 2, Secret: []byte("password")}}, true, "key 1 (ID 2)"},
		{"duplicate ID", []Key{{ID: 7, Secret: secret(1)}, {ID: 7, Secret: secret(2)}}, true, "ID 7 appears more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCodec(tt.keys...)
			if !tt.wantErr {
				if err != nil || c == nil {
					t.Fatalf("NewCodec: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) || c != nil {
				t.Fatalf("NewCodec = %v, %v; want ErrInvalidKey", c, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
			for _, k := range tt.keys {
				if len(k.Secret) > 0 && strings.Contains(err.Error(), string(k.Secret)) {
					t.Fatalf("error %q contains a secret", err)
				}
			}
		})
	}
}

// TestNewCodecKeepsNoSecret checks that changing the caller's secret after
// NewCodec does not change the keys.
func TestNewCodecKeepsNoSecret(t *testing.T) {
	s := secret(9)
	c := newCodec(t, nil, Key{ID: 1, Secret: s})
	v, err := c.Seal("n", []byte("x"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clear(s)
	if got, err := c.Open("n", v); err != nil || string(got) != "x" {
		t.Fatalf("Open after clearing the secret = %q, %v", got, err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, m := range modes {
		for _, size := range []int{0, 1, 64, 1000} {
			for _, name := range []string{"s", "__Host-session", "!#$%&'*+-.^_`|~"} {
				t.Run(m.name+"/"+name+"/"+string(rune('0'+size%10)), func(t *testing.T) {
					clk := clocktest.New(t0)
					c := newCodec(t, clk, Key{ID: 42, Secret: secret(1)})
					p := bytes.Repeat([]byte{0xA5}, size)
					v, err := m.encode(c, name, p, time.Hour)
					if err != nil {
						t.Fatalf("encode: %v", err)
					}
					if err := checkValue(v); err != nil {
						t.Fatalf("encoded value is not a cookie value: %v", err)
					}
					raw := rawOf(t, v)
					if got := binary.BigEndian.Uint32(raw[1:5]); got != 42 {
						t.Fatalf("key ID in value = %d, want 42", got)
					}
					if got := int64(binary.BigEndian.Uint64(raw[5:13])); got != t0.Add(time.Hour).UnixMilli() {
						t.Fatalf("expiry in value = %d, want %d", got, t0.Add(time.Hour).UnixMilli())
					}
					got, err := m.decode(c, name, v)
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					if !bytes.Equal(got, p) {
						t.Fatalf("decode = %x, want %x", got, p)
					}
					if cap(got) != len(got) {
						t.Fatalf("returned payload has spare capacity %d", cap(got)-len(got))
					}
					sealed := m.name == "seal"
					if size >= 8 && sealed == bytes.Contains(raw, p) {
						t.Fatalf("payload visible in the %s value: %v", m.name, !sealed)
					}
				})
			}
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
	a, err1 := c.Seal("n", []byte("same"), time.Hour)
	b, err2 := c.Seal("n", []byte("same"), time.Hour)
	if err1 != nil || err2 != nil || a == b {
		t.Fatalf("two seals of one payload: %q, %q (%v, %v)", a, b, err1, err2)
	}
}

// TestTamperEveryByte flips bits in every byte of the decoded value and
// re-encodes it: every variant is rejected.
func TestTamperEveryByte(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)}, Key{ID: 2, Secret: secret(2)})
			v, err := m.encode(c, "n", bytes.Repeat([]byte("p"), 64), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			raw := rawOf(t, v)
			for i := range raw {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(raw)
					bad[i] ^= mask
					got, err := m.decode(c, "n", base64.RawURLEncoding.EncodeToString(bad))
					want := ErrInvalid
					if i >= 1 && i < 5 {
						// No mask turns ID 1 into ID 2, so a changed key
						// ID names an unknown key.
						want = ErrUnknownKey
					}
					if got != nil || !errors.Is(err, want) {
						t.Fatalf("byte %d ^ %#x: got %q, %v; want %v", i, mask, got, err, want)
					}
				}
			}
			// Changing the key ID to the other key's fails authentication.
			bad := bytes.Clone(raw)
			bad[4] = 2
			if _, err := m.decode(c, "n", base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("value moved to key 2: %v, want ErrInvalid", err)
			}
		})
	}
}

// TestTamperEveryChar replaces every character of the encoded value with
// every other base64url character and with characters outside the alphabet.
func TestTamperEveryChar(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(c, "n", bytes.Repeat([]byte("p"), 64), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for i := range len(v) {
				for _, ch := range alphabet + "+/=.~ \n\r\x00\xff" {
					if byte(ch) == v[i] {
						continue
					}
					bad := v[:i] + string(ch) + v[i+1:]
					got, err := m.decode(c, "n", bad)
					if got != nil || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnknownKey)) {
						t.Fatalf("char %d -> %q: got %q, %v", i, ch, got, err)
					}
				}
				// An inserted CR or LF, which base64 decoders skip, is refused.
				for _, ins := range []string{"\n", "\r", "\r\n"} {
					bad := v[:i] + ins + v[i:]
					if got, err := m.decode(c, "n", bad); got != nil || !errors.Is(err, ErrInvalid) {
						t.Fatalf("%q inserted at %d: got %q, %v", ins, i, got, err)
					}
				}
			}
		})
	}
}

func TestTruncateAndExtend(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(c, "n", bytes.Repeat([]byte("p"), 64), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(v) {
				if got, err := m.decode(c, "n", v[:n]); got != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("truncated to %d: got %q, %v", n, got, err)
				}
				if n == 0 {
					continue
				}
				if got, err := m.decode(c, "n", v[n:]); got != nil || err == nil {
					t.Fatalf("first %d chars removed: got %q, %v", n, got, err)
				}
			}
			for _, suffix := range []string{"A", "AA", "AAA", "AAAA", "=", "=="} {
				if got, err := m.decode(c, "n", v+suffix); got != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("extended by %q: got %q, %v", suffix, got, err)
				}
			}
		})
	}
}

// TestNonCanonical changes only the unused trailing bits of the last
// character: a lax decoder would return the same bytes.
func TestNonCanonical(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
			for _, size := range []int{64, 65, 66} {
				v, err := m.encode(c, "n", make([]byte, size), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				if len(v)%4 == 0 {
					continue // no unused bits
				}
				last := strings.IndexByte(base64URLAlphabet, v[len(v)-1])
				bad := v[:len(v)-1] + string(base64URLAlphabet[last|1])
				if lax, err := base64.RawURLEncoding.DecodeString(bad); err != nil || !bytes.Equal(lax, rawOf(t, v)) {
					t.Fatalf("test premise: lax decoding of %q differs", bad)
				}
				if got, err := m.decode(c, "n", bad); got != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("non-canonical value accepted: %q, %v", got, err)
				}
			}
		})
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestWrongNameAndMode(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(c, "session", []byte("alice"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, other := range []string{"Session", "sessio", "session2", "s", "flash"} {
				if got, err := m.decode(c, other, v); got != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("opened under %q: %q, %v", other, got, err)
				}
			}
			if got, err := m.other(c, "session", v); got != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("decoded by the other mode: %q, %v", got, err)
			}
			// The other mode does not accept the value even with its format
			// byte rewritten: the subkeys differ.
			raw := rawOf(t, v)
			raw[0] ^= formatSealed ^ formatSigned
			if got, err := m.other(c, "session", base64.RawURLEncoding.EncodeToString(raw)); got != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("decoded by the other mode after rewriting the format: %q, %v", got, err)
			}
			for _, bad := range []string{"", "a b", "a;b", "é"} {
				if _, err := m.decode(c, bad, v); !errors.Is(err, ErrInvalidName) {
					t.Fatalf("decode with name %q: %v, want ErrInvalidName", bad, err)
				}
				if _, err := m.encode(c, bad, []byte("x"), time.Hour); !errors.Is(err, ErrInvalidName) {
					t.Fatalf("encode with name %q: %v, want ErrInvalidName", bad, err)
				}
			}
		})
	}
}

// TestSubkeysDerived checks that the raw secret is not the HMAC key: a MAC
// made with it does not verify.
func TestSubkeysDerived(t *testing.T) {
	s := secret(1)
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: s})
	v, err := c.Sign("n", []byte("x"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawOf(t, v)
	msg := raw[:len(raw)-macLen]
	h := hmac.New(sha256.New, s)
	h.Write([]byte{0, 1, 'n'})
	h.Write(msg)
	forged := base64.RawURLEncoding.EncodeToString(h.Sum(bytes.Clone(msg)))
	if got, err := c.Verify("n", forged); got != nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("MAC under the raw secret accepted: %q, %v", got, err)
	}
}

func TestExpiry(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			clk := clocktest.New(t0)
			c := newCodec(t, clk, Key{ID: 1, Secret: secret(1)})
			v, err := m.encode(c, "n", []byte("x"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				at      time.Time
				wantErr error
			}{
				{t0.Add(-time.Hour), nil}, // a clock stepped back does not matter
				{t0, nil},
				{t0.Add(time.Hour - time.Millisecond), nil},
				{t0.Add(time.Hour), ErrExpired},
				{t0.Add(365 * 24 * time.Hour), ErrExpired},
			} {
				clk.Set(tt.at)
				got, err := m.decode(c, "n", v)
				if tt.wantErr == nil && (err != nil || string(got) != "x") {
					t.Fatalf("at %v: %q, %v; want x", tt.at, got, err)
				}
				if tt.wantErr != nil && (got != nil || !errors.Is(err, tt.wantErr) || errors.Is(err, ErrInvalid)) {
					t.Fatalf("at %v: %q, %v; want %v", tt.at, got, err, tt.wantErr)
				}
			}
			// Pushing the expiry forward breaks authentication: the result
			// is ErrInvalid, not a valid or merely expired value.
			raw := rawOf(t, v)
			binary.BigEndian.PutUint64(raw[5:13], uint64(t0.Add(1000*time.Hour).UnixMilli()))
			if got, err := m.decode(c, "n", base64.RawURLEncoding.EncodeToString(raw)); got != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("extended expiry: %q, %v; want ErrInvalid", got, err)
			}
			for _, ttl := range []time.Duration{0, -time.Second} {
				if _, err := m.encode(c, "n", []byte("x"), ttl); !errors.Is(err, ErrInvalidTTL) {
					t.Fatalf("ttl %v: %v, want ErrInvalidTTL", ttl, err)
				}
			}
		})
	}
}

func TestRotation(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			clk := clocktest.New(t0)
			k1 := Key{ID: 1, Secret: secret(1)}
			k2 := Key{ID: 2, Secret: secret(2)}
			before := newCodec(t, clk, k1)
			during := newCodec(t, clk, k2, k1)
			after := newCodec(t, clk, k2)

			old, err := m.encode(before, "n", []byte("old"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			cur, err := m.encode(during, "n", []byte("new"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if id := binary.BigEndian.Uint32(rawOf(t, cur)[1:5]); id != 2 {
				t.Fatalf("the first key did not make the value: ID %d", id)
			}
			check := func(c *Codec, v, want string, wantErr error) {
				t.Helper()
				got, err := m.decode(c, "n", v)
				if wantErr != nil {
					if got != nil || !errors.Is(err, wantErr) {
						t.Fatalf("got %q, %v; want %v", got, err, wantErr)
					}
					return
				}
				if err != nil || string(got) != want {
					t.Fatalf("got %q, %v; want %q", got, err, want)
				}
			}
			check(during, old, "old", nil)
			check(during, cur, "new", nil)
			check(after, cur, "new", nil)
			check(after, old, "", ErrUnknownKey) // retired key
			check(before, cur, "", ErrUnknownKey)

			// Same ID, different secret: authentication fails.
			impostor := newCodec(t, clk, Key{ID: 1, Secret: secret(3)})
			check(impostor, old, "", ErrInvalid)
		})
	}
}

func TestGarbage(t *testing.T) {
	long := strings.Repeat("A", 10<<10)
	for _, m := range modes {
		c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
		valid, err := m.encode(c, "n", []byte("x"), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			value   string
			wantErr error
		}{
			{"empty", "", ErrInvalid},
			{"short", "abc", ErrInvalid},
			{"punctuation", strings.Repeat("!", 200), ErrInvalid},
			{"padding", strings.Repeat("=", 200), ErrInvalid},
			{"padded valid", valid + "==", ErrInvalid},
			{"std alphabet", strings.Repeat("+/", 100), ErrInvalid},
			{"zero bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 120)), ErrInvalid},
			{"length 4n+1", strings.Repeat("A", 201), ErrInvalid},
			{"spaces", strings.Repeat(" ", 200), ErrInvalid},
			{"NULs", strings.Repeat("\x00", 200), ErrInvalid},
			{"high bytes", strings.Repeat("\xff", 200), ErrInvalid},
			{"valid with space", " " + valid, ErrInvalid},
			{"10 KB", long, ErrTooLong},
			{"10 KB garbage", strings.Repeat("\xfe\n", 5<<10), ErrTooLong},
			{"just over the limit", strings.Repeat("A", MaxLine-1), ErrTooLong},
		}
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				got, err := m.decode(c, "n", tt.value)
				if got != nil || !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %q, %v; want %v", got, err, tt.wantErr)
				}
				if len(tt.value) > 8 && strings.Contains(err.Error(), tt.value[:8]) {
					t.Fatalf("error %q repeats the input", err)
				}
			})
		}
	}
}

// TestLengthLimit checks that encoding refuses exactly the payloads whose
// name=value would exceed MaxLine, and that everything it produces fits.
func TestLengthLimit(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
			name := "__Host-state"
			largest := -1
			for n := 2900; n < 3100; n++ {
				v, err := m.encode(c, name, make([]byte, n), time.Hour)
				if errors.Is(err, ErrTooLong) {
					break
				}
				if err != nil {
					t.Fatalf("payload %d: %v", n, err)
				}
				if l := len(name) + 1 + len(v); l > MaxLine {
					t.Fatalf("payload %d gave name=value of %d bytes", n, l)
				}
				if _, err := m.decode(c, name, v); err != nil {
					t.Fatalf("payload %d does not decode: %v", n, err)
				}
				largest = n
			}
			if largest < 2900 {
				t.Fatalf("largest payload %d", largest)
			}
			// One more byte makes the value too long.
			if l := len(name) + 1 + base64.RawURLEncoding.EncodedLen(largest+1+map[string]int{"seal": sealOverhead, "sign": signOverhead}[m.name]); l <= MaxLine {
				t.Fatalf("payload %d was refused but would fit (%d bytes)", largest+1, l)
			}
			if _, err := m.encode(c, name, make([]byte, 10<<10), time.Hour); !errors.Is(err, ErrTooLong) {
				t.Fatalf("10 KB payload: %v, want ErrTooLong", err)
			}
		})
	}
}

func TestZeroCodec(t *testing.T) {
	var c Codec
	for _, m := range modes {
		if _, err := m.encode(&c, "n", []byte("x"), time.Hour); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("%s: encode with a zero Codec: %v", m.name, err)
		}
		if _, err := m.decode(&c, "n", strings.Repeat("A", 100)); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("%s: decode with a zero Codec: %v", m.name, err)
		}
	}
}

func TestStringAndJSONHelpers(t *testing.T) {
	type state struct {
		Return string   `json:"r"`
		Scopes []string `json:"s"`
		N      int      `json:"n"`
	}
	c := newCodec(t, clocktest.New(t0), Key{ID: 1, Secret: secret(1)})
	in := state{Return: "/after", Scopes: []string{"a", "b"}, N: 3}

	t.Run("string", func(t *testing.T) {
		for _, h := range []struct {
			enc func(string, string, time.Duration) (string, error)
			dec func(string, string) (string, error)
		}{{c.SealString, c.OpenString}, {c.SignString, c.VerifyString}} {
			v, err := h.enc("n", "héllo", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := h.dec("n", v); err != nil || got != "héllo" {
				t.Fatalf("got %q, %v", got, err)
			}
			if got, err := h.dec("m", v); got != "" || !errors.Is(err, ErrInvalid) {
				t.Fatalf("wrong name: %q, %v", got, err)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		for _, h := range []struct {
			enc func(string, any, time.Duration) (string, error)
			dec func(string, string, any) error
		}{{c.SealJSON, c.OpenJSON}, {c.SignJSON, c.VerifyJSON}} {
			v, err := h.enc("n", in, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			var out state
			if err := h.dec("n", v, &out); err != nil {
				t.Fatal(err)
			}
			if out.Return != in.Return || out.N != in.N || strings.Join(out.Scopes, ",") != "a,b" {
				t.Fatalf("got %+v, want %+v", out, in)
			}
			var wrong struct{ R int }
			err = h.dec("n", v, &wrong)
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "after") {
				t.Fatalf("decoding into a wrong type: %v", err)
			}
			if err := h.dec("m", v, &out); !errors.Is(err, ErrInvalid) {
				t.Fatalf("wrong name: %v", err)
			}
			if _, err := h.enc("n", make(chan int), time.Hour); err == nil {
				t.Fatal("encoding a channel succeeded")
			}
		}
	})
}

func TestCodecConcurrent(t *testing.T) {
	c := newCodec(t, nil, Key{ID: 2, Secret: secret(2)}, Key{ID: 1, Secret: secret(1)})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				p := []byte{byte(g), byte(i)}
				for _, m := range modes {
					v, err := m.encode(c, "n", p, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					got, err := m.decode(c, "n", v)
					if err != nil || !bytes.Equal(got, p) {
						t.Errorf("%s: got %x, %v; want %x", m.name, got, err, p)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestCodecAllocs guards the allocation budget of the hot paths.
func TestCodecAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	c := newCodec(t, nil, Key{ID: 1, Secret: secret(1)})
	p := bytes.Repeat([]byte("p"), 64)
	for _, m := range modes {
		allocs := testing.AllocsPerRun(100, func() {
			v, err := m.encode(c, "n", p, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.decode(c, "n", v); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 3 {
			t.Errorf("%s round trip: %v allocations, want at most 3", m.name, allocs)
		}
	}
}

// TestFormat rebuilds both formats from the documented derivation and layout
// with independent code, so the wire format cannot drift unnoticed.
func TestFormat(t *testing.T) {
	s := secret(5)
	name := "__Host-n"
	c := newCodec(t, clocktest.New(t0), Key{ID: 0x01020304, Secret: s})
	wantHeader := func(format byte) []byte {
		h := []byte{format, 1, 2, 3, 4}
		return binary.BigEndian.AppendUint64(h, uint64(t0.Add(time.Minute).UnixMilli()))
	}

	t.Run("seal", func(t *testing.T) {
		v, err := c.Seal(name, []byte("payload"), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawOf(t, v)
		if !bytes.Equal(raw[:13], wantHeader(1)) || len(raw) != 13+24+7+16 {
			t.Fatalf("raw = %x", raw)
		}
		key, err := hkdf.Key(sha256.New, s, nil, "authkit/cookie v1 seal XChaCha20-Poly1305", 32)
		if err != nil {
			t.Fatal(err)
		}
		aead, err := chacha20poly1305.NewX(key)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := aead.Open(nil, raw[13:37], raw[37:], append(bytes.Clone(raw[:13]), name...))
		if err != nil || string(pt) != "payload" {
			t.Fatalf("independent open: %q, %v", pt, err)
		}
	})
	t.Run("sign", func(t *testing.T) {
		v, err := c.Sign(name, []byte("payload"), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		raw := rawOf(t, v)
		if !bytes.Equal(raw[:13], wantHeader(2)) || string(raw[13:20]) != "payload" || len(raw) != 13+7+32 {
			t.Fatalf("raw = %x", raw)
		}
		key, err := hkdf.Key(sha256.New, s, nil, "authkit/cookie v1 sign HMAC-SHA256", 32)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte{0, byte(len(name))})
		m.Write([]byte(name))
		m.Write(raw[:20])
		if !hmac.Equal(m.Sum(nil), raw[20:]) {
			t.Fatal("independent MAC differs")
		}
	})
}
