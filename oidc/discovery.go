package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/authkit/authkit/jwt"
)

// MaxDiscoverySize is the largest discovery document accepted, in bytes.
const MaxDiscoverySize = 256 << 10

// safeAlgorithms are the ID token signing algorithms authkit accepts from a
// provider: asymmetric only (a client secret as HMAC key would let anyone
// holding it mint ID tokens), in the order of preference.
var safeAlgorithms = []jwt.Algorithm{jwt.RS256, jwt.PS256, jwt.ES256, jwt.ES384, jwt.EdDSA}

// Metadata is the part of a provider's discovery document (OpenID Connect
// Discovery 1.0 §3) the relying party uses. Raw holds the whole document as
// served.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint,omitempty"`
	JWKSURI                                    string   `json:"jwks_uri"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	BackChannelLogoutSupported                 bool     `json:"backchannel_logout_supported,omitempty"`
	BackChannelLogoutSessionSupported          bool     `json:"backchannel_logout_session_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`

	// Raw is the document as served.
	Raw json.RawMessage `json:"-"`
}

// parseMetadata decodes and checks a discovery document for issuer. With
// insecureHTTP, endpoints may use plain http on any host; otherwise only on
// loopback.
func parseMetadata(body []byte, issuer string, insecureHTTP bool) (*Metadata, error) {
	if len(body) > MaxDiscoverySize {
		return nil, fmt.Errorf("%w: document larger than %d bytes", ErrDiscovery, MaxDiscoverySize)
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: document is not a JSON object of the expected shape", ErrDiscovery)
	}
	// OpenID Connect Discovery 1.0 §4.3: the issuer must be identical to the
	// one the document was fetched for, or an attacker who controls one
	// tenant's document could impersonate another.
	if m.Issuer != issuer {
		return nil, fmt.Errorf("%w: document issuer is not the configured issuer", ErrDiscovery)
	}
	for _, e := range []struct {
		name, v  string
		required bool
	}{
		{"authorization_endpoint", m.AuthorizationEndpoint, true},
		{"token_endpoint", m.TokenEndpoint, true},
		{"jwks_uri", m.JWKSURI, true},
		{"end_session_endpoint", m.EndSessionEndpoint, false},
	} {
		if e.v == "" && !e.required {
			continue
		}
		if err := checkEndpoint(e.v, insecureHTTP); err != nil {
			return nil, fmt.Errorf("%w: %s %v", ErrDiscovery, e.name, err)
		}
	}
	if m.ResponseTypesSupported != nil && !slices.Contains(m.ResponseTypesSupported, "code") {
		return nil, fmt.Errorf("%w: the provider does not support the authorization code flow", ErrDiscovery)
	}
	if len(m.algorithms()) == 0 {
		return nil, fmt.Errorf("%w: no ID token signing algorithm authkit accepts (RS256, PS256, ES256, ES384, EdDSA)", ErrDiscovery)
	}
	m.Raw = json.RawMessage(slices.Clone(body))
	return &m, nil
}

// algorithms returns the advertised ID token signing algorithms that are in
// the safe set. A document without the list gets RS256, which OpenID
// Connect Discovery 1.0 §3 makes mandatory.
func (m *Metadata) algorithms() []jwt.Algorithm {
	adv := m.IDTokenSigningAlgValuesSupported
	if adv == nil {
		adv = []string{string(jwt.RS256)}
	}
	var out []jwt.Algorithm
	for _, a := range safeAlgorithms {
		if slices.Contains(adv, string(a)) {
			out = append(out, a)
		}
	}
	return out
}

// checkEndpoint accepts an absolute https URL without fragment, or http on
// a loopback host (or anywhere with insecureHTTP).
func checkEndpoint(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if insecureHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https")
	}
	return errors.New("must use https")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discovered is what a provider derives from one discovery document.
type discovered struct {
	meta    *Metadata
	keys    *jwt.RemoteKeySet
	idt     *jwt.Verifier // ID tokens
	logout  *jwt.Verifier // back-channel logout tokens
	oauth   *oauth2.Config
	fetched time.Time
}

// provider is a configured provider and its discovery state.
type provider struct {
	cfg Provider
	rp  *RelyingParty

	cur      atomic.Pointer[discovered]
	mu       sync.Mutex // guards inflight, lastTry, lastErr
	inflight chan struct{}
	lastTry  time.Time
	lastErr  error
}

// discoveryRetry is the least time between two fetches after a failure.
const discoveryRetry = 10 * time.Second

