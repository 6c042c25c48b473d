package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/store"
)

func TestIssueVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t, mustKeySet(t, testKey(t, alg)), nil)
			f.clk.Set(t0.Add(123 * time.Millisecond))
			auth := t0.Add(-time.Hour)
			is, err := f.iss.Issue(Grant{Subject: "alice", Scopes: []string{"read", "write"}, AuthTime: auth, FamilyID: "fam"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.ver.Verify(context.Background(), is.Token)
			if err != nil {
				t.Fatal(err)
			}
			want := &Claims{
				Issuer:    testIssuer,
				Subject:   "alice",
				Audience:  []string{testAudience},
				ExpiresAt: t0.Add(DefaultLifetime),
				IssuedAt:  t0.Add(123 * time.Millisecond),
				AuthTime:  auth,
				ID:        is.ID,
				Scopes:    []string{"read", "write"},
				FamilyID:  "fam",
				KeyID:     testKey(t, alg).ID(),
			}
			if diff := cmp.Diff(want, c); diff != "" {
				t.Fatalf("claims (-want +got):\n%s", diff)
			}
			if !is.ExpiresAt.Equal(c.ExpiresAt) || !is.IssuedAt.Equal(c.IssuedAt) || is.KeyID != c.KeyID {
				t.Fatalf("Issued %+v does not match the claims", is)
			}
			// The header is exactly alg, kid, typ.
			h, _ := b64.DecodeString(strings.Split(is.Token, ".")[0])
			wantHdr := `{"alg":"` + string(alg) + `","kid":"` + c.KeyID + `","typ":"at+jwt"}`
			if string(h) != wantHdr {
				t.Fatalf("header %s, want %s", h, wantHdr)
			}
		})
	}
}

func TestIssuedPayload(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	f.clk.Set(t0.Add(120 * time.Millisecond))
	is := f.issue(t, Grant{Subject: `a"b\c`, Lifetime: 90 * time.Second})
	p, _ := b64.DecodeString(strings.Split(is.Token, ".")[1])
	want := `{"iss":"https://issuer.example","sub":"a\"b\\c","aud":"https://api.example","exp":1800000090,"iat":1800000000.12,"jti":"` + is.ID + `"}`
	if string(p) != want {
		t.Fatalf("payload\n%s\nwant\n%s", p, want)
	}
	if len(is.ID) != jtiLen {
		t.Fatalf("jti %q", is.ID)
	}
	if other := f.issue(t, Grant{}); other.ID == is.ID {
		t.Fatal("jti repeated")
	}
	// Several audiences make an array.
	iss := NewIssuer(f.keys, IssuerConfig{Audience: []string{"a", "b"}, Type: "application/custom+jwt", Now: f.clk.Now})
	is2, err := iss.Issue(Grant{Subject: "s"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = b64.DecodeString(strings.Split(is2.Token, ".")[1])
	h, _ := b64.DecodeString(strings.Split(is2.Token, ".")[0])
	if !strings.HasPrefix(string(p), `{"sub":"s","aud":["a","b"],`) || !strings.HasSuffix(string(h), `"typ":"application/custom+jwt"}`) {
		t.Fatalf("payload %s header %s", p, h)
	}
}

func TestIssueErrors(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	for name, g := range map[string]Grant{
		"no subject":        {},
		"invalid UTF-8":     {Subject: "\xff"},
		"negative Lifetime": {Subject: "s", Lifetime: -time.Second},
		"Lifetime under 1s": {Subject: "s", Lifetime: time.Millisecond},
		"scope with space":  {Subject: "s", Scopes: []string{"a b"}},
		"empty scope":       {Subject: "s", Scopes: []string{""}},
		"scope with quote":  {Subject: "s", Scopes: []string{`a"`}},
		"fid not UTF-8":     {Subject: "s", FamilyID: "\xfe"},
		"auth_time 1969":    {Subject: "s", AuthTime: time.Unix(-5, 0)},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.iss.Issue(g); !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("Issue = %v", err)
			}
		})
	}
}

type customClaims struct {
	Role   string `json:"role"`
	Tenant string `json:"tenant,omitempty"`
	Level  int    `json:"level"`
}

