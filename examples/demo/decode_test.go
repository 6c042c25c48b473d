package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// A real session record, made by the session package.
func realSessionRecord(t testing.TB) []byte {
	mem := store.NewMemory(store.MemoryConfig{})
	defer mem.Close()
	m := session.New(mem, session.Config{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Login(r.Context(), "alice")
		session.Set(r.Context(), "n", 42)
		session.Set(r.Context(), "s", "hello")
		session.Set(r.Context(), "p", prefs{"dark", "fr"})
		session.Set(r.Context(), "b", true)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	for k, v := range mem.All() {
		if strings.HasPrefix(k, "sess:") {
			return v
		}
	}
	t.Fatal("no session record")
	return nil
}

func TestDecodeSessionRecord(t *testing.T) {
	rec := realSessionRecord(t)
	fields, err := decodeSessionRecord(rec)
	if err != nil {
		t.Fatalf("%v\n%s", err, hexDump(rec, 512))
	}
	got := map[string][]string{}
	for _, f := range fields {
		got[f.Name] = append(got[f.Name], f.Value)
	}
	if got["subject"][0] != `"alice"` || got["flags"][0] != "logged in " || got["entries"][0] != "4" {
		t.Errorf("fields %v", got)
	}
	want := []string{`"b"`, `"n"`, `"p"`, `"s"`}
	if strings.Join(got["key"], ",") != strings.Join(want, ",") {
		t.Errorf("keys %v, want %v", got["key"], want)
	}
	if strings.Join(got["value"], ",") != `true,42,{"theme":"dark","lang":"fr"},"hello"` {
		t.Errorf("values %v", got["value"])
	}
	for i := range rec {
		if _, err := decodeSessionRecord(rec[:i]); err == nil {
			t.Errorf("a record truncated to %d bytes decodes", i)
		}
	}
	if _, err := decodeSessionRecord(append(rec, 0)); err == nil {
		t.Error("a record with a trailing byte decodes")
	}
}

func FuzzDecodeSessionRecord(f *testing.F) {
	f.Add(realSessionRecord(f))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 2, 2, 2, 2, 2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := decodeSessionRecord(b)
		if err == nil && len(fields) < 6 {
			t.Errorf("decoded %d fields", len(fields))
		}
	})
}

func TestDecodeCookieValue(t *testing.T) {
	codec, err := cookie.NewCodec(cookie.Key{ID: 7, Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := codec.SealString("c", "hello", time.Minute)
	signed, _ := codec.SignString("c", "hello", time.Minute)
	for _, tt := range []struct{ name, v, format string }{{"sealed", sealed, "1 = sealed"}, {"signed", signed, "2 = signed"}} {
		t.Run(tt.name, func(t *testing.T) {
			fields, err := decodeCookieValue(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(fields[0].Value, tt.format) || fields[1].Value != "7" {
				t.Errorf("fields %+v", fields)
			}
		})
	}
	for _, bad := range []string{"", "!!", base64.RawURLEncoding.EncodeToString([]byte{1, 2, 3}), base64.RawURLEncoding.EncodeToString(make([]byte, 20)), strings.Repeat("A", 5000)} {
		if _, err := decodeCookieValue(bad); err == nil {
			t.Errorf("%q decodes", bad)
		}
	}
}

func FuzzDecodeCookieValue(f *testing.F) {
	codec, _ := cookie.NewCodec(cookie.Key{ID: 1, Secret: make([]byte, 32)})
	v, _ := codec.SealString("c", "x", time.Minute)
	f.Add(v)
	v, _ = codec.SignString("c", "x", time.Minute)
	f.Add(v)
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		decodeCookieValue(s)
	})
}

func TestDecodeJWT(t *testing.T) {
	ts := newTestServer(t)
	iss, err := ts.issuer.Issue(jwt.Grant{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	h, c, err := decodeJWT(iss.Token)
	if err != nil || !strings.Contains(h, `"alg": "EdDSA"`) || !strings.Contains(c, `"sub": "alice"`) {
		t.Fatalf("%v\n%s\n%s", err, h, c)
	}
	for _, bad := range []string{"", "a.b", "a.b.c", "e30.e30", "e30.!!.x", "bm90IGpzb24.e30.x", strings.Repeat("a", 9000) + ".e30.x"} {
		if _, _, err := decodeJWT(bad); err == nil {
			t.Errorf("%q decodes", bad)
		}
	}
}

func FuzzDecodeJWT(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		decodeJWT(s)
	})
}

func TestRedactSetCookie(t *testing.T) {
	for in, want := range map[string]string{
		"__Host-session=abcdefghijklmnopqrstuvwxyz; Path=/; Secure": "__Host-session=abcdefgh…; Path=/; Secure",
		"a=short; Path=/":               "a=short; Path=/",
		"a=abcdefghijklmnop":            "a=abcdefgh…",
		"no equals sign":                "no equals sign",
		"a=; Max-Age=0; Path=/; Secure": "a=; Max-Age=0; Path=/; Secure",
	} {
		if got := redactSetCookie(in); got != want {
			t.Errorf("redactSetCookie(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.0/8, 192.168.1.7 ,::1,")
	if err != nil || len(got) != 3 || got[1].String() != "192.168.1.7/32" || got[2].String() != "::1/128" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := parsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("accepted a bad prefix")
	}
}

func TestDeviceName(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36":                 "Chrome on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":    "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0":                                      "Firefox on Windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0 Safari/537.36 Edg/150.0": "Edge on Windows",
		"curl/8.5.0":         "curl",
		"Go-http-client/1.1": "Go program",
		"":                   "unknown client",
		"SomeBot":            "SomeBot",
	} {
		if got := deviceName(ua); got != want {
			t.Errorf("deviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}

func TestDescribeHash(t *testing.T) {
	for enc, want := range map[string]string{
		demoLegacyHash: "bcrypt (cost 10)",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA": "argon2id (m=19456, t=2, p=1)",
		"$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA":                          "scrypt (ln=17, r=8, p=1)",
		"$pbkdf2-sha256$600000$c2FsdA$aGFzaA":                          "PBKDF2-SHA256 (600000 iterations)",
		"pbkdf2_sha256$260000$salt$hash":                               "PBKDF2-SHA256, Django format (260000 iterations)",
		"md5:abc":                                                      "unknown scheme",
	} {
		if got := describeHash(enc); got != want {
			t.Errorf("describeHash(%q) = %q, want %q", enc, got, want)
		}
	}
	if got := hashPrefix("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"); got != "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" {
		t.Errorf("hashPrefix: %q", got)
	}
}