// get returns the provider's discovered state. It fetches the document
// when there is none, waiting for it; when the document is older than
// Config.DiscoveryInterval it starts a refetch in the background and keeps
// using the old one meanwhile. Concurrent callers share one fetch, and a
// failed fetch is retried at most every 10 seconds.
func (p *provider) get(ctx context.Context) (*discovered, error) {
	now := p.rp.now()
	d := p.cur.Load()
	if d != nil && now.Sub(d.fetched) < p.rp.cfg.DiscoveryInterval {
		return d, nil
	}
	p.mu.Lock()
	ch := p.inflight
	if ch == nil {
		if !p.lastTry.IsZero() && now.Sub(p.lastTry) < discoveryRetry {
			err := p.lastErr
			p.mu.Unlock()
			if d != nil {
				return d, nil
			}
			if err == nil {
				err = ErrDiscovery
			}
			return nil, err
		}
		ch = make(chan struct{})
		p.inflight = ch
		p.lastTry = now
		go p.refresh(ch)
	}
	p.mu.Unlock()
	if d != nil {
		return d, nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, ctx.Err())
	}
	if nd := p.cur.Load(); nd != nil {
		return nd, nil
	}
	p.mu.Lock()
	err := p.lastErr
	p.mu.Unlock()
	if err == nil {
		err = ErrDiscovery
	}
	return nil, err
}

// refresh fetches the discovery document and installs what it derives;
// done is closed when it finishes.
func (p *provider) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), p.rp.fetchTimeout())
	d, err := p.fetch(ctx)
	cancel()
	p.mu.Lock()
	p.lastErr = err
	if err == nil {
		old := p.cur.Swap(d)
		if old != nil && old.keys != d.keys {
			defer old.keys.Close()
		}
	} else {
		p.rp.logger.LogAttrs(context.Background(), slog.LevelWarn, "oidc: discovery failed",
			slog.String("provider", p.cfg.Name), slog.Any("error", err))
	}
	p.inflight = nil
	p.mu.Unlock()
	close(done)
}

func (p *provider) fetch(ctx context.Context) (*discovered, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.DiscoveryURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.rp.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrDiscovery, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, fmt.Errorf("%w: the document is not served as JSON", ErrDiscovery)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDiscoverySize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the document: %w", ErrDiscovery, err)
	}
	m, err := parseMetadata(body, p.cfg.Issuer, p.rp.cfg.InsecureAllowHTTP)
	if err != nil {
		return nil, err
	}
	return p.derive(m)
}

// derive builds the key set, verifiers and OAuth 2.0 configuration for m,
// reusing the current key set when the JWKS URL and algorithms are the same.
func (p *provider) derive(m *Metadata) (*discovered, error) {
	algs := m.algorithms()
	d := &discovered{meta: m, fetched: p.rp.now()}
	if old := p.cur.Load(); old != nil && old.meta.JWKSURI == m.JWKSURI && slices.Equal(old.meta.algorithms(), algs) {
		d.keys, d.idt, d.logout = old.keys, old.idt, old.logout
	} else {
		keys, err := jwt.NewRemoteKeySet(m.JWKSURI, jwt.RemoteConfig{
			Algorithms:        algs,
			HTTPClient:        p.rp.client,
			InsecureAllowHTTP: p.rp.cfg.InsecureAllowHTTP,
			Logger:            p.rp.logger,
			Now:               p.rp.cfg.Now,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
		}
		d.keys = keys
		d.idt = p.verifier(keys, []string{"JWT", ""})
		// OpenID Connect Back-Channel Logout 1.0 §2.4 recommends typ
		// logout+jwt; tokens without it are still allowed. An ID token
		// (typ JWT) is refused later by its missing events claim.
		d.logout = p.verifier(keys, []string{"logout+jwt", "JWT", ""})
	}
	style := oauth2.AuthStyleInHeader
	if methods := m.TokenEndpointAuthMethodsSupported; methods != nil &&
		!slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	if p.cfg.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	d.oauth = &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		RedirectURL:  p.cfg.RedirectURL,
		Scopes:       p.cfg.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   m.AuthorizationEndpoint,
			TokenURL:  m.TokenEndpoint,
			AuthStyle: style,
		},
	}
	return d, nil
}

// verifier returns a jwt.Verifier for this provider's tokens of the given
// typ values. Its revocation records live under their own prefix, apart
// from any verifier of the application's own tokens on the same store.
func (p *provider) verifier(keys *jwt.RemoteKeySet, types []string) *jwt.Verifier {
	return jwt.NewVerifier(keys, jwt.Config{
		Issuer:       p.cfg.Issuer,
		Audience:     p.cfg.ClientID,
		Types:        types,
		Leeway:       p.rp.cfg.Leeway,
		MaxTokenSize: maxIDTokenSize,
		Store:        prefixStore{p.rp.store, "oidc:jwt:"},
		CacheSize:    -1, // every token is verified once
		Now:          p.rp.cfg.Now,
	})
}

// maxIDTokenSize bounds ID and logout tokens: providers that put group
// lists in ID tokens exceed jwt's default of 8 KiB.
const maxIDTokenSize = 32 << 10

// close stops the provider's key set refreshes.
func (p *provider) close() {
	if d := p.cur.Load(); d != nil {
		d.keys.Close()
	}
}
