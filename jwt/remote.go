package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/httprc/v3/errsink"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Defaults of [RemoteConfig].
const (
	DefaultMaxJWKSSize     = 256 << 10 // bytes
	DefaultRefetchInterval = time.Minute
	DefaultRefreshInterval = 15 * time.Minute
	DefaultFetchTimeout    = 10 * time.Second
	maxRefreshInterval     = 24 * time.Hour
)

// ErrBodyTooLarge is the error of a JWKS fetch whose response exceeds
// RemoteConfig.MaxBodySize.
var ErrBodyTooLarge = errors.New("jwt: JWKS response too large")

// RemoteConfig configures a [RemoteKeySet]. The zero value is valid. A
// config must not be changed after it is passed to [NewRemoteKeySet].
type RemoteConfig struct {
	// Algorithms is the allowlist: keys of other algorithms are ignored. A
	// key without alg gets the one its type implies — for RSA those of
	// RSAWithoutAlg, ES256 or ES384 by curve, EdDSA for Ed25519 — and is
	// used only if that is allowed. Nil means every asymmetric algorithm
	// (RS256, PS256, ES256, ES384, EdDSA and its other name Ed25519). HMAC
	// algorithms are never allowed: a published key is not a secret.
	Algorithms []Algorithm

	// RSAWithoutAlg lists the algorithms an RSA key published without alg
	// verifies, each RS256 or PS256 and allowed by Algorithms: for example
	// {PS256} for an issuer that signs PS256 with such keys, or both if it
	// signs with either. Nil means RS256, or PS256 when only PS256 is
	// allowed. A key published with alg verifies that algorithm only.
	RSAWithoutAlg []Algorithm

	// MaxBodySize caps the JWKS response, in bytes; a larger response is a
	// failed fetch (the last good set is kept). Zero means
	// DefaultMaxJWKSSize (256 KiB).
	MaxBodySize int64

	// RefetchInterval is the least time between two fetches triggered by a
	// token whose kid is unknown. Concurrent misses share one fetch; misses
	// within the interval are refused without a fetch, so a flood of random
	// kids costs the issuer at most one request per interval. Zero means
	// DefaultRefetchInterval (1 minute).
	RefetchInterval time.Duration

	// RefreshInterval is the least time between background refreshes; a
	// longer Cache-Control max-age from the issuer is honoured, up to 24
	// hours. Zero means DefaultRefreshInterval (15 minutes).
	RefreshInterval time.Duration

	// FetchTimeout bounds one fetch. Zero means DefaultFetchTimeout (10 s).
	FetchTimeout time.Duration

	// HTTPClient makes the requests. Nil means a client with FetchTimeout
	// that refuses redirects from https to http. Its transport is wrapped
	// to enforce MaxBodySize.
	HTTPClient *http.Client

	// InsecureAllowHTTP allows a plain http:// JWKS URL on a host other than
	// loopback. Off by default: whoever can alter the response can mint
	// tokens.
	InsecureAllowHTTP bool

	// Logger receives failed fetches (Warn) and ignored keys (Debug). Nil
	// means slog.Default().
	Logger *slog.Logger

	// Now returns the current time, for the refetch rate limit. Nil means
	// time.Now.
	Now func() time.Time
}

// RemoteKeySet is a [KeySource] for another issuer's public keys, fetched
// from its JWKS URL (an OpenID Connect provider's jwks_uri) and kept fresh
// by jwx's [jwk.Cache]. It is safe for concurrent use. Call Close when done.
//
// The set is refreshed in the background, following the response's
// Cache-Control (within RefreshInterval and 24 hours), and on a token whose
// kid it does not hold (at most once per RefetchInterval). A failed fetch —
// network error, non-200 status, a body over MaxBodySize, invalid JSON —
// keeps the last good set. Keys are used only with an allowed algorithm;
// symmetric keys, keys with use other than "sig", RSA keys under 2048 bits
// and keys jwx cannot parse are ignored. Whenever a fetch removes or
// changes a key, the verified-token cache of every Verifier using the set
// is emptied; a fetch that returns the same keys, or adds some, keeps it.
type RemoteKeySet struct {
	url      string
	cfg      RemoteConfig
	allowed  map[Algorithm]bool
	cache    *jwk.Cache
	res      *httprc.ResourceBase[jwk.Set]
	ctx      context.Context
	cancel   context.CancelFunc
	log      *slog.Logger
	view     atomic.Pointer[remoteView]
	mu       sync.Mutex // guards lastMiss, inflight, and rebuilds
	lastMiss time.Time
	inflight chan struct{}
	closed   atomic.Bool
}

