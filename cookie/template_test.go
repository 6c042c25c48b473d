package cookie

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// methodErrors runs Validate, Build, Set, Read and Delete on t and returns
// their errors, so every test of a rule checks that every method enforces it.
func methodErrors(t Template) map[string]error {
	_, buildErr := t.Build("v")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", t.Name+"=v")
	_, readErr := t.Read(req)
	rec := httptest.NewRecorder()
	return map[string]error{
		"Validate": t.Validate(),
		"Build":    buildErr,
		"Set":      t.Set(rec, "v"),
		"Read":     readErr,
		"Delete":   t.Delete(rec),
	}
}

func TestNewDefaults(t *testing.T) {
	tpl := New("__Host-sid")
	want := Template{Name: "__Host-sid", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if tpl != want {
		t.Fatalf("New = %+v, want %+v", tpl, want)
	}
	if err := tpl.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// TestValidate is one table with a row per rule; its length is the table's.
func TestValidate(t *testing.T) {
	mod := func(name string, f func(*Template)) Template {
		tpl := New(name)
		f(&tpl)
		return tpl
	}
	httpOK := func(t *Template) { t.Secure = false; t.InsecureAllowHTTP = true }
	tests := []struct {
		name    string
		tpl     Template
		wantErr error  // nil: valid
		wantMsg string // substring of the message, to pin the rule
	}{
		// Valid templates.
		{"defaults", New("sid"), nil, ""},
		{"host prefix", New("__Host-sid"), nil, ""},
		{"secure prefix with domain and path", mod("__Secure-sid", func(t *Template) { t.Domain = "example.com"; t.Path = "/app" }), nil, ""},
		{"http prefix", New("__Http-sid"), nil, ""},
		{"host-http prefix", New("__Host-Http-sid"), nil, ""},
		{"plain http opt-in", mod("sid", httpOK), nil, ""},
		{"script access opt-in", mod("csrf", func(t *Template) { t.HttpOnly = false; t.AllowScriptAccess = true }), nil, ""},
		{"strict", mod("sid", func(t *Template) { t.SameSite = http.SameSiteStrictMode }), nil, ""},
		{"none with secure", mod("sid", func(t *Template) { t.SameSite = http.SameSiteNoneMode }), nil, ""},
		{"partitioned", mod("sid", func(t *Template) { t.Partitioned = true; t.SameSite = http.SameSiteNoneMode }), nil, ""},
		{"max age one second", mod("sid", func(t *Template) { t.MaxAge = time.Second }), nil, ""},
		{"max age limit", mod("sid", func(t *Template) { t.MaxAge = MaxAgeLimit }), nil, ""},
		{"expires", mod("sid", func(t *Template) { t.Expires = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC) }), nil, ""},
		{"expires in the past", mod("sid", func(t *Template) { t.Expires = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC) }), nil, ""},
		{"expires just under 400 days", mod("sid", func(t *Template) { t.Expires = time.Now().Add(MaxAgeLimit - time.Hour) }), nil, ""},
		{"domain", mod("sid", func(t *Template) { t.Domain = "a-1.Example.COM" }), nil, ""},
		{"ipv4 domain", mod("sid", func(t *Template) { t.Domain = "192.0.2.1" }), nil, ""},
		{"token punctuation", New("!#$%&'*+-.^_`|~"), nil, ""},

		// Name.
		{"empty name", New(""), ErrInvalidName, "empty"},
		{"name with space", New("a b"), ErrInvalidName, "offset 1"},
		{"name with equals", New("a=b"), ErrInvalidName, "offset 1"},
		{"name with semicolon", New("a;b"), ErrInvalidName, "offset 1"},
		{"name with comma", New("a,b"), ErrInvalidName, "offset 1"},
		{"name with quote", New(`a"`), ErrInvalidName, "offset 1"},
		{"name with control", New("a\x00"), ErrInvalidName, "offset 1"},
		{"name with DEL", New("a\x7f"), ErrInvalidName, "offset 1"},
		{"name non-ASCII", New("sés"), ErrInvalidName, "offset 1"},

		// Path.
		{"empty path", mod("sid", func(t *Template) { t.Path = "" }), ErrInvalidAttribute, "Path is empty"},
		{"relative path", mod("sid", func(t *Template) { t.Path = "app" }), ErrInvalidAttribute, "does not start with /"},
		{"path with semicolon", mod("sid", func(t *Template) { t.Path = "/a;Domain=evil.com" }), ErrInvalidAttribute, "Path has byte 0x3b"},
		{"path with control", mod("sid", func(t *Template) { t.Path = "/a\r\nX: y" }), ErrInvalidAttribute, "Path has byte 0xd"},
		{"path non-ASCII", mod("sid", func(t *Template) { t.Path = "/é" }), ErrInvalidAttribute, "Path has byte 0xc3"},
		{"path too long", mod("sid", func(t *Template) { t.Path = "/" + strings.Repeat("a", 1024) }), ErrInvalidAttribute, "over 1024"},

		// Domain.
		{"domain leading dot", mod("sid", func(t *Template) { t.Domain = ".example.com" }), ErrInvalidAttribute, "dot"},
		{"domain trailing dot", mod("sid", func(t *Template) { t.Domain = "example.com." }), ErrInvalidAttribute, "dot"},
		{"domain empty label", mod("sid", func(t *Template) { t.Domain = "a..com" }), ErrInvalidAttribute, "invalid label"},
		{"domain hyphen label", mod("sid", func(t *Template) { t.Domain = "-a.com" }), ErrInvalidAttribute, "invalid label"},
		{"domain long label", mod("sid", func(t *Template) { t.Domain = strings.Repeat("a", 64) + ".com" }), ErrInvalidAttribute, "invalid label"},
		{"domain too long", mod("sid", func(t *Template) { t.Domain = strings.Repeat("a.", 127) + "com" }), ErrInvalidAttribute, "over 253"},
		{"domain underscore", mod("sid", func(t *Template) { t.Domain = "a_b.com" }), ErrInvalidAttribute, "byte 0x5f"},
		{"domain injection", mod("sid", func(t *Template) { t.Domain = "a.com; Path=/x" }), ErrInvalidAttribute, "Domain"},
		{"domain ipv6", mod("sid", func(t *Template) { t.Domain = "::1" }), ErrInvalidAttribute, "Domain"},

		// Lifetime.
		{"negative max age", mod("sid", func(t *Template) { t.MaxAge = -time.Second }), ErrInvalidAttribute, "negative"},
		{"sub-second max age", mod("sid", func(t *Template) { t.MaxAge = 500 * time.Millisecond }), ErrInvalidAttribute, "under one second"},
		{"max age over limit", mod("sid", func(t *Template) { t.MaxAge = MaxAgeLimit + time.Second }), ErrInvalidAttribute, "400-day"},
		{"max age and expires", mod("sid", func(t *Template) { t.MaxAge = time.Hour; t.Expires = time.Now() }), ErrInvalidAttribute, "both"},
		{"expires year 1600", mod("sid", func(t *Template) { t.Expires = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }), ErrInvalidAttribute, "1601"},
		{"expires year 10000", mod("sid", func(t *Template) { t.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), ErrInvalidAttribute, "1601"},
		{"expires over 400 days", mod("sid", func(t *Template) { t.Expires = time.Now().Add(MaxAgeLimit + time.Hour) }), ErrInvalidAttribute, "400-day"},

		// SameSite.
		{"samesite unset", mod("sid", func(t *Template) { t.SameSite = 0 }), ErrInvalidAttribute, "SameSite"},
		{"samesite default mode", mod("sid", func(t *Template) { t.SameSite = http.SameSiteDefaultMode }), ErrInvalidAttribute, "SameSite"},
		{"samesite unknown", mod("sid", func(t *Template) { t.SameSite = 99 }), ErrInvalidAttribute, "SameSite"},

		// Weakenings without opt-in.
		{"secure off", mod("sid", func(t *Template) { t.Secure = false }), ErrInsecure, "InsecureAllowHTTP"},
		{"httponly off", mod("sid", func(t *Template) { t.HttpOnly = false }), ErrInsecure, "AllowScriptAccess"},
		{"samesite none without secure", mod("sid", func(t *Template) { httpOK(t); t.SameSite = http.SameSiteNoneMode }), ErrInsecure, "SameSite=None requires Secure"},
		{"partitioned without secure", mod("sid", func(t *Template) { httpOK(t); t.Partitioned = true }), ErrInsecure, "Partitioned requires Secure"},
		{"literal with safe-looking fields", Template{Name: "sid", Path: "/", SameSite: http.SameSiteLaxMode}, ErrInsecure, "Secure is off"},
		{"literal with secure only", Template{Name: "sid", Path: "/", SameSite: http.SameSiteLaxMode, Secure: true}, ErrInsecure, "HttpOnly is off"},
		{"zero template", Template{}, ErrInvalidName, "empty"},

		// Prefixes.
		{"host without secure", mod("__Host-sid", httpOK), ErrPrefix, "must be Secure"},
		{"host with path", mod("__Host-sid", func(t *Template) { t.Path = "/app" }), ErrPrefix, "Path=/"},
		{"host with domain", mod("__Host-sid", func(t *Template) { t.Domain = "example.com" }), ErrPrefix, "Domain"},
		{"host prefix any case", mod("__hOsT-sid", func(t *Template) { t.Domain = "example.com" }), ErrPrefix, "Domain"},
		{"secure without secure", mod("__Secure-sid", httpOK), ErrPrefix, "__Secure-"},
		{"secure prefix any case", mod("__SECURE-sid", httpOK), ErrPrefix, "__Secure-"},
		{"http without httponly", mod("__Http-sid", func(t *Template) { t.HttpOnly = false; t.AllowScriptAccess = true }), ErrPrefix, "HttpOnly"},
		{"host-http without httponly", mod("__Host-Http-sid", func(t *Template) { t.HttpOnly = false; t.AllowScriptAccess = true }), ErrPrefix, "HttpOnly"},
		{"http without secure", mod("__http-sid", httpOK), ErrPrefix, "Secure"},
	}
	sentinels := []error{ErrInvalidName, ErrInvalidAttribute, ErrInsecure, ErrPrefix}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for method, err := range methodErrors(tt.tpl) {
				if tt.wantErr == nil {
					if err != nil {
						t.Errorf("%s: unexpected error %v", method, err)
					}
					continue
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: error %v, want %v", method, err, tt.wantErr)
					continue
				}
				for _, s := range sentinels {
					if s != tt.wantErr && errors.Is(err, s) {
						t.Errorf("%s: error %v also matches %v", method, err, s)
					}
				}
				if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "cookie: ") {
					t.Errorf("%s: error %q, want a \"cookie: \" message containing %q", method, err, tt.wantMsg)
				}
			}
		})
	}
}

