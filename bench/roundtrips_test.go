package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// Store round trips per operation: each operation of session, token and
// jwt runs once on a store.Memory behind a store that logs every call, and
// TestRoundTrips prints how many calls it made, of which kind, to which
// kind of key. On a networked store (Redis, SQL) every call is one round
// trip, so this is the latency floor of each operation in network hops.
//
// With AUTHKIT_BENCH_ROUNDTRIPS=path the table is also written to path as
// Markdown (run.sh puts it in docs/BENCHMARKS.md).

// callLog is a Store that logs every call: the operation and the key's
// namespace (the key up to and including its first ':').
type callLog struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (s *callLog) log(op, key string) {
	ns := key
	if i := strings.IndexByte(key, ':'); i >= 0 {
		ns = key[:i+1]
	}
	s.mu.Lock()
	s.calls = append(s.calls, op+" "+ns)
	s.mu.Unlock()
}

func (s *callLog) Get(ctx context.Context, key string) ([]byte, error) {
	s.log("get", key)
	return s.Store.Get(ctx, key)
}

func (s *callLog) Set(ctx context.Context, key string, v []byte, exp time.Time) error {
	s.log("set", key)
	return s.Store.Set(ctx, key, v, exp)
}

func (s *callLog) Delete(ctx context.Context, key string) error {
	s.log("del", key)
	return s.Store.Delete(ctx, key)
}

func (s *callLog) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	s.log("cas", key)
	return s.Store.CompareAndSwap(ctx, key, old, new, exp)
}

// take returns the calls logged since the last take.
func (s *callLog) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

// tripRow is one operation's calls.
type tripRow struct {
	op    string
	calls []string
}

func (r tripRow) reads() (n int) {
	for _, c := range r.calls {
		if strings.HasPrefix(c, "get ") {
			n++
		}
	}
	return n
}

// summary groups consecutive identical calls: "get sess:, 2× cas sidx:".
func (r tripRow) summary() string {
	var parts []string
	for i := 0; i < len(r.calls); {
		j := i
		for j < len(r.calls) && r.calls[j] == r.calls[i] {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%d× %s", j-i, r.calls[i]))
		} else {
			parts = append(parts, r.calls[i])
		}
		i = j
	}
	return strings.Join(parts, ", ")
}

// revokeN is the number of credentials the RevokeSubject rows end.
const revokeN = 5

// tripFixture is the managers under test on one logged store.
type tripFixture struct {
	t        *testing.T
	st       *callLog
	sessions *session.Manager
	tokens   *token.Manager
	jwts     *jwt.Verifier
	issuer   *jwt.Issuer
	rows     []tripRow
}

func newTripFixture(t *testing.T) *tripFixture {
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	f := &tripFixture{t: t, st: &callLog{Store: mem}}
	f.sessions = session.New(f.st, session.Config{IdleTimeout: benchIdle, Lifetime: benchLifetime})
	f.tokens = token.New(f.st, token.Config{})
	key, err := jwt.GenerateKey(jwt.HS256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jwt.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = jwt.NewIssuer(ks, jwt.IssuerConfig{Issuer: jwtIssuer, Audience: []string{jwtAudience}, Lifetime: time.Hour})
	f.jwts = jwt.NewVerifier(ks, jwt.Config{Issuer: jwtIssuer, Audience: jwtAudience, Store: f.st})
	f.tokens.OnFamilyRevoked(func(ctx context.Context, fam token.FamilyInfo) error {
		return f.jwts.RevokeFamily(ctx, fam.Subject, fam.ID)
	})
	return f
}

// count runs op and records the store calls it made under name.
func (f *tripFixture) count(name string, op func() error) {
	f.t.Helper()
	f.st.take()
	if err := op(); err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	f.rows = append(f.rows, tripRow{op: name, calls: f.st.take()})
}

// serve runs h on a request carrying cookie (if any) and returns the
// session cookie the response set ("" if none, "-" if it cleared it).
func (f *tripFixture) serve(h http.Handler, cookie string) (string, error) {
	req := httptest.NewRequest(http.MethodPost, "https://app.example/", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.DefaultCookieName {
			if c.MaxAge < 0 {
				return "-", nil
			}
			return c.Value, nil
		}
	}
	return "", nil
}

// handler wraps op in the session Middleware.
func (f *tripFixture) handler(op func(r *http.Request) error) http.Handler {
	return f.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := op(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		okWrite(w)
	}))
}

