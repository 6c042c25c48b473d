package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
)

// Lengths of the flow's random values, in base62 characters (about 190
// bits each).
const (
	stateLen = 32
	nonceLen = 32
)

// MaxReturnToLen is the longest return-to path accepted, in bytes.
const MaxReturnToLen = 2048

// maxFlows is how many flow cookies a browser may hold at once; starting
// another past it drops the others (they belong to abandoned sign-ins, or to
// a page opening flows in a loop).
const maxFlows = 8

// flowVersion is the version of the flow cookie's payload.
const flowVersion = 1

// flow is what the flow cookie carries from the redirect to the provider to
// the callback. It never reaches the store before login.
type flow struct {
	V        int    `json:"v"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"k"` // PKCE code_verifier (RFC 7636)
	Provider string `json:"p"`
	ReturnTo string `json:"r"`
}

// flowName is the cookie name of the flow with state.
func (rp *RelyingParty) flowName(state string) string { return rp.cookie.Name + state }

// decodeFlow opens the flow cookie value for the cookie called name and
// checks every field; any failure is ErrState.
func decodeFlow(codec *cookie.Codec, name, value string) (*flow, error) {
	var f flow
	if err := codec.OpenJSON(name, value, &f); err != nil {
		return nil, fmt.Errorf("%w: flow cookie refused", ErrState)
	}
	if f.V != flowVersion || !isBase62(f.State, stateLen) || !isBase62(f.Nonce, nonceLen) ||
		!validVerifier(f.Verifier) || !validName(f.Provider) || !LocalPath(f.ReturnTo) {
		return nil, fmt.Errorf("%w: flow cookie malformed", ErrState)
	}
	return &f, nil
}

func isBase62(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(secret.Base62Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// validVerifier checks an RFC 7636 §4.1 code_verifier: 43..128 characters
// of [A-Za-z0-9-._~].
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// LocalPath reports whether s is a safe local return-to path: at most
// MaxReturnToLen bytes of printable ASCII (no space, no control character,
// no '\'), starting with '/' but not "//", with no scheme or host once
// parsed. Browsers read "//evil.example" and "/\evil.example" as another
// host, and drop tabs and newlines from URLs, so all of those are refused.
func LocalPath(s string) bool {
	if len(s) == 0 || len(s) > MaxReturnToLen || s[0] != '/' || (len(s) > 1 && s[1] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//")
}

// LoginURL starts a sign-in with provider: it sets the flow cookie on w and
// returns the authorization request URL to send the browser to. returnTo is
// where the browser goes after the callback; it must be a [LocalPath]
// (empty means "/"). Use [RelyingParty.Login] to redirect at once; use
// LoginURL to show the request first or to send it from a page.
//
// The request asks for the authorization code (response_type=code) with
// PKCE S256, a fresh state and nonce, the provider's scopes and
// AuthParams, and max_age when configured. It fails with
// ErrUnknownProvider, ErrReturnTo, or ErrDiscovery when the provider's
// document cannot be had.
func (rp *RelyingParty) LoginURL(w http.ResponseWriter, r *http.Request, provider, returnTo string) (string, error) {
	p, err := rp.provider(provider)
	if err != nil {
		return "", err
	}
	if returnTo == "" {
		returnTo = "/"
	}
	if !LocalPath(returnTo) {
		rp.emit(r.Context(), authkit.EventLoginFailed, "", "return_to")
		return "", ErrReturnTo
	}
	d, err := p.get(r.Context())
	if err != nil {
		return "", err
	}
	f := flow{
		V:        flowVersion,
		State:    secret.Base62(stateLen),
		Nonce:    secret.Base62(nonceLen),
		Verifier: oauth2.GenerateVerifier(),
		Provider: p.cfg.Name,
		ReturnTo: returnTo,
	}
	name := rp.flowName(f.State)
	value, err := rp.codec.SealJSON(name, &f, rp.cfg.FlowLifetime)
	if err != nil {
		return "", fmt.Errorf("oidc: sealing the flow cookie: %w", err)
	}
	rp.dropFlows(w, r)
	t := rp.cookie
	t.Name = name
	if err := t.Set(w, value); err != nil {
		return "", fmt.Errorf("oidc: setting the flow cookie: %w", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(f.Verifier),
		oauth2.SetAuthURLParam("nonce", f.Nonce),
	}
	if p.cfg.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", fmt.Sprint(int64(p.cfg.MaxAge/time.Second))))
	}
	for k, vs := range p.cfg.AuthParams {
		if reservedParam(k) || len(vs) == 0 {
			continue
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, vs[0]))
	}
	return d.oauth.AuthCodeURL(f.State, opts...), nil
}

// reservedParam reports whether an authorization request parameter is set
// by the flow itself and may not come from Provider.AuthParams.
func reservedParam(k string) bool {
	switch k {
	case "state", "nonce", "code_challenge", "code_challenge_method", "client_id",
		"redirect_uri", "response_type", "scope", "max_age", "response_mode", "request", "request_uri":
		return true
	}
	return false
}

// Login is [RelyingParty.LoginURL] followed by a 302 redirect to the
// provider. It writes nothing when it returns an error.
func (rp *RelyingParty) Login(w http.ResponseWriter, r *http.Request, provider, returnTo string) error {
	u, err := rp.LoginURL(w, r, provider, returnTo)
	if err != nil {
		return err
	}
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
	return nil
}

// dropFlows deletes the request's flow cookies when a new flow would bring
// them past maxFlows.
func (rp *RelyingParty) dropFlows(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, rp.cookie.Name) && len(c.Name) == len(rp.cookie.Name)+stateLen {
			names = append(names, c.Name)
		}
	}
	if len(names) < maxFlows {
		return
	}
	for _, n := range names {
		t := rp.cookie
		t.Name = n
		_ = t.Delete(w)
	}
}