func TestBuild(t *testing.T) {
	mod := func(f func(*Template)) Template {
		tpl := New("sid")
		f(&tpl)
		return tpl
	}
	tests := []struct {
		name  string
		tpl   Template
		value string
		want  string
	}{
		{"defaults", New("sid"), "abc", "sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"},
		{"empty value", New("sid"), "", "sid=; Path=/; Secure; HttpOnly; SameSite=Lax"},
		{"every octet class", New("sid"), "!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~", "sid=!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~; Path=/; Secure; HttpOnly; SameSite=Lax"},
		{"max age", mod(func(t *Template) { t.MaxAge = 90*time.Minute + 999*time.Millisecond }), "v", "sid=v; Path=/; Max-Age=5400; Secure; HttpOnly; SameSite=Lax"},
		{"expires", mod(func(t *Template) {
			t.Expires = time.Date(2027, 1, 2, 4, 4, 5, 0, time.FixedZone("X", 3600))
		}), "v", "sid=v; Path=/; Expires=Sat, 02 Jan 2027 03:04:05 GMT; Secure; HttpOnly; SameSite=Lax"},
		{"everything", mod(func(t *Template) {
			t.Path = "/app"
			t.Domain = "example.com"
			t.MaxAge = time.Hour
			t.SameSite = http.SameSiteNoneMode
			t.Partitioned = true
		}), "v", "sid=v; Path=/app; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned"},
		{"strict", mod(func(t *Template) { t.SameSite = http.SameSiteStrictMode }), "v", "sid=v; Path=/; Secure; HttpOnly; SameSite=Strict"},
		{"plain http and scripts", mod(func(t *Template) {
			t.Secure, t.InsecureAllowHTTP = false, true
			t.HttpOnly, t.AllowScriptAccess = false, true
		}), "v", "sid=v; Path=/; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tpl.Build(tt.value)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Build =\n%s\nwant\n%s", got, tt.want)
			}
			// The standard library must read back exactly what was meant.
			c, err := http.ParseSetCookie(got)
			if err != nil {
				t.Fatalf("ParseSetCookie: %v", err)
			}
			if c.Name != tt.tpl.Name || c.Value != tt.value || c.Path != tt.tpl.Path || c.Domain != tt.tpl.Domain ||
				c.Secure != tt.tpl.Secure || c.HttpOnly != tt.tpl.HttpOnly || c.SameSite != tt.tpl.SameSite ||
				c.Partitioned != tt.tpl.Partitioned || c.MaxAge != int(tt.tpl.MaxAge/time.Second) || !c.Expires.Equal(tt.tpl.Expires) {
				t.Fatalf("ParseSetCookie = %+v, template %+v", c, tt.tpl)
			}
		})
	}
}