// authenticates reports whether the session cookie still authenticates.
func (f *tripFixture) authenticates(cookie string) bool {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: cookie})
	_, err := f.sessions.Authenticate(req)
	if err != nil && !errors.Is(err, authkit.ErrInvalidCredentials) && !errors.Is(err, authkit.ErrNoCredentials) {
		f.t.Fatalf("Authenticate: %v", err)
	}
	return err == nil
}

func (f *tripFixture) sessionRows() {
	t := f.t
	login := func(user string) http.Handler {
		return f.handler(func(r *http.Request) error { return f.sessions.Login(r.Context(), user) })
	}
	n := 0
	setData := f.handler(func(r *http.Request) error {
		n++ // a new value each time, so that every write request writes
		return session.Set(r.Context(), "cart", fmt.Sprintf("%d items", n))
	})
	read := f.handler(func(r *http.Request) error {
		v, err := session.Get[string](r.Context(), "cart")
		if err == nil && v == "" {
			err = errors.New("the session lost its data")
		}
		return err
	})

	var anon, ck string
	var err error
	f.count("session: first write of an anonymous visitor", func() error {
		anon, err = f.serve(setData, "")
		return err
	})
	f.count("session: Login, no session yet", func() error {
		ck, err = f.serve(login("alice"), "")
		return err
	})
	f.count("session: Login over an anonymous session", func() error {
		ck, err = f.serve(login("alice"), anon)
		return err
	})
	if !f.authenticates(ck) || f.authenticates(anon) {
		t.Fatal("after Login the new cookie must authenticate and the old one must not")
	}
	f.count("session: Authenticate (no Middleware)", func() error {
		if !f.authenticates(ck) {
			return errors.New("refused")
		}
		return nil
	})
	f.count("session: read request (Middleware, Get)", func() error { _, err := f.serve(read, ck); return err })
	f.count("session: write request (Middleware, Set)", func() error { _, err := f.serve(setData, ck); return err })
	old := ck
	f.count("session: RenewID", func() error {
		ck, err = f.serve(f.handler(func(r *http.Request) error { return f.sessions.RenewID(r.Context()) }), ck)
		return err
	})
	if !f.authenticates(ck) || f.authenticates(old) {
		t.Fatal("after RenewID the new cookie must authenticate and the old one must not")
	}
	f.count("session: Logout", func() error {
		_, err := f.serve(f.handler(func(r *http.Request) error { return f.sessions.Logout(r.Context()) }), ck)
		return err
	})
	if f.authenticates(ck) {
		t.Fatal("a logged-out session still authenticates")
	}
	var bobs []string
	for range revokeN {
		c, err := f.serve(login("bob"), "")
		if err != nil {
			t.Fatal(err)
		}
		bobs = append(bobs, c)
	}
	f.count(fmt.Sprintf("session: RevokeSubject, %d sessions", revokeN), func() error {
		return f.sessions.RevokeSubject(context.Background(), "bob")
	})
	for _, c := range bobs {
		if f.authenticates(c) {
			t.Fatal("a session survived RevokeSubject")
		}
	}
	f.count("session: RevokeSubject, no session", func() error {
		return f.sessions.RevokeSubject(context.Background(), "bob")
	})
}