func TestCustomClaims(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), nil)
	ctx := context.Background()
	is, err := IssueClaims(f.iss, Grant{Subject: "bob"}, customClaims{Role: "admin", Level: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // first-seen, then cached
		c, cc, err := VerifyClaims[customClaims](ctx, f.ver, is.Token)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != "bob" || cc != (customClaims{Role: "admin", Level: 3}) {
			t.Fatalf("claims %+v custom %+v", c, cc)
		}
	}
	// A map works both ways, and is never shared between calls.
	is2, err := IssueClaims(f.iss, Grant{Subject: "bob"}, map[string]any{"role": "user", "tags": []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	_, m1, err := VerifyClaims[map[string]any](ctx, f.ver, is2.Token)
	if err != nil {
		t.Fatal(err)
	}
	m1["role"] = "changed"
	_, m2, _ := VerifyClaims[map[string]any](ctx, f.ver, is2.Token)
	if m2["role"] != "user" || m2["sub"] != "bob" {
		t.Fatalf("second decode %v", m2)
	}
	// The same token, decoded as another type.
	_, cc, err := VerifyClaims[customClaims](ctx, f.ver, is2.Token)
	if err != nil || cc.Role != "user" {
		t.Fatalf("%+v %v", cc, err)
	}
	// Claims that do not fit the type.
	type wrong struct {
		Role int `json:"role"`
	}
	if _, _, err := VerifyClaims[wrong](ctx, f.ver, is2.Token); !errors.Is(err, ErrMalformed) || !errors.Is(err, authkit.ErrInvalidCredentials) {
		t.Fatalf("type mismatch: %v", err)
	}
	// Nil and empty custom claims add nothing.
	for _, v := range []any{nil, map[string]any{}, struct{}{}} {
		is, err := IssueClaims(f.iss, Grant{Subject: "s"}, v)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := b64.DecodeString(strings.Split(is.Token, ".")[1])
		if strings.Contains(string(p), ",}") || strings.Contains(string(p), "null") {
			t.Fatalf("payload %s", p)
		}
	}
	// Registered names, in any case, are refused.
	for _, bad := range []any{
		map[string]any{"sub": "admin"},
		map[string]any{"EXP": 1},
		map[string]any{"Scope": "admin"},
		struct {
			Fid string `json:"fid"`
		}{"x"},
		[]string{"not an object"},
		42,
	} {
		if _, err := IssueClaims(f.iss, Grant{Subject: "s"}, bad); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("custom claims %v: %v", bad, err)
		}
	}
	if _, err := IssueClaims(f.iss, Grant{Subject: "s"}, map[string]any{"f": func() {}}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("unencodable claims: %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, mustKeySet(t, testKey(t, ES256)), func(c *Config) { c.IdentityClaims = []string{"client_id", "jti", "missing"} })
	auth := t0.Add(-time.Hour)
	is, err := IssueClaims(f.iss, Grant{Subject: "carol", Scopes: []string{"a", "b"}, AuthTime: auth}, map[string]string{"client_id": "cli"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+is.Token)
	for i := range 2 {
		id, err := f.ver.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		want := &authkit.Identity{
			Subject:  "carol",
			Method:   "jwt",
			Scopes:   []string{"a", "b"},
			AuthTime: auth,
			Expires:  is.ExpiresAt,
			Claims:   map[string]any{"client_id": "cli", "jti": is.ID},
		}
		if diff := cmp.Diff(want, id); diff != "" {
			t.Fatalf("call %d: identity (-want +got):\n%s", i, diff)
		}
		// The caller owns its copy.
		id.Claims["client_id"] = "changed"
		id.Scopes = append(id.Scopes, "admin")
	}

	// Without auth_time, AuthTime is iat.
	is2 := f.issue(t, Grant{Subject: "dave"})
	r.Header.Set("Authorization", "Bearer "+is2.Token)
	id, err := f.ver.Authenticate(r)
	if err != nil || !id.AuthTime.Equal(is2.IssuedAt) {
		t.Fatalf("%+v %v", id, err)
	}

	for name, c := range map[string]struct {
		header string
		want   error
	}{
		"no header":                 {"", authkit.ErrNoCredentials},
		"Basic":                     {"Basic dXNlcjpwYXNz", authkit.ErrNoCredentials},
		"opaque token":              {"Bearer ak_live_0123456789abcdefghijABCDEFGHIJ012345", authkit.ErrNoCredentials},
		"two segments":              {"Bearer abc.def", authkit.ErrNoCredentials},
		"four segments":             {"Bearer a.b.c.d", authkit.ErrNoCredentials},
		"JWT-shaped garbage":        {"Bearer abc.def.ghi", authkit.ErrInvalidCredentials},
		"bad Authorization":         {"Bearer a b", authkit.ErrInvalidRequest},
		"oversized JWT-shaped blob": {"Bearer " + strings.Repeat("a", 9000) + ".b.c", authkit.ErrInvalidCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			if _, err := f.ver.Authenticate(r); !errors.Is(err, c.want) {
				t.Fatalf("Authenticate = %v, want %v", err, c.want)
			}
		})
	}
}

// failingStore fails every call.
type failingStore struct{ store.Store }

var errDown = errors.New("store down")

func (failingStore) Get(context.Context, string) ([]byte, error) { return nil, errDown }
func (failingStore) CompareAndSwap(context.Context, string, []byte, []byte, time.Time) (bool, error) {
	return false, errDown
}

func TestStoreFailureIsNotAVerdict(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	clk := newClock()
	iss := NewIssuer(ks, IssuerConfig{Now: clk.Now})
	v := NewVerifier(ks, Config{Store: failingStore{}, Now: clk.Now})
	is, _ := iss.Issue(Grant{Subject: "s"})
	for i := range 2 {
		_, err := v.Verify(context.Background(), is.Token)
		if !errors.Is(err, errDown) || errors.Is(err, authkit.ErrInvalidCredentials) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Through a Guard: 503, never 401.
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+is.Token)
	g := &authkit.Guard{Logger: discardLogger()}
	g.Require(v)(nil).ServeHTTP(rec, r)
	if rec.Code != 503 {
		t.Fatalf("status %d", rec.Code)
	}
	if err := v.RevokeSubject(context.Background(), "s"); !errors.Is(err, errDown) {
		t.Fatalf("RevokeSubject: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestTimeBoundaries(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	sign := withKey(t, testKey(t, HS256))
	kid := testKey(t, HS256).ID()
	tok := func(mod map[string]any) string { return forge(hdr("HS256", kid), claimsJSON(mod), sign) }
	cases := []struct {
		name   string
		leeway time.Duration
		token  string
		now    time.Time
		want   error
	}{
		{"exp one ms ahead", 0, tok(nil), t0.Add(10*time.Minute - time.Millisecond), nil},
		{"exp reached", 0, tok(nil), t0.Add(10 * time.Minute), ErrExpired},
		{"exp within leeway", 30 * time.Second, tok(nil), t0.Add(10*time.Minute + 29*time.Second), nil},
		{"exp at leeway", 30 * time.Second, tok(nil), t0.Add(10*time.Minute + 30*time.Second), ErrExpired},
		{"nbf reached", 0, tok(map[string]any{"nbf": t0.Add(time.Minute).Unix()}), t0.Add(time.Minute), nil},
		{"nbf within leeway", 30 * time.Second, tok(map[string]any{"nbf": t0.Add(time.Minute).Unix()}), t0.Add(30 * time.Second), nil},
		{"nbf beyond leeway", 30 * time.Second, tok(map[string]any{"nbf": t0.Add(time.Minute).Unix()}), t0.Add(29 * time.Second), ErrNotYetValid},
		{"iat within leeway", 5 * time.Second, tok(nil), t0.Add(-5 * time.Second), nil},
		{"iat beyond leeway", 5 * time.Second, tok(nil), t0.Add(-5*time.Second - time.Millisecond), ErrNotYetValid},
		{"fractional exp", 0, tok(map[string]any{"exp": json.Number("1800000600.5")}), t0.Add(10*time.Minute + 499*time.Millisecond), nil},
		{"fractional exp reached", 0, tok(map[string]any{"exp": json.Number("1800000600.5")}), t0.Add(10*time.Minute + 500*time.Millisecond), ErrExpired},
		{"exponent exp", 0, tok(map[string]any{"exp": json.Number("1.8000006e9")}), t0.Add(time.Minute), nil},
		{"lifetime at the maximum", 0, tok(map[string]any{"exp": t0.Add(24 * time.Hour).Unix()}), t0, nil},
		{"lifetime one second over", 0, tok(map[string]any{"exp": t0.Add(24*time.Hour + time.Second).Unix()}), t0, ErrInvalidClaims},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			clk.Set(c.now)
			v := NewVerifier(ks, Config{Issuer: testIssuer, Audience: testAudience, Leeway: c.leeway, InsecureDisableRevocation: true, Now: clk.Now, CacheSize: -1})
			_, err := v.Verify(context.Background(), c.token)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	k := testKey(t, HS256)
	ks := mustKeySet(t, k)
	sign := withKey(t, k)
	tok := func(typ string) string {
		h := `{"alg":"HS256","kid":"` + k.ID() + `"` + typ + `}`
		return forge(h, claimsJSON(nil), sign)
	}
	cases := []struct {
		types []string
		typ   string
		ok    bool
	}{
		{nil, `,"typ":"at+jwt"`, true},
		{nil, `,"typ":"AT+JWT"`, true},
		{nil, `,"typ":"application/at+jwt"`, true},
		{nil, `,"typ":"Application/At+Jwt"`, true},
		{nil, `,"typ":"JWT"`, false},
		{nil, ``, false},
		{nil, `,"typ":7`, false},
		{[]string{"JWT", ""}, ``, true},
		{[]string{"JWT", ""}, `,"typ":"jwt"`, true},
		{[]string{"JWT", ""}, `,"typ":"at+jwt"`, false},
		{[]string{"application/logout+jwt"}, `,"typ":"logout+jwt"`, true},
	}
	for _, c := range cases {
		clk := newClock()
		v := NewVerifier(ks, Config{Types: c.types, InsecureDisableRevocation: true, Now: clk.Now})
		_, err := v.Verify(context.Background(), tok(c.typ))
		if c.ok != (err == nil) {
			t.Errorf("types %q, header typ %q: %v", c.types, c.typ, err)
		}
	}
}

func TestConfigPanics(t *testing.T) {
	ks := mustKeySet(t, testKey(t, HS256))
	m := newMemory(t)
	for name, cfg := range map[string]Config{
		"negative leeway":      {Store: m, Leeway: -time.Second},
		"leeway over 5 min":    {Store: m, Leeway: MaxLeeway + time.Second},
		"negative lifetime":    {Store: m, MaxLifetime: -1},
		"negative size":        {Store: m, MaxTokenSize: -1},
		"size over the max":    {Store: m, MaxTokenSize: MaxMaxTokenSize + 1},
		"negative revocations": {Store: m, MaxRevocations: -1},
		"no store":             {},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			NewVerifier(ks, cfg)
		})
	}
	t.Run("nil key set", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		NewVerifier((*KeySet)(nil), Config{InsecureDisableRevocation: true})
	})
	t.Run("leeway of exactly 5 minutes", func(t *testing.T) {
		NewVerifier(ks, Config{Store: m, Leeway: MaxLeeway})
	})
}

// Keys this process does not sign with — a remote key set, a key set of
// public keys — may sign tokens for other applications: a Verifier of them
// requires an issuer and an audience, unless told otherwise by name.
func TestForeignKeysNeedIssuerAndAudience(t *testing.T) {
	srv := newJWKSServer(t, jwksOf(t, testKey(t, ES256).Public()))
	remote, err := NewRemoteKeySet(srv.srv.URL, RemoteConfig{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	public := mustKeySet(t, nil, testKey(t, ES256).Public())
	own := mustKeySet(t, testKey(t, ES256))
	for _, c := range []struct {
		name string
		keys KeySource
		cfg  Config
		ok   bool
	}{
		{"remote, zero config", remote, Config{}, false},
		{"remote, no audience", remote, Config{Issuer: testIssuer}, false},
		{"remote, no issuer", remote, Config{Audience: testAudience}, false},
		{"remote, both", remote, Config{Issuer: testIssuer, Audience: testAudience}, true},
		{"remote, any audience by name", remote, Config{Issuer: testIssuer, InsecureAnyAudience: true}, true},
		{"remote, any issuer by name", remote, Config{Audience: testAudience, InsecureAnyIssuer: true}, true},
		{"public keys, zero config", public, Config{}, false},
		{"public keys, both", public, Config{Issuer: testIssuer, Audience: testAudience}, true},
		{"own signing keys, zero config", own, Config{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.InsecureDisableRevocation = true
			defer func() {
				if r := recover(); (r == nil) != c.ok {
					t.Fatalf("panic %v, want ok %v", r, c.ok)
				}
			}()
			NewVerifier(c.keys, c.cfg)
		})
	}
}

func TestEvents(t *testing.T) {
	var mu sync.Mutex
	var events []authkit.Event
	f := newFixture(t, mustKeySet(t, testKey(t, HS256)), func(c *Config) {
		c.Events = func(_ context.Context, e authkit.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	ctx := context.Background()
	is := f.issue(t, Grant{Subject: "erin"})
	if _, err := f.ver.Verify(ctx, is.Token+"x"); err == nil {
		t.Fatal("accepted")
	}
	if err := f.ver.RevokeSubject(ctx, "erin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(ctx, is.Token); !errors.Is(err, ErrRevoked) {
		t.Fatal(err)
	}
	want := []authkit.Event{
		{Type: authkit.EventRejected, Time: t0, Method: "jwt", Reason: "signature"},
		{Type: authkit.EventRevoke, Time: t0, Method: "jwt", Subject: "erin", Reason: "subject"},
		{Type: authkit.EventRejected, Time: t0, Method: "jwt", Subject: "erin", Reason: "revoked"},
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	for _, e := range events {
		if strings.Contains(e.Reason, is.Token[:10]) {
			t.Fatal("token in an event")
		}
	}
}

// The verifier remembers the last header it parsed; a token whose header
// differs in any byte, even one naming the same key, is decoded and checked
// afresh, and a header that failed is never remembered.
func TestHeaderMemoChecksEveryOtherHeader(t *testing.T) {
	k := testKey(t, HS256)
	f := newFixture(t, mustKeySet(t, k), func(c *Config) { c.CacheSize = -1 })
	ctx := context.Background()
	good := f.issue(t, Grant{Subject: "alice"}).Token
	if _, err := f.ver.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	hdr, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	sign := withKey(t, k)
	for name, tc := range map[string]struct {
		header string
		want   error
	}{
		"other kid":   {`{"alg":"HS256","kid":"nobody","typ":"JWT"}`, ErrUnknownKey},
		"alg none":    {`{"alg":"none","kid":"` + k.ID() + `","typ":"JWT"}`, ErrAlgorithm},
		"crit":        {`{"alg":"HS256","kid":"` + k.ID() + `","typ":"JWT","crit":["exp"]}`, ErrUnsupported},
		"bad JSON":    {`{"alg":"HS256","kid":"` + k.ID() + `",}`, ErrMalformed},
		"no typ":      {`{"alg":"HS256","kid":"` + k.ID() + `"}`, ErrInvalidClaims},
		"duplicate":   {`{"alg":"HS256","alg":"HS256","kid":"` + k.ID() + `","typ":"JWT"}`, ErrMalformed},
		"trailing ws": {string(hdr) + " ", nil},
	} {
		t.Run(name, func(t *testing.T) {
			tok := forge(tc.header, string(raw), sign)
			// Twice: the second time, this header may be the one remembered.
			for range 2 {
				_, err := f.ver.Verify(ctx, tok)
				if tc.want == nil && err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %v, want %v", err, tc.want)
				}
			}
			// The genuine token still verifies after it.
			if _, err := f.ver.Verify(ctx, good); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The remembered segment must be compared whole: a segment in
	// non-canonical base64 (padding bits set in the last character) is
	// refused although it decodes to a header that was remembered.
	seg := strings.Split(good, ".")[0]
	if len(seg)%4 == 0 {
		t.Fatalf("header segment %q has no padding bits to set", seg)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	// The last character's lowest bit is a padding bit, zero in canonical
	// form; setting it leaves the decoded bytes as they were.
	alt := seg[:len(seg)-1] + string(alphabet[strings.IndexByte(alphabet, seg[len(seg)-1])|1])
	if alt != seg {
		tok := alt + good[len(seg):]
		if _, err := f.ver.Verify(ctx, tok); !errors.Is(err, ErrMalformed) {
			t.Fatalf("non-canonical header segment: Verify = %v, want ErrMalformed", err)
		}
	}
}