func TestBuildInvalidValue(t *testing.T) {
	for _, v := range []string{"a b", `a"b`, `"ab"`, "a,b", "a;b", `a\b`, "a\x7f", "a\x00", "a\tb", "a\r\nSet-Cookie: x=y", "é"} {
		t.Run(v, func(t *testing.T) {
			_, err := New("sid").Build(v)
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Build(%q) error %v, want ErrInvalidValue", v, err)
			}
			if strings.Contains(err.Error(), v) {
				t.Fatalf("error %q repeats the value", err)
			}
			rec := httptest.NewRecorder()
			if err := New("sid").Set(rec, v); !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Set(%q) error %v, want ErrInvalidValue", v, err)
			}
			if h := rec.Header().Values("Set-Cookie"); len(h) != 0 {
				t.Fatalf("Set wrote %q despite the error", h)
			}
		})
	}
}

func TestBuildLength(t *testing.T) {
	tpl := New("__Host-sid")
	tpl.MaxAge = 24 * time.Hour
	base, err := tpl.Build("")
	if err != nil {
		t.Fatal(err)
	}
	room := MaxLine - len(base)
	for _, tt := range []struct {
		name   string
		n      int
		tooBig bool
	}{
		{"exactly MaxLine", room, false},
		{"one byte over", room + 1, true},
		{"10 KB", 10 << 10, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			line, err := tpl.Build(strings.Repeat("v", tt.n))
			if tt.tooBig {
				if !errors.Is(err, ErrTooLong) {
					t.Fatalf("error %v, want ErrTooLong", err)
				}
				rec := httptest.NewRecorder()
				if err := tpl.Set(rec, strings.Repeat("v", tt.n)); !errors.Is(err, ErrTooLong) || len(rec.Header()) != 0 {
					t.Fatalf("Set: error %v, header %v", err, rec.Header())
				}
				return
			}
			if err != nil || len(line) != MaxLine {
				t.Fatalf("Build: %d bytes, error %v; want %d bytes", len(line), err, MaxLine)
			}
		})
	}
}

