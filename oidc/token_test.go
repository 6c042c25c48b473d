package oidc_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/authkit/authkit/internal/clocktest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/store"
)

// hookStore wraps a Store and reports the Gets of grant records, with the
// request index the test put in the context.
type hookStore struct {
	store.Store
	onGet func(ctx context.Context, key string, val []byte)
}

func (s *hookStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if s.onGet != nil && err == nil && strings.HasPrefix(key, "oidc:grant:") {
		s.onGet(ctx, key, v)
	}
	return v, err
}

// clock is an adjustable offset from the real time.
func refreshGrant(r *http.Request) bool {
	return r.URL.Path == "/oauth/token" && formValue(r, "grant_type") == "refresh_token"
}
func formValue(r *http.Request, k string) string {
	r.ParseForm()
	return r.PostForm.Get(k)
}

// tokenEnv is an env that keeps provider tokens, with a clock to expire
// them, a hook store and a provider middleware.
func tokenEnv(t *testing.T, mw func(http.Handler) http.Handler, hs *hookStore, change ...func(*envConfig)) (*env, *clocktest.Clock) {
	ck := clocktest.FromNow()
	mem := store.NewMemory(store.MemoryConfig{})
	t.Cleanup(func() { mem.Close() })
	hs.Store = mem
	e := newEnv(t, func(c *envConfig) {
		c.idp.Middleware = mw
		c.store = hs
		c.rp.KeepTokens = true
		c.rp.Codec = testCodec(t)
		c.rp.Now = ck.Now
		c.prov = func(p *oidc.Provider) { p.Scopes = []string{"openid", "offline_access"} }
		for _, ch := range change {
			ch(c)
		}
	})
	return e, ck
}

// getToken calls GET /token as b, with request index i.
func (b *browser) getToken(i int) (int, string) {
	req, _ := http.NewRequest("GET", b.e.app.URL+"/token", nil)
	req.Header.Set("X-Index", fmt.Sprint(i))
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

func TestKeepTokens(t *testing.T) {
	var tokenBodies []string
	var mu sync.Mutex
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/oauth/token" {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			mu.Lock()
			tokenBodies = append(tokenBodies, rec.Body.String())
			mu.Unlock()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
	hs := &hookStore{}
	e, _ := tokenEnv(t, mw, hs)
	b := e.browser()
	b.signIn(alice, "/")
	st, access := b.getToken(0)
	if st != http.StatusOK || access == "" {
		t.Fatalf("GET /token: %d %q", st, access)
	}
	if !strings.Contains(tokenBodies[0], access) || !strings.Contains(tokenBodies[0], "refresh_token") {
		t.Fatalf("the access token %q is not the provider's (%s)", access, tokenBodies[0])
	}
	// No provider token, in any form, is in the store or in a cookie.
	var secrets []string
	for _, f := range strings.Split(tokenBodies[0], `"`) {
		if len(f) > 20 {
			secrets = append(secrets, f)
		}
	}
	for k, v := range hs.Store.(*store.Memory).All() {
		for _, s := range secrets {
			if strings.Contains(k, s) || bytes.Contains(v, []byte(s)) {
				t.Errorf("store entry %s holds a provider token in clear", k)
			}
		}
	}
	for _, c := range b.cookies() {
		for _, s := range secrets {
			if strings.Contains(c.Value, s) {
				t.Errorf("cookie %s holds a provider token", c.Name)
			}
		}
	}
}

func TestTokenWithoutKeepTokens(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signIn(alice, "/")
	st, body := b.getToken(0)
	if st != http.StatusConflict || !strings.Contains(body, oidc.ErrNoTokens.Error()) {
		t.Fatalf("GET /token without KeepTokens: %d %q", st, body)
	}
	anon := e.browser()
	if st, body := anon.getToken(0); st != http.StatusConflict || !strings.Contains(body, oidc.ErrNotSignedIn.Error()) {
		t.Fatalf("GET /token anonymous: %d %q", st, body)
	}
}

// TestRefreshOnce has n requests need a refresh at once. The provider holds
// the refresh request until every other request has read the locked grant
// record, so the waiting path is taken for certain; exactly one refresh
// reaches the provider and every request gets its new token.
func TestRefreshOnce(t *testing.T) {
	const n = 12
	var refreshes atomic.Int32
	var refreshing atomic.Bool // set once the lock is held and the refresh sent
	seen := make(map[string]bool)
	var mu sync.Mutex
	allWaiting := make(chan struct{})
	hs := &hookStore{onGet: func(ctx context.Context, _ string, _ []byte) {
		idx, _ := ctx.Value(reqIndex{}).(string)
		if idx == "" || !refreshing.Load() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[idx] {
			seen[idx] = true
			if len(seen) == n-1 { // all but the one holding the lock
				close(allWaiting)
			}
		}
	}}
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refreshGrant(r) {
				refreshes.Add(1)
				refreshing.Store(true)
				select {
				case <-allWaiting:
				case <-time.After(20 * time.Second):
					t.Error("the other requests never read the locked record")
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	e, ck := tokenEnv(t, mw, hs)
	b := e.browser()
	b.signIn(alice, "/")
	_, first := b.getToken(-1)
	ck.Add(10 * time.Minute) // past the provider's five-minute access tokens

	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, tok := b.getToken(i)
			if st != http.StatusOK {
				t.Errorf("request %d: %d %q", i, st, tok)
			}
			got[i] = tok
		}()
	}
	wg.Wait()
	if c := refreshes.Load(); c != 1 {
		t.Fatalf("%d refreshes reached the provider, want 1", c)
	}
	for i, tok := range got {
		if tok == first || tok != got[0] {
			t.Fatalf("request %d got %q; want the one new token %q (old %q)", i, tok, got[0], first)
		}
	}
	// The new token is used until it expires in turn.
	if _, tok := b.getToken(-1); tok != got[0] {
		t.Fatalf("after the refresh: %q", tok)
	}
}

// TestRefreshRefused: when the provider refuses the refresh token, Token
// reports the provider's error and does not ask again.
func TestRefreshRefused(t *testing.T) {
	var refreshes atomic.Int32
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refreshGrant(r) {
				refreshes.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
	// No back-channel logout: the provider ends its session (and the
	// refresh token) without telling the application.
	e, ck := tokenEnv(t, mw, &hookStore{}, func(c *envConfig) { c.idp.Clients[0].BackChannelLogoutURI = "" })
	b := e.browser()
	b.signIn(alice, "/")
	e.idp.EndSessions(context.Background(), alice.Subject)
	ck.Add(10 * time.Minute)
	st, body := b.getToken(-1)
	if st != http.StatusConflict || !strings.Contains(body, oidc.ErrRefresh.Error()) || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("refused refresh: %d %q", st, body)
	}
	st, body = b.getToken(-1)
	if st != http.StatusConflict || !strings.Contains(body, oidc.ErrNoTokens.Error()) {
		t.Fatalf("after a refused refresh: %d %q", st, body)
	}
	if c := refreshes.Load(); c != 1 {
		t.Fatalf("%d refresh requests, want 1", c)
	}
}
