package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/oidc"
	"github.com/authkit/authkit/oidc/oidctest"
)

// TestBackChannelLogout ends the user's provider sessions at the
// provider, which posts logout tokens: the user's sessions signed in
// through it end here; other users' sessions, and the same user's session
// signed in with a password, stay.
func TestBackChannelLogout(t *testing.T) {
	e := newEnv(t)
	a1, a2, b, pw := e.browser(), e.browser(), e.browser(), e.browser()
	a1.signIn(alice, "/")
	a2.signIn(alice, "/")
	b.signIn(bob, "/")
	pw.passwordLogin(e.defaultSubject(alice))
	if n := e.idp.EndSessions(context.Background(), alice.Subject); n != 2 {
		t.Fatalf("the provider ended %d sessions, want 2", n)
	}
	if a1.me() != "" || a2.me() != "" {
		t.Fatal("alice is still signed in after back-channel logout")
	}
	if b.me() != e.defaultSubject(bob) {
		t.Fatal("bob was signed out by alice's logout")
	}
	if pw.me() != e.defaultSubject(alice) {
		t.Fatal("alice's password session was ended by the provider's logout")
	}
	if !e.events.has(authkit.EventRevoke, "backchannel_logout") {
		t.Error("no revoke event")
	}
}

// TestLogoutAtProvider signs out at the provider through RP-initiated
// logout of one application session: the provider's back-channel logout
// then ends the user's other session too.
func TestLogoutAtProvider(t *testing.T) {
	e := newEnv(t)
	a1, a2 := e.browser(), e.browser()
	a1.signIn(alice, "/")
	a2.signIn(alice, "/")
	r := a1.do("POST", "/auth/logout", url.Values{})
	if pr := a1.get(r.header.Get("Location")); pr.status != http.StatusFound {
		t.Fatalf("end_session: %d %q", pr.status, pr.body)
	}
	if a2.me() != "" {
		t.Fatal("the other session survived the provider's logout")
	}
}

// postLogout sends a back-channel logout request with the given form.
func (e *env) postLogout(form url.Values) int {
	e.t.Helper()
	resp, err := http.PostForm(e.app.URL+"/auth/idp/backchannel-logout", form)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// logoutClaims returns valid logout token claims for u.
func (e *env) logoutClaims(u oidctest.User) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.idp.Issuer(), "aud": clientID, "sub": u.Subject, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    secret.Base62(22),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
}

func (e *env) signLogout(claims map[string]any) string {
	e.t.Helper()
	tok, err := e.idp.Sign(map[string]any{"typ": "logout+jwt"}, claims)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// TestLogoutTokenControl proves a crafted, valid logout token works, so the
// refusals below are the checks' doing. Without sid, it ends every session
// signed in with the provider account.
func TestLogoutTokenControl(t *testing.T) {
	e := newEnv(t)
	a1, a2, pw := e.browser(), e.browser(), e.browser()
	a1.signIn(alice, "/")
	a2.signIn(alice, "/")
	pw.passwordLogin(e.defaultSubject(alice))
	if st := e.postLogout(url.Values{"logout_token": {e.signLogout(e.logoutClaims(alice))}}); st != http.StatusOK {
		t.Fatalf("valid logout token: status %d", st)
	}
	if a1.me() != "" || a2.me() != "" {
		t.Fatal("still signed in")
	}
	if pw.me() == "" {
		t.Fatal("the password session was ended")
	}
}

// TestBackChannelLogoutBySID ends only the sessions of the provider
// session the token names.
func TestBackChannelLogoutBySID(t *testing.T) {
	var sids []string
	e := newEnv(t, func(c *envConfig) {
		c.rp.Subject = func(ctx context.Context, tok *oidc.IDToken) (string, error) {
			sids = append(sids, tok.SessionID)
			return oidc.DefaultSubject(ctx, tok)
		}
	})
	a1, a2 := e.browser(), e.browser()
	a1.signIn(alice, "/")
	a2.signIn(alice, "/")
	if len(sids) != 2 || sids[0] == "" || sids[0] == sids[1] {
		t.Fatalf("provider sessions %q", sids)
	}
	m := e.logoutClaims(alice)
	m["sid"] = sids[0]
	if st := e.postLogout(url.Values{"logout_token": {e.signLogout(m)}}); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	if a1.me() != "" {
		t.Fatal("the session of the named provider session survived")
	}
	if a2.me() == "" {
		t.Fatal("the session of another provider session was ended")
	}
}

func TestAttackLogoutToken(t *testing.T) {
	other := oidctest.NewServer(oidctest.Config{})
	defer other.Close()
	for _, c := range []struct {
		name  string
		token func(e *env) url.Values
	}{
		{"with nonce", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			m["nonce"] = "n"
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"without events", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			delete(m, "events")
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"events without the logout event", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			m["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"logout event not an object", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			m["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": true}
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"without jti", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			delete(m, "jti")
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"signed by another key", func(e *env) url.Values {
			tok, err := other.Sign(map[string]any{"typ": "logout+jwt"}, e.logoutClaims(alice))
			if err != nil {
				e.t.Fatal(err)
			}
			return url.Values{"logout_token": {tok}}
		}},
		{"for another client", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			m["aud"] = "other-app"
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"an ID token", func(e *env) url.Values {
			m := e.idClaims(alice, "")
			delete(m, "nonce")
			return url.Values{"logout_token": {e.sign(m)}}
		}},
		{"expired", func(e *env) url.Values {
			m := e.logoutClaims(alice)
			m["iat"], m["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-30*time.Minute).Unix()
			return url.Values{"logout_token": {e.signLogout(m)}}
		}},
		{"two tokens", func(e *env) url.Values {
			tok := e.signLogout(e.logoutClaims(alice))
			return url.Values{"logout_token": {tok, tok}}
		}},
		{"no token", func(e *env) url.Values { return url.Values{} }},
		{"garbage", func(e *env) url.Values { return url.Values{"logout_token": {"a.b.c"}} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.browser()
			b.signIn(alice, "/")
			if st := e.postLogout(c.token(e)); st != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", st)
			}
			if b.me() == "" {
				t.Fatal("a refused logout token signed the user out")
			}
			if !e.events.has(authkit.EventRejected, "logout_token") {
				t.Error("no rejected event")
			}
		})
	}
}

func TestAttackLogoutTokenReplayed(t *testing.T) {
	e := newEnv(t)
	tok := e.signLogout(e.logoutClaims(alice))
	b := e.browser()
	b.signIn(alice, "/")
	if st := e.postLogout(url.Values{"logout_token": {tok}}); st != http.StatusOK {
		t.Fatalf("first delivery: status %d", st)
	}
	b.signIn(alice, "/")
	if st := e.postLogout(url.Values{"logout_token": {tok}}); st != http.StatusBadRequest {
		t.Fatalf("replay: status %d, want 400", st)
	}
	if b.me() == "" {
		t.Fatal("a replayed logout token ended the new session")
	}
}

func TestBackChannelLogoutMethod(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.app.URL + "/auth/idp/backchannel-logout")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d", resp.StatusCode)
	}
	resp, err = http.Post(e.app.URL+"/auth/idp/backchannel-logout", "application/x-www-form-urlencoded",
		strings.NewReader("logout_token="+strings.Repeat("a", 100<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("oversized body: status %d", resp.StatusCode)
	}
}