func TestSetAndDelete(t *testing.T) {
	tests := []struct {
		name       string
		tpl        Template
		wantSet    string
		wantDelete string
	}{
		{
			"defaults", New("__Host-sid"),
			"__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax",
			"__Host-sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax",
		},
		{
			"domain, path, partitioned, max age",
			Template{Name: "sid", Path: "/app", Domain: "example.com", MaxAge: time.Hour, Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode, Partitioned: true},
			"sid=abc; Path=/app; Domain=example.com; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned",
			"sid=; Path=/app; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=None; Partitioned",
		},
		{
			"expires is not repeated on delete",
			Template{Name: "sid", Path: "/", Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), InsecureAllowHTTP: true, HttpOnly: true, SameSite: http.SameSiteStrictMode},
			"sid=abc; Path=/; Expires=Fri, 01 Jan 2027 00:00:00 GMT; HttpOnly; SameSite=Strict",
			"sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tt.tpl.Set(rec, "abc"); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := tt.tpl.Delete(rec); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			got := rec.Header().Values("Set-Cookie")
			if len(got) != 2 || got[0] != tt.wantSet || got[1] != tt.wantDelete {
				t.Fatalf("Set-Cookie =\n%q\nwant\n%q", got, []string{tt.wantSet, tt.wantDelete})
			}
		})
	}
}