type remoteView struct {
	src jwk.Set
	idx *keyIndex
}

// NewRemoteKeySet returns a RemoteKeySet for the JWKS at jwksURL and starts
// its first fetch in the background; call [RemoteKeySet.Refresh] to wait
// for it (for example to fail fast at startup). Until a fetch succeeds,
// verification fails with an error matching ErrKeysUnavailable. It returns
// an error for a URL that is not https (http is allowed on loopback hosts,
// or anywhere with InsecureAllowHTTP) and for an invalid config (a negative
// duration or size, an unknown or HMAC algorithm).
func NewRemoteKeySet(jwksURL string, cfg RemoteConfig) (*RemoteKeySet, error) {
	if err := checkJWKSURL(jwksURL, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	cfg, allowed, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	httpClient := jwk.WrapHTTPClientDefaults(cfg.client())
	r := &RemoteKeySet{url: jwksURL, cfg: cfg, allowed: allowed, log: cfg.Logger}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	hc := httprc.NewClient(
		httprc.WithWorkers(1),
		httprc.WithHTTPClient(httpClient),
		httprc.WithErrorSink(errsink.NewFunc(func(_ context.Context, err error) {
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "jwt: JWKS fetch failed", slog.String("url", r.url), slog.Any("error", err))
		})),
	)
	if r.cache, err = jwk.NewCache(r.ctx, hc); err != nil {
		r.cancel()
		return nil, fmt.Errorf("jwt: starting JWKS cache: %w", err)
	}
	err = r.cache.Register(r.ctx, jwksURL,
		jwk.WithHTTPClient(httpClient),
		jwk.WithMaxFetchBodySize(cfg.MaxBodySize),
		jwk.WithWaitReady(false),
		jwk.WithMinInterval(cfg.RefreshInterval),
		jwk.WithMaxInterval(max(maxRefreshInterval, cfg.RefreshInterval)),
		jwk.WithStrictKeySetParsing(false),
	)
	if err == nil {
		r.res, err = r.cache.LookupResource(r.ctx, jwksURL)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("jwt: registering JWKS URL: %w", err)
	}
	return r, nil
}

// checkJWKSURL refuses a URL that is not https, unless it is http on a
// loopback host or insecure is set.
func checkJWKSURL(jwksURL string, insecure bool) error {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("jwt: invalid JWKS URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return fmt.Errorf("jwt: JWKS URL must use https (InsecureAllowHTTP allows http)")
		}
		return nil
	}
	return fmt.Errorf("jwt: JWKS URL must use https")
}