// takeFlow finds, checks and deletes the flow cookie of the callback's
// state, and marks the state used in the store so the callback cannot be
// replayed, even with a copy of the cookie.
func (rp *RelyingParty) takeFlow(ctx context.Context, w http.ResponseWriter, r *http.Request, provider string) (*flow, error) {
	q := r.URL.Query()
	for _, k := range []string{"state", "code", "iss", "error", "error_description"} {
		if len(q[k]) > 1 {
			return nil, fmt.Errorf("%w: repeated %s parameter", ErrState, k)
		}
	}
	state := q.Get("state")
	if !isBase62(state, stateLen) {
		return nil, fmt.Errorf("%w: no valid state parameter", ErrState)
	}
	t := rp.cookie
	t.Name = rp.flowName(state)
	value, err := t.Read(r)
	if err != nil {
		if errors.Is(err, cookie.ErrDuplicate) {
			_ = t.Delete(w)
		}
		return nil, fmt.Errorf("%w: no flow cookie for this state", ErrState)
	}
	_ = t.Delete(w)
	f, err := decodeFlow(rp.codec, t.Name, value)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return nil, fmt.Errorf("%w: flow cookie of another state", ErrState)
	}
	if f.Provider != provider {
		return nil, fmt.Errorf("%w: the flow was started with another provider", ErrState)
	}
	key := keyhash.Key("oidc:flow:", state)
	ok, err := rp.store.CompareAndSwap(ctx, key, nil, []byte{1}, rp.now().Add(rp.cfg.FlowLifetime))
	if err != nil {
		return nil, fmt.Errorf("oidc: recording the flow as used: %w", err)
	}
	if !ok {
		return nil, ErrReplay
	}
	return f, nil
}

// prefixStore is a store.Store whose keys all start with prefix, to keep a
// component's records apart from others on the same store.
type prefixStore struct {
	store.Store
	prefix string
}

func (s prefixStore) Get(ctx context.Context, key string) ([]byte, error) {
	return s.Store.Get(ctx, s.prefix+key)
}

func (s prefixStore) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	return s.Store.Set(ctx, s.prefix+key, value, exp)
}

func (s prefixStore) Delete(ctx context.Context, key string) error {
	return s.Store.Delete(ctx, s.prefix+key)
}

func (s prefixStore) CompareAndSwap(ctx context.Context, key string, old, new []byte, exp time.Time) (bool, error) {
	return s.Store.CompareAndSwap(ctx, s.prefix+key, old, new, exp)
}
