package oidc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/oidc/oidctest"
	"github.com/authkit/authkit/session"
	"github.com/authkit/authkit/store"
)

// benchEnv is a RelyingParty whose provider's keys come from an in-process
// oidctest server, and whose token endpoint is answered in-process by
// tokenTransport, so the network exchange is not measured.
type benchEnv struct {
	idp      *oidctest.Server
	rp       *RelyingParty
	p        *provider
	d        *discovered
	sessions *session.Manager
	idToken  string
	nonce    string
}

const benchAccessToken = "provider-access-token-0123456789"

// tokenTransport answers the token endpoint with a fixed response and
// passes everything else (discovery, JWKS) to the real provider.
type tokenTransport struct {
	tokenURL string
	body     atomic.Pointer[[]byte]
}

func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() != t.tokenURL {
		return http.DefaultTransport.RoundTrip(r)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(bytes.NewReader(*t.body.Load())),
		Request:    r,
	}, nil
}

func newBenchEnv(b *testing.B, alg string) *benchEnv {
	idp := oidctest.NewServer(oidctest.Config{Algorithm: alg})
	b.Cleanup(idp.Close)
	mem := store.NewMemory(store.MemoryConfig{})
	b.Cleanup(func() { mem.Close() })
	tt := &tokenTransport{tokenURL: idp.URL + "/oauth/token"}
	codec, err := cookie.NewCodec(cookie.Key{ID: 1, Secret: secret.Bytes(32)})
	if err != nil {
		b.Fatal(err)
	}
	sessions := session.New(mem, session.Config{})
	var n atomic.Int64
	rp := New(sessions, mem, Config{
		Codec:      codec,
		HTTPClient: &http.Client{Transport: tt, Timeout: 10 * time.Second},
		Providers:  []Provider{{Name: "idp", Issuer: idp.Issuer(), ClientID: "app", ClientSecret: "s", RedirectURL: "https://app.example/cb"}},
		// One subject per sign-in, so no session index grows over the cap.
		Subject: func(context.Context, *IDToken) (string, error) { return fmt.Sprint("user-", n.Add(1)), nil },
	})
	b.Cleanup(func() { rp.Close() })
	e := &benchEnv{idp: idp, rp: rp, p: rp.providers["idp"], sessions: sessions, nonce: secret.Base62(nonceLen)}
	ctx := context.Background()
	if e.d, err = e.p.get(ctx); err != nil {
		b.Fatal(err)
	}
	if err := e.d.keys.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	atHash, _ := tokenHash(alg, benchAccessToken)
	now := time.Now()
	e.idToken, err = idp.Sign(map[string]any{"typ": "JWT"}, map[string]any{
		"iss": idp.Issuer(), "sub": "248289761001", "aud": "app", "azp": "app", "nonce": e.nonce,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(), "at_hash": atHash,
		"sid": "provider-session-1", "email": "jane@corp.example", "email_verified": true, "name": "Jane Doe",
	})
	if err != nil {
		b.Fatal(err)
	}
	body := fmt.Appendf(nil, `{"access_token":%q,"token_type":"Bearer","expires_in":300,"refresh_token":"rt-0123456789","id_token":%q}`, benchAccessToken, e.idToken)
	tt.body.Store(&body)
	return e
}

// BenchmarkVerifyIDToken is the ID token verification of a callback: the
// jwt verifier (first sight, no cache; one store read for revocation) plus
// the OpenID Connect checks (audiences, azp, nonce, at_hash, sid) and the
// decoding of every claim into IDToken.Claims. Compare with
// BenchmarkVerify/<alg>/first-seen/revocation-on in the jwt package.
func BenchmarkVerifyIDToken(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			e := newBenchEnv(b, alg)
			ctx := context.Background()
			chk := idTokenCheck{nonce: e.nonce, accessToken: benchAccessToken}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.p.verifyIDToken(ctx, e.d, e.idToken, chk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallback is a whole callback behind the session Middleware —
// flow cookie read and opened, the state recorded against replay, the code
// exchanged through x/oauth2 (answered in-process, so without the network
// or the provider's work), the RS256 ID token verified, the session logged
// in, the grant record encrypted and stored — on the memory store.
func BenchmarkCallback(b *testing.B) {
	e := newBenchEnv(b, "RS256")
	h := e.sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.rp.Callback(w, r, "idp"); err != nil {
			b.Fatal(err)
		}
	}))
	type prepared struct{ target, cookie string }
	batch := make([]prepared, 1024)
	fill := func() {
		for i := range batch {
			f := flow{V: flowVersion, State: secret.Base62(stateLen), Nonce: e.nonce,
				Verifier: oauth2.GenerateVerifier(), Provider: "idp", ReturnTo: "/inbox"}
			name := e.rp.flowName(f.State)
			v, err := e.rp.codec.SealJSON(name, &f, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			batch[i] = prepared{"/cb?code=c0de&state=" + f.State, name + "=" + v}
		}
	}
	fill()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(batch) {
			b.StopTimer()
			fill()
			i = 0
			b.StartTimer()
		}
		r := httptest.NewRequest("GET", batch[i].target, nil)
		r.Header.Set("Cookie", batch[i].cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if !strings.HasPrefix(w.Header().Get("Set-Cookie"), "__Host-oidc-") {
			b.Fatalf("callback response %d %v", w.Code, w.Header())
		}
		i++
	}
}

// BenchmarkLoginURL is the start of a sign-in: state, nonce and PKCE
// verifier drawn, the flow cookie sealed and set, the authorization URL
// built.
func BenchmarkLoginURL(b *testing.B) {
	e := newBenchEnv(b, "RS256")
	r := httptest.NewRequest("GET", "/login", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if _, err := e.rp.LoginURL(w, r, "idp", "/inbox"); err != nil {
			b.Fatal(err)
		}
	}
}