// withDefaults checks cfg, fills in its defaults and returns it with the
// allowlist as a set.
func (cfg RemoteConfig) withDefaults() (RemoteConfig, map[Algorithm]bool, error) {
	if cfg.MaxBodySize < 0 || cfg.RefetchInterval < 0 || cfg.RefreshInterval < 0 || cfg.FetchTimeout < 0 {
		return cfg, nil, errors.New("jwt: RemoteConfig has a negative duration or size")
	}
	if cfg.Algorithms == nil {
		cfg.Algorithms = asymmetricAlgorithms
	}
	allowed := map[Algorithm]bool{}
	for _, a := range cfg.Algorithms {
		if _, ok := a.info(); !ok || a.Symmetric() {
			return cfg, nil, fmt.Errorf("jwt: RemoteConfig.Algorithms: %q is not an asymmetric algorithm", a)
		}
		allowed[a] = true
		if a == EdDSA || a == Ed25519 { // one algorithm, two names
			allowed[EdDSA], allowed[Ed25519] = true, true
		}
	}
	if cfg.RSAWithoutAlg == nil {
		switch {
		case allowed[RS256]:
			cfg.RSAWithoutAlg = []Algorithm{RS256}
		case allowed[PS256]:
			cfg.RSAWithoutAlg = []Algorithm{PS256}
		}
	}
	for _, a := range cfg.RSAWithoutAlg {
		if a != RS256 && a != PS256 || !allowed[a] {
			return cfg, nil, fmt.Errorf("jwt: RemoteConfig.RSAWithoutAlg: %q is not RS256 or PS256 allowed by Algorithms", a)
		}
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = DefaultMaxJWKSSize
	}
	if cfg.RefetchInterval == 0 {
		cfg.RefetchInterval = DefaultRefetchInterval
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, allowed, nil
}

// client returns a copy of the configured HTTP client (or a new one) whose
// timeout is at most FetchTimeout and whose transport enforces MaxBodySize.
func (cfg *RemoteConfig) client() *http.Client {
	c := http.Client{}
	if cfg.HTTPClient != nil {
		c = *cfg.HTTPClient
	}
	if c.Timeout == 0 || c.Timeout > cfg.FetchTimeout {
		c.Timeout = cfg.FetchTimeout
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &capTransport{base: base, max: cfg.MaxBodySize}
	return &c
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Refresh fetches the key set now and waits for the result. A failure keeps
// the last good set. It counts as a fetch for the RefetchInterval limit.
func (r *RemoteKeySet) Refresh(ctx context.Context) error {
	if r.closed.Load() {
		return errors.New("jwt: RemoteKeySet is closed")
	}
	r.mu.Lock()
	r.lastMiss = r.cfg.Now()
	r.mu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, r.cfg.FetchTimeout)
	defer cancel()
	if _, err := r.cache.Refresh(fctx, r.url); err != nil {
		return fmt.Errorf("jwt: fetching JWKS: %w", err)
	}
	return nil
}

// Close stops background refreshes. Verification keeps using the last set.
func (r *RemoteKeySet) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	r.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.cache != nil {
		_ = r.cache.Shutdown(ctx)
	}
	return nil
}

// Keys returns the keys in use, from the last good fetch.
func (r *RemoteKeySet) Keys() []*Key {
	idx, err := r.current()
	if err != nil {
		return nil
	}
	return slices.Clone(idx.list)
}

var errNeverFetched = fmt.Errorf("%w: the JWKS has not been fetched yet", ErrKeysUnavailable)

func (r *RemoteKeySet) current() (*keyIndex, error) {
	var set jwk.Set
	if r.res != nil {
		set = r.res.Resource()
	}
	if set == nil {
		return nil, errNeverFetched
	}
	if v := r.view.Load(); v != nil && v.src == set {
		return v.idx, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.view.Load(); v != nil && v.src == set {
		return v.idx, nil
	}
	keys := r.usable(set)
	gen := uint64(0)
	if old := r.view.Load(); old != nil && keepsEvery(keys, old.idx) {
		// jwx hands over a new set object on every fetch, changed or not;
		// the verified-token caches stay valid unless a key went away or
		// changed (an unknown-kid flood refetches an unchanged set).
		gen = old.idx.gen
	} else {
		gen = newGeneration()
	}
	v := &remoteView{src: set, idx: buildIndex(keys, gen)}
	r.view.Store(v)
	return v.idx, nil
}

// keepsEvery reports whether keys holds every key of old, each with the
// same kid, algorithm and material.
func keepsEvery(keys []*Key, old *keyIndex) bool {
	for _, o := range old.list {
		found := false
		for _, k := range keys {
			if k.kid == o.kid && sameKey(k, o) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// miss refetches the set for an unknown kid, at most once per
// RefetchInterval, sharing one fetch among concurrent callers.
func (r *RemoteKeySet) miss(ctx context.Context) *keyIndex {
	if r.closed.Load() {
		return nil
	}
	r.mu.Lock()
	ch := r.inflight
	if ch == nil {
		now := r.cfg.Now()
		if !r.lastMiss.IsZero() && now.Sub(r.lastMiss) < r.cfg.RefetchInterval {
			r.mu.Unlock()
			return nil
		}
		r.lastMiss = now
		ch = make(chan struct{})
		r.inflight = ch
		go r.fetch(ch)
	}
	r.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil
	}
	idx, _ := r.current()
	return idx
}

func (r *RemoteKeySet) fetch(done chan struct{}) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.FetchTimeout)
	_, err := r.cache.Refresh(ctx, r.url)
	cancel()
	if err != nil {
		r.log.LogAttrs(r.ctx, slog.LevelWarn, "jwt: JWKS refetch for an unknown kid failed", slog.String("url", r.url), slog.Any("error", err))
	}
	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(done)
}

// usable converts the keys of set that pass the rules into Keys. The first
// JWK with a given kid wins; an RSA JWK without alg may give several Keys
// (RSAWithoutAlg), all with its kid.
func (r *RemoteKeySet) usable(set jwk.Set) []*Key {
	var keys []*Key
	seen := map[string]bool{}
	for i := range set.Len() {
		jk, ok := set.Key(i)
		if !ok {
			continue
		}
		ks, why := r.convert(jk)
		if len(ks) == 0 {
			kid, _ := jk.KeyID()
			r.log.LogAttrs(r.ctx, slog.LevelDebug, "jwt: ignoring JWKS key", slog.String("url", r.url), slog.String("kid", kid), slog.String("reason", why))
			continue
		}
		if seen[ks[0].kid] {
			continue
		}
		seen[ks[0].kid] = true
		keys = append(keys, ks...)
	}
	return keys
}

// convert returns the Keys a JWK stands for — one per algorithm it may
// verify — or none and the reason.
func (r *RemoteKeySet) convert(jk jwk.Key) ([]*Key, string) {
	if _, ok := jk.(jwk.UnsupportedKey); ok {
		return nil, "unsupported key"
	}
	if use, ok := jk.KeyUsage(); ok && use != "sig" {
		return nil, "use is not sig"
	}
	if ops, ok := jk.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, "key_ops lacks verify"
	}
	pk, err := jwk.PublicKeyOf(jk)
	if err != nil {
		return nil, "no public key"
	}
	var raw any
	if err := jwk.Export(pk, &raw); err != nil {
		return nil, "cannot export"
	}
	var algs []Algorithm
	if a, ok := jk.Algorithm(); ok {
		algs = []Algorithm{Algorithm(a.String())}
	} else {
		switch p := raw.(type) {
		case *rsa.PublicKey:
			algs = r.cfg.RSAWithoutAlg
		case *ecdsa.PublicKey:
			switch p.Curve {
			case elliptic.P256():
				algs = []Algorithm{ES256}
			case elliptic.P384():
				algs = []Algorithm{ES384}
			}
		case ed25519.PublicKey:
			algs = []Algorithm{EdDSA}
		}
	}
	kid, _ := jk.KeyID()
	var keys []*Key
	why := "algorithm not allowed"
	for _, alg := range algs {
		if !r.allowed[alg] {
			continue
		}
		var k *Key
		if kid != "" {
			k, err = NewKeyWithID(kid, alg, raw)
		} else {
			k, err = NewKey(alg, raw)
		}
		if err != nil {
			return nil, err.Error()
		}
		keys = append(keys, k)
	}
	return keys, why
}

// capTransport refuses responses larger than max: at once when
// Content-Length says so, otherwise with an error when the body runs over.
type capTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, ErrBodyTooLarge
	}
	resp.Body = &capBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type capBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, ErrBodyTooLarge
	}
	return n, err
}

func (b *capBody) Close() error { return b.rc.Close() }
