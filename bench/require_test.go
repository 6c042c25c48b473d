package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authkit/authkit"
	akjwt "github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/token"
)

// BenchmarkRequire is the in-process cost of authkit.Require(sessions,
// tokens, jwts) per request, without the network: the handler of
// cmd/throughput's /api/me served through httptest, on a store.Memory
// shared by the three mechanisms (JWT HS256, revocation on, so a JWT
// verification reads the store too; its verified-token cache is on, as a
// client sends the same JWT again and again). impl=bare serves the same
// request, credential included, to the handler alone. The difference is
// what the middleware adds to each request; cmd/throughput shows what that
// is next to HTTP itself.
func BenchmarkRequire(b *testing.B) {
	ctx := context.Background()
	st := store.NewMemory(store.MemoryConfig{})
	b.Cleanup(func() { st.Close() })
	sessions := session.New(st, session.Config{IdleTimeout: benchIdle, Lifetime: benchLifetime})
	tokens := token.New(st, token.Config{})
	key, err := akjwt.GenerateKey(akjwt.HS256)
	if err != nil {
		b.Fatal(err)
	}
	ks, err := akjwt.NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	issuer := akjwt.NewIssuer(ks, akjwt.IssuerConfig{Issuer: jwtIssuer, Audience: []string{jwtAudience}, Lifetime: time.Hour})
	jwts := akjwt.NewVerifier(ks, akjwt.Config{Issuer: jwtIssuer, Audience: jwtAudience, Store: st})

	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sinkString = ""
		if id, ok := authkit.IdentityFrom(r.Context()); ok {
			sinkString = id.Subject
		}
		okWrite(w)
	})
	protected := authkit.Require(sessions, tokens, jwts)(me)

	ck := firstCookie(b, sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Login(r.Context(), "user-1"); err != nil {
			b.Error(err)
		}
		okWrite(w)
	})))
	tok, _, err := tokens.Issue(ctx, "user-1", token.IssueOptions{})
	if err != nil {
		b.Fatal(err)
	}
	is, err := issuer.Issue(akjwt.Grant{Subject: "user-1"})
	if err != nil {
		b.Fatal(err)
	}
	creds := []struct {
		name string
		set  func(r *http.Request)
	}{
		{"session", func(r *http.Request) { r.AddCookie(ck) }},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+string(tok)) }},
		{"jwt", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+is.Token) }},
	}
	for _, c := range creds {
		for _, side := range []struct {
			name string
			h    http.Handler
		}{{"authkit", protected}, {"bare", me}} {
			b.Run("cred="+c.name+"/impl="+side.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
					c.set(req)
					rec := httptest.NewRecorder()
					side.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || (side.name == "authkit" && sinkString != "user-1") {
						b.Fatalf("status %d, subject %q", rec.Code, sinkString)
					}
				}
			})
		}
	}
}