// TestDeleteDropsCookie checks with net/http/cookiejar that the deletion line
// removes the cookie the Set line stored.
func TestDeleteDropsCookie(t *testing.T) {
	tpl := New("sid")
	tpl.Path = "/app"
	tpl.Domain = "example.com"
	tpl.MaxAge = time.Hour
	u, _ := url.Parse("https://www.example.com/app/page")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(f func(http.ResponseWriter) error) {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := f(rec); err != nil {
			t.Fatal(err)
		}
		jar.SetCookies(u, rec.Result().Cookies())
	}
	apply(func(w http.ResponseWriter) error { return tpl.Set(w, "abc") })
	if got := jar.Cookies(u); len(got) != 1 || got[0].Name != "sid" || got[0].Value != "abc" {
		t.Fatalf("after Set the jar holds %v", got)
	}
	apply(tpl.Delete)
	if got := jar.Cookies(u); len(got) != 0 {
		t.Fatalf("after Delete the jar still holds %v", got)
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // Cookie header lines
		want    string
		wantErr error
	}{
		{"no header", nil, "", ErrNotFound},
		{"empty header", []string{""}, "", ErrNotFound},
		{"other cookies", []string{"a=1; b=2"}, "", ErrNotFound},
		{"only", []string{"sid=abc"}, "abc", nil},
		{"among others", []string{"a=1; sid=abc; b=2"}, "abc", nil},
		{"second line", []string{"a=1", "sid=abc"}, "abc", nil},
		{"whitespace", []string{" a=1 ;\t sid = abc ; b=2"}, "abc", nil},
		{"empty value", []string{"sid="}, "", nil},
		{"quoted value", []string{`sid="abc"`}, "abc", nil},
		{"stray semicolons", []string{";;; sid=abc;;"}, "abc", nil},
		{"value with equals", []string{"sid=a=b"}, "a=b", nil},
		{"case differs", []string{"SID=abc"}, "", ErrNotFound},
		{"prefix of name", []string{"sidx=abc; xsid=abc"}, "", ErrNotFound},
		{"nameless cookie", []string{"sid"}, "", ErrNotFound},
		{"duplicate", []string{"sid=abc; sid=def"}, "", ErrDuplicate},
		{"duplicate same value", []string{"sid=abc; sid=abc"}, "", ErrDuplicate},
		{"duplicate across lines", []string{"sid=abc", "sid=def"}, "", ErrDuplicate},
		{"duplicate with whitespace", []string{"sid=abc;  sid =def"}, "", ErrDuplicate},
		{"duplicate, one empty", []string{"sid=; sid=abc"}, "", ErrDuplicate},
		{"duplicate, one invalid", []string{"sid=abc; sid=a b"}, "", ErrDuplicate},
		{"space inside value", []string{"sid=a b"}, "", ErrInvalidValue},
		{"comma in value", []string{"sid=a,b"}, "", ErrInvalidValue},
		{"backslash in value", []string{`sid=a\b`}, "", ErrInvalidValue},
		{"lone quote", []string{`sid="abc`}, "", ErrInvalidValue},
		{"control in value", []string{"sid=a\x01b"}, "", ErrInvalidValue},
		{"non-ASCII value", []string{"sid=é"}, "", ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				req.Header.Add("Cookie", h)
			}
			got, err := New("sid").Read(req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("Read = %q, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestSetThenRead round-trips a value through a real server and client.
func TestSetThenRead(t *testing.T) {
	tpl := New("__Host-sid")
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := tpl.Set(w, "v1"); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		v, err := tpl.Read(r)
		if err != nil {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(v))
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	client := srv.Client()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client.Jar = jar
	for _, path := range []string{"/set", "/read"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		if path == "/read" && string(body) != "v1" {
			t.Fatalf("read %q, want v1", body)
		}
	}
}