func (f *tripFixture) tokenRows() {
	t := f.t
	ctx := context.Background()
	var tok token.Token
	f.count("token: Issue", func() (err error) {
		tok, _, err = f.tokens.Issue(ctx, "carol", token.IssueOptions{})
		return err
	})
	f.count("token: Verify", func() error { _, err := f.tokens.Verify(ctx, tok); return err })
	var rt token.Token
	f.count("token: IssueRefresh", func() (err error) {
		rt, _, err = f.tokens.IssueRefresh(ctx, "carol", token.FamilyOptions{})
		return err
	})
	f.count("token: Refresh", func() (err error) {
		rt, _, err = f.tokens.Refresh(ctx, rt, "")
		return err
	})
	var p token.Pair
	f.count("token: IssuePair", func() (err error) {
		p, err = f.tokens.IssuePair(ctx, "carol", token.FamilyOptions{})
		return err
	})
	prev := p
	f.count("token: RefreshPair", func() (err error) {
		p, err = f.tokens.RefreshPair(ctx, p.Refresh, "")
		return err
	})
	if _, err := f.tokens.Verify(ctx, p.Access); err != nil {
		t.Fatalf("the access token from RefreshPair: %v", err)
	}
	if _, err := f.tokens.Verify(ctx, prev.Access); err == nil {
		// Not asserted by the contract; recorded so the table is read right.
		t.Log("note: RefreshPair leaves the previous access token valid until it expires")
	}
	f.count("token: RevokeToken (access)", func() error { return f.tokens.RevokeToken(ctx, tok) })
	var toks []token.Token
	for range revokeN {
		x, _, err := f.tokens.Issue(ctx, "dave", token.IssueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, x)
	}
	f.count(fmt.Sprintf("token: RevokeSubject, %d access tokens", revokeN), func() error {
		return f.tokens.RevokeSubject(ctx, "dave")
	})
	for _, x := range toks {
		if _, err := f.tokens.Verify(ctx, x); err == nil {
			t.Fatal("a token survived RevokeSubject")
		}
	}
}

func (f *tripFixture) jwtRows() {
	t := f.t
	ctx := context.Background()
	is, err := f.issuer.Issue(jwt.Grant{Subject: "erin"})
	if err != nil {
		t.Fatal(err)
	}
	f.count("jwt: Verify, revocation on, first seen", func() error { _, err := f.jwts.Verify(ctx, is.Token); return err })
	f.count("jwt: Verify, revocation on, cached", func() error { _, err := f.jwts.Verify(ctx, is.Token); return err })
	f.count("jwt: RevokeSubject", func() error { return f.jwts.RevokeSubject(ctx, "erin") })
	if _, err := f.jwts.Verify(ctx, is.Token); err == nil {
		t.Fatal("a JWT survived RevokeSubject")
	}
}

// TestRoundTrips counts the store calls of each operation and prints the
// table; see the comment at the top of this file. It checks that each
// operation did what it says (a revoked credential no longer
// authenticates, a renewed ID replaces the old one) and that loads are
// one read and no write, so the counts describe working operations.
func TestRoundTrips(t *testing.T) {
	f := newTripFixture(t)
	f.sessionRows()
	f.tokenRows()
	f.jwtRows()

	oneRead := map[string]bool{
		"session: Authenticate (no Middleware)":   true,
		"session: read request (Middleware, Get)": true,
		"token: Verify":                          true,
		"jwt: Verify, revocation on, first seen": true,
		"jwt: Verify, revocation on, cached":     true,
	}
	var md strings.Builder
	md.WriteString("| operation | store calls | reads | writes | calls in order |\n|---|---:|---:|---:|---|\n")
	for _, r := range f.rows {
		n, reads := len(r.calls), r.reads()
		if oneRead[r.op] && (n != 1 || reads != 1) {
			t.Errorf("%s: %d calls (%s), want one read", r.op, n, r.summary())
		}
		t.Logf("%-48s %2d  %s", r.op, n, r.summary())
		fmt.Fprintf(&md, "| %s | %d | %d | %d | %s |\n", r.op, n, reads, n-reads, r.summary())
	}
	if p := os.Getenv("AUTHKIT_BENCH_ROUNDTRIPS"); p != "" {
		if err := os.WriteFile(p, []byte(md.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
