package cookie

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzCodec returns a Codec with a fixed clock and values it made, used as
// seeds.
func fuzzCodec(f *testing.F, encode func(*Codec, string, []byte, time.Duration) (string, error)) *Codec {
	c, err := NewCodec(Key{ID: 2, Secret: secret(2)}, Key{ID: 1, Secret: secret(1)})
	if err != nil {
		f.Fatal(err)
	}
	c.Now = func() time.Time { return t0 }
	old, err := NewCodec(Key{ID: 1, Secret: secret(1)})
	if err != nil {
		f.Fatal(err)
	}
	old.Now = c.Now
	for _, p := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("p"), 64), make([]byte, 300)} {
		for _, cc := range []*Codec{c, old} {
			v, err := encode(cc, "n", p, time.Hour)
			if err != nil {
				f.Fatal(err)
			}
			f.Add("n", v)
			f.Add("m", v)
			f.Add("n", v[:len(v)-1])
			f.Add("n", v+"A")
			f.Add("n", strings.ToUpper(v))
		}
	}
	expired, err := encode(c, "n", []byte("x"), time.Millisecond)
	if err != nil {
		f.Fatal(err)
	}
	c.Now = func() time.Time { return t0.Add(time.Second) }
	f.Add("n", expired)
	for _, s := range []string{"", "A", "AAAA", "====", "\n", strings.Repeat("A", 4096), strings.Repeat("_", 100), "AQAAAAEAAAAAAAAAAA"} {
		f.Add("n", s)
	}
	f.Add("", "AAAA")
	f.Add("a b", "AAAA")
	return c
}

func fuzzDecode(t *testing.T, name, value string, decode func(string, string) ([]byte, error)) {
	got, err := decode(name, value)
	if err != nil {
		if got != nil {
			t.Fatalf("payload %q returned with error %v", got, err)
		}
		known := false
		for _, s := range []error{ErrInvalid, ErrExpired, ErrUnknownKey, ErrTooLong, ErrInvalidName} {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if len(value) >= 8 && strings.Contains(err.Error(), value) {
			t.Fatalf("error %q repeats the input", err)
		}
		return
	}
	// Only values the Codec made are accepted: canonical, within the limit,
	// and stable.
	if len(name)+1+len(value) > MaxLine {
		t.Fatalf("accepted %d bytes", len(value))
	}
	if err := checkValue(value); err != nil {
		t.Fatalf("accepted a value that is not a cookie value: %v", err)
	}
	again, err := decode(name, value)
	if err != nil || !bytes.Equal(again, got) {
		t.Fatalf("second decode differs: %q, %v", again, err)
	}
}

func FuzzOpen(f *testing.F) {
	c := fuzzCodec(f, (*Codec).Seal)
	f.Fuzz(func(t *testing.T, name, value string) {
		fuzzDecode(t, name, value, c.Open)
		fuzzExpiry(t, name, value, c, c.Open, c.OpenWithExpiry)
	})
}

func FuzzVerify(f *testing.F) {
	c := fuzzCodec(f, (*Codec).Sign)
	f.Fuzz(func(t *testing.T, name, value string) {
		fuzzDecode(t, name, value, c.Verify)
		fuzzExpiry(t, name, value, c, c.Verify, c.VerifyWithExpiry)
	})
}

// fuzzExpiry checks that the WithExpiry variant agrees with the plain one and
// returns an expiry after the Codec's now exactly when it succeeds.
func fuzzExpiry(t *testing.T, name, value string, c *Codec, plain func(string, string) ([]byte, error), with func(string, string) ([]byte, time.Time, error)) {
	p1, err1 := plain(name, value)
	p2, exp, err2 := with(name, value)
	if !bytes.Equal(p1, p2) || (err1 == nil) != (err2 == nil) {
		t.Fatalf("plain %q, %v; with expiry %q, %v", p1, err1, p2, err2)
	}
	if err2 != nil && !exp.IsZero() || err2 == nil && !exp.After(c.Now()) {
		t.Fatalf("expiry %v with error %v at %v", exp, err2, c.Now())
	}
}

// FuzzRead checks the Cookie header parser: no panic, a clear error, and a
// returned value that net/http reads the same way.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"sid=abc", "a=1; sid=abc; b=2", "sid=abc; sid=def", `sid="abc"`, "sid", "sid=", " sid = abc ",
		"sid=a b", ";;;", "=", "sid=a=b", "\x00sid=1", "sid=\xff", "SID=1; sid=2", "sid=abc;\tsid=abc",
	} {
		f.Add("sid", s, "")
		f.Add("sid", s, "sid=other")
	}
	f.Add("__Host-x", "__Host-x=1", "")
	f.Fuzz(func(t *testing.T, name, line1, line2 string) {
		tpl := New(name)
		req, err := http.NewRequest(http.MethodGet, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Add("Cookie", line1)
		if line2 != "" {
			req.Header.Add("Cookie", line2)
		}
		got, err := tpl.Read(req)
		if err != nil {
			if got != "" {
				t.Fatalf("value %q returned with error %v", got, err)
			}
			known := false
			for _, s := range []error{ErrNotFound, ErrDuplicate, ErrInvalidValue, ErrInvalidName, ErrPrefix} {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no expected sentinel", err)
			}
			return
		}
		if err := checkValue(got); err != nil {
			t.Fatalf("returned invalid value %q: %v", got, err)
		}
		// Where net/http and browsers agree on the syntax (every pair has an
		// '=' with no whitespace around it; net/http reads a bare "sid" as
		// a cookie named sid, browsers as a nameless one), net/http sees at
		// most the one copy Read found (it skips pairs it considers
		// malformed) and reads the same value.
		if plainPairs(line1) && plainPairs(line2) {
			std := req.CookiesNamed(name)
			if len(std) > 1 || len(std) == 1 && std[0].Value != got {
				t.Fatalf("Read = %q but net/http finds %v", got, std)
			}
		}
	})
}

// plainPairs reports whether every non-empty ';'-separated part of line is
// name=value without whitespace next to the '='.
func plainPairs(line string) bool {
	for part := range strings.SplitSeq(line, ";") {
		part = trimOWS(part)
		if part == "" {
			continue
		}
		i := strings.IndexByte(part, '=')
		if i <= 0 || isOWS(part[i-1]) || i+1 < len(part) && isOWS(part[i+1]) {
			return false
		}
	}
	return true
}
