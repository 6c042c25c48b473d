package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/store"
)

// Defaults and bounds of [Config].
const (
	DefaultMaxTokenSize   = 8 << 10  // bytes
	MaxMaxTokenSize       = 64 << 10 // the largest MaxTokenSize allowed
	DefaultMaxLifetime    = 24 * time.Hour
	MaxMaxLifetime        = 24 * time.Hour // the largest MaxLifetime allowed
	MaxLeeway             = 5 * time.Minute
	DefaultCacheSize      = 10000 // verified tokens
	DefaultMaxRevocations = 256   // revoked jtis and families per subject
)

// Config configures a [Verifier]. The zero value plus a Store is valid and
// strict. A config must not be changed after it is passed to [NewVerifier].
type Config struct {
	// Issuer, when set, is the iss every token must carry, compared exactly.
	// It is required when the keys are another issuer's — a [RemoteKeySet],
	// or a [KeySet] that holds no signing key — unless InsecureAnyIssuer is
	// set: keys can be shared by several issuers (the tenants of one
	// identity provider).
	Issuer string

	// Audience, when set, must appear in every token's aud (a string, or an
	// array containing it), compared exactly. It is required when the keys
	// are another issuer's, unless InsecureAnyAudience is set: an identity
	// provider signs tokens for many applications with the same keys, and
	// without an audience application B accepts the tokens minted for
	// application A.
	Audience string

	// InsecureAnyIssuer lets a Verifier of another issuer's keys accept
	// tokens of any iss when Issuer is empty.
	InsecureAnyIssuer bool

	// InsecureAnyAudience lets a Verifier of another issuer's keys accept
	// tokens for any audience when Audience is empty: only for an issuer
	// whose tokens are all meant for this service.
	InsecureAnyAudience bool

	// Types lists the accepted typ headers, compared case-insensitively with
	// an optional "application/" prefix (RFC 7515 §4.1.9). Nil means
	// {DefaultType}: only "at+jwt" access tokens (RFC 9068). Include "" to
	// accept tokens without typ, as some issuers send.
	Types []string

	// Leeway is the clock skew tolerated on exp, nbf, iat and auth_time, from
	// 0 (the default: none) to MaxLeeway (5 minutes). It widens the cut-off
	// of [Verifier.RevokeSubject] by as much: tokens issued within Leeway
	// after the revocation are refused too.
	Leeway time.Duration

	// MaxLifetime is the largest exp - iat accepted. Zero means
	// DefaultMaxLifetime (24 hours); at most MaxMaxLifetime (24 hours).
	// Revocation records are kept for as long as a token may live under
	// MaxMaxLifetime, whatever this setting, since verifiers with other
	// settings may share the store.
	MaxLifetime time.Duration

	// MaxTokenSize is the longest token accepted, in bytes, checked before
	// any decoding. Zero means DefaultMaxTokenSize (8 KiB); at most
	// MaxMaxTokenSize.
	MaxTokenSize int

	// Store holds revocation records, read on every verification (at most
	// one Get per token). Required unless InsecureDisableRevocation is set.
	Store store.Store

	// InsecureDisableRevocation turns revocation checks off: no Store is read, and
	// the Revoke methods return ErrRevocationDisabled. A token then stays
	// valid until it expires whatever happens to its subject. For purely
	// stateless use and benchmarks only.
	InsecureDisableRevocation bool

	// Deprecated: use InsecureDisableRevocation; either one disables
	// revocation.
	DisableRevocation bool

	// MaxRevocations caps the revoked jtis and families kept per subject.
	// When an update would exceed it, the record collapses into a
	// subject-wide watermark at the current time: every token the subject
	// holds is revoked (more than asked, never less). Zero means
	// DefaultMaxRevocations (256).
	MaxRevocations int

	// CacheSize bounds the verified-token cache, in tokens. Zero means
	// DefaultCacheSize; a negative value disables the cache.
	CacheSize int

	// IdentityClaims names claims copied, decoded as by encoding/json into
	// an any, into Identity.Claims by Authenticate (for example "client_id",
	// "iss", "jti"). Nil leaves Identity.Claims nil.
	IdentityClaims []string

	// Events, when set, receives EventRejected for refused tokens (Reason is
	// a short code such as "expired", "signature", "revoked") and
	// EventRevoke for revocations.
	Events authkit.EventFunc

	// Logger is for failures that have no caller to return them to. A
	// Verifier has none today: every failure, revocations included, is
	// returned to its caller. Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Verifier checks JWTs strictly (RFC 8725) against a [KeySource], with
// revocation and a verified-token cache. It implements
// [authkit.Authenticator] (Method "jwt") and [authkit.Revoker]. It is safe
// for concurrent use.
type Verifier struct {
	keys    KeySource
	cfg     Config
	types   []string // normalized: lower case, no "application/"
	anyType bool     // "" in Types: a missing typ is accepted
	leeway  int64    // ms
	maxLife int64    // ms
	maxSize int
	maxRev  int
	extras  []string
	cache   *tokenCache
	lastGen atomic.Uint64
	// lastHeader is the last header segment parsed (see Verifier.header).
	lastHeader atomic.Pointer[headerMemo]
	now        func() time.Time
	revoking   bool
}

// NewVerifier returns a Verifier checking tokens against keys. It panics if
// keys is nil or cfg is invalid: no Issuer or no Audience for another
// issuer's keys (see Config.Issuer) without the Insecure setting that
// allows it, a leeway that is negative or over
// MaxLeeway, a negative MaxLifetime, MaxRevocations or MaxTokenSize, a
// MaxLifetime over MaxMaxLifetime, a MaxTokenSize over MaxMaxTokenSize, or
// no Store without InsecureDisableRevocation.
func NewVerifier(keys KeySource, cfg Config) *Verifier {
	if keys == nil || reflect.ValueOf(keys).IsNil() {
		panic("jwt: NewVerifier needs a KeySource")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		panic("jwt: Config.Leeway must be between 0 and MaxLeeway")
	}
	if cfg.MaxLifetime < 0 || cfg.MaxLifetime > MaxMaxLifetime || cfg.MaxTokenSize < 0 || cfg.MaxTokenSize > MaxMaxTokenSize || cfg.MaxRevocations < 0 {
		panic("jwt: Config.MaxLifetime, MaxTokenSize or MaxRevocations out of range")
	}
	if foreignKeys(keys) {
		if cfg.Issuer == "" && !cfg.InsecureAnyIssuer {
			panic("jwt: Config.Issuer is required with another issuer's keys (InsecureAnyIssuer accepts any)")
		}
		if cfg.Audience == "" && !cfg.InsecureAnyAudience {
			panic("jwt: Config.Audience is required with another issuer's keys (InsecureAnyAudience accepts any)")
		}
	}
	cfg.InsecureDisableRevocation = cfg.InsecureDisableRevocation || cfg.DisableRevocation
	if cfg.Store == nil && !cfg.InsecureDisableRevocation {
		panic("jwt: Config.Store is required unless InsecureDisableRevocation is set")
	}
	v := &Verifier{keys: keys, cfg: cfg, revoking: !cfg.InsecureDisableRevocation}
	v.leeway = cfg.Leeway.Milliseconds()
	v.maxLife = cfg.MaxLifetime.Milliseconds()
	if v.maxLife == 0 {
		v.maxLife = DefaultMaxLifetime.Milliseconds()
	}
	v.maxSize = cfg.MaxTokenSize
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	v.maxRev = cfg.MaxRevocations
	if v.maxRev == 0 {
		v.maxRev = DefaultMaxRevocations
	}
	types := cfg.Types
	if types == nil {
		types = []string{DefaultType}
	}
	for _, t := range types {
		if t == "" {
			v.anyType = true
			continue
		}
		v.types = append(v.types, strings.ToLower(stripApplication(t)))
	}
	v.extras = append([]string(nil), cfg.IdentityClaims...)
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	v.now = cfg.Now
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// foreignKeys reports whether keys are another issuer's: anything but a
// KeySet that can sign.
func foreignKeys(keys KeySource) bool {
	ks, ok := keys.(*KeySet)
	return !ok || ks.SigningKey() == nil
}

func stripApplication(t string) string {
	const p = "application/"
	if len(t) > len(p) && strings.EqualFold(t[:len(p)], p) {
		return t[len(p):]
	}
	return t
}

// entry is the outcome of one full verification, kept in the cache.
type entry struct {
	claims  Claims
	payload string // the claims JSON, for typed custom claims
	gen     uint64
	exp     int64 // ms
	nbf     int64 // ms, 0 when absent
	iat     int64 // ms
	auth    int64 // ms, 0 when absent
	revKey  string
	extras  []member
	ident   atomic.Pointer[authkit.Identity]
	custom  atomic.Pointer[customValue]
}

type member struct{ name, raw string }

type customValue struct{ v any }

// Verify checks token and returns its claims. It returns an error matching
// one of ErrMalformed, ErrTooLarge, ErrUnsupported, ErrAlgorithm,
// ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid, ErrInvalidClaims
// or ErrRevoked — each also matching authkit.ErrInvalidCredentials — or
// another error when it cannot decide (the revocation store or a remote key
// set is unreachable).
//
// The returned Claims may be shared with other callers; do not modify it.
//
// # What is checked
//
// The token must be at most MaxTokenSize bytes and a compact JWS: exactly
// three segments of canonical unpadded base64url (no '=', no '+' or '/', no
// stray bits). The header must be a strict JSON object with a string alg
// equal to the selected key's algorithm; kid selects the key (without kid,
// only a set of one key works); crit, b64 and cty are refused; jwk, jku,
// x5u, x5c and any other header are ignored, never fetched; typ must be one
// of Config.Types. The signature must verify. The claims must be a strict
// JSON object (no duplicate names under case folding, valid UTF-8) with
// exp, iat and sub; exp, nbf, iat and auth_time must be numbers in
// (0, 9999-12-31]; exp must be in the future and nbf, iat and auth_time not,
// give or take Leeway; 0 < exp - iat <= MaxLifetime; iss and aud must match
// the config when it sets them. Then the subject's revocation record is
// read, unless revocation is disabled.
//
// A token verified once is cached (keyed by its exact text). Later calls
// with the same token recheck exp, nbf and revocation and skip the rest;
// retiring a key, or a remote key set losing or changing a key, empties
// the cache.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	e, err := v.check(ctx, token, false)
	if err != nil {
		return nil, err
	}
	return &e.claims, nil
}

// Authenticate implements [authkit.Authenticator]. It reads the bearer
// token with [authkit.BearerToken]; a token that is not JWT-shaped (not
// three dot-separated base64url segments, such as an opaque token) is
// authkit.ErrNoCredentials, so that another Authenticator can claim it. A
// JWT that fails [Verifier.Verify] is an error wrapping
// authkit.ErrInvalidCredentials, and so is any bearer token longer than
// MaxTokenSize (refused before it is looked at); a store failure is another
// error.
//
// The Identity has Method "jwt", Subject from sub, Scopes from scope,
// AuthTime from auth_time (iat when absent), Expires from exp, and Claims
// from Config.IdentityClaims.
func (v *Verifier) Authenticate(r *http.Request) (*authkit.Identity, error) {
	tok, err := authkit.BearerToken(r)
	if err != nil {
		return nil, err
	}
	e, err := v.check(r.Context(), tok, true)
	if err != nil {
		if err == errNotJWT {
			return nil, authkit.ErrNoCredentials
		}
		return nil, err
	}
	p := e.ident.Load()
	if p == nil {
		p = v.identity(e)
		e.ident.Store(p)
	}
	// The cached Identity is shared by every request with this token: hand
	// out copies of what a handler could modify in place.
	id := *p
	id.Scopes = slices.Clone(id.Scopes)
	if id.Claims != nil {
		id.Claims = maps.Clone(id.Claims)
	}
	return &id, nil
}

func (v *Verifier) identity(e *entry) *authkit.Identity {
	id := &authkit.Identity{
		Subject:  e.claims.Subject,
		Method:   authkit.MethodJWT,
		Scopes:   e.claims.Scopes,
		AuthTime: e.claims.AuthTime,
		Expires:  e.claims.ExpiresAt,
	}
	if id.AuthTime.IsZero() {
		id.AuthTime = e.claims.IssuedAt
	}
	if len(e.extras) > 0 {
		id.Claims = make(map[string]any, len(e.extras))
		for _, m := range e.extras {
			var x any
			if json.Unmarshal([]byte(m.raw), &x) == nil {
				id.Claims[m.name] = x
			}
		}
	}
	return id
}

// errNotJWT tells Authenticate that a bearer token is of another kind.
var errNotJWT = errors.New("jwt: not a JWT")

// check verifies token, from the cache when it can. With authn set, a token
// that is not JWT-shaped is errNotJWT.
func (v *Verifier) check(ctx context.Context, token string, authn bool) (*entry, error) {
	if len(token) > v.maxSize {
		v.emitRejected(ctx, errTooLarge, "")
		return nil, errTooLarge
	}
	var hit *entry
	if v.cache != nil {
		hit = v.cache.get(token)
	}
	if hit == nil && authn {
		// Decide "not a JWT" before anything can fail for other reasons
		// (keys unavailable), so that another Authenticator gets its token.
		if _, _, ok := split(token); !ok {
			return nil, errNotJWT
		}
	}
	idx, err := v.keys.current()
	if err != nil {
		if idx = v.keys.miss(ctx); idx == nil {
			if authn && !base64URLOnly(token) {
				return nil, errNotJWT
			}
			return nil, err
		}
	}
	nowMs := v.now().UnixMilli()
	if c := v.cache; c != nil {
		if g := v.lastGen.Load(); g != idx.gen && v.lastGen.CompareAndSwap(g, idx.gen) && g != 0 {
			c.clear()
			hit = nil
		}
		if e := hit; e != nil {
			if e.gen == idx.gen {
				if rej := v.checkTimes(e, nowMs); rej != nil {
					c.remove(token, e)
					v.emitRejected(ctx, rej, e.claims.Subject)
					return nil, rej
				}
				if err := v.checkRevoked(ctx, e, nowMs); err != nil {
					return nil, err
				}
				return e, nil
			}
			c.remove(token, e)
		}
	}
	e, err := v.verifyFull(ctx, token, idx, nowMs, authn)
	if err != nil {
		return nil, err
	}
	if err := v.checkRevoked(ctx, e, nowMs); err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, e)
	}
	return e, nil
}

// verifyFull runs every check but revocation.
func (v *Verifier) verifyFull(ctx context.Context, token string, idx *keyIndex, nowMs int64, authn bool) (*entry, error) {
	var sig [MaxRSABits / 8]byte
	d, rej := decodeJWS(token, &sig)
	var h header
	if rej == nil {
		h, rej = v.header(d.headerSeg)
	}
	if rej != nil {
		if authn && (rej == errShape || !base64URLOnly(token)) {
			return nil, errNotJWT
		}
		v.emitRejected(ctx, rej, "")
		return nil, rej
	}
	var key *Key
	if rej == nil {
		key, idx, rej = v.selectKey(ctx, idx, &h)
	}
	if rej == nil && !key.verify(d.input, sig[:d.sigLen]) {
		rej = errSignature
	}
	if rej != nil {
		v.emitRejected(ctx, rej, "")
		return nil, rej
	}
	var c rawClaims
	if rej := parseClaims(d.claims, v.extras, &c); rej != nil {
		v.emitRejected(ctx, rej, "")
		return nil, rej
	}
	if rej := v.validate(&h, &c, nowMs); rej != nil {
		v.emitRejected(ctx, rej, c.sub)
		return nil, rej
	}
	return v.newEntry(&c, d.claims, key, idx.gen), nil
}

// header returns the decoded and parsed header segment seg. The header it
// parsed last is kept: the tokens a verifier sees come from a few issuers,
// each writing the same header on every token, so most first-seen tokens
// skip decoding and parsing their header. Only a header that parsed is
// kept, and the segment is compared whole, so a different header is
// always decoded and checked.
func (v *Verifier) header(seg string) (header, *rejection) {
	if m := v.lastHeader.Load(); m != nil && m.seg == seg {
		return m.h, nil
	}
	h, rej := decodeHeader(seg)
	if rej == nil {
		// A clone, so that the memo does not keep the whole token alive.
		v.lastHeader.Store(&headerMemo{seg: strings.Clone(seg), h: h})
	}
	return h, rej
}

// headerMemo is a header segment and its parsed header.
type headerMemo struct {
	seg string
	h   header
}

// selectKey returns the key the header's kid selects, refetching a remote
// set once for an unknown kid, and the index it came from. The header's
// alg must be the key's algorithm (see Algorithm.verifies).
func (v *Verifier) selectKey(ctx context.Context, idx *keyIndex, h *header) (*Key, *keyIndex, *rejection) {
	key, rej := idx.lookup(h.kid, h.hasKID)
	if rej == errUnknownKID || rej == errNoKeys {
		if nidx := v.keys.miss(ctx); nidx != nil {
			idx = nidx
			key, rej = idx.lookup(h.kid, h.hasKID)
		}
	}
	switch {
	case rej != nil:
		return nil, idx, rej
	case !h.hasAlg:
		return nil, idx, errNoAlg
	}
	if key = idx.forAlg(key, h.alg); key == nil {
		return nil, idx, errAlgMismatch
	}
	return key, idx, nil
}

// newEntry is the cache entry of a token whose claims c (the JSON payload)
// passed every check with key, from the key index of generation gen.
func (v *Verifier) newEntry(c *rawClaims, payload string, key *Key, gen uint64) *entry {
	e := &entry{
		payload: payload,
		gen:     gen,
		exp:     c.exp,
		nbf:     c.nbf,
		iat:     c.iat,
		auth:    c.auth,
		extras:  c.extras,
		claims: Claims{
			Issuer:    c.iss,
			Subject:   c.sub,
			ExpiresAt: time.UnixMilli(c.exp),
			IssuedAt:  time.UnixMilli(c.iat),
			ID:        c.jti,
			FamilyID:  c.fid,
			KeyID:     key.kid,
		},
	}
	switch c.audKind {
	case 1:
		e.claims.Audience = []string{c.audOne}
	case 2:
		e.claims.Audience = c.aud[:len(c.aud):len(c.aud)]
	}
	if c.nbf != 0 {
		e.claims.NotBefore = time.UnixMilli(c.nbf)
	}
	if c.auth != 0 {
		e.claims.AuthTime = time.UnixMilli(c.auth)
	}
	if c.hasScope {
		s := strings.Fields(c.scope)
		e.claims.Scopes = s[:len(s):len(s)]
	}
	if v.revoking {
		e.revKey = revocationKey(c.sub)
	}
	return e
}

func (v *Verifier) validate(h *header, c *rawClaims, now int64) *rejection {
	if !v.typeOK(h) {
		return errType
	}
	if c.exp == 0 {
		return errNoExp
	}
	if now >= c.exp+v.leeway {
		return errExpired
	}
	if c.nbf != 0 && now+v.leeway < c.nbf {
		return errNotBefore
	}
	if c.iat == 0 {
		return errNoIat
	}
	if c.iat > now+v.leeway {
		return errIssuedInFuture
	}
	if c.exp <= c.iat || c.exp-c.iat > v.maxLife {
		return errLifetime
	}
	if c.auth != 0 && c.auth > now+v.leeway {
		return errAuthTimeFuture
	}
	if !c.hasSub || c.sub == "" {
		return errNoSub
	}
	if v.cfg.Issuer != "" && (!c.hasIss || c.iss != v.cfg.Issuer) {
		return errIssuer
	}
	if v.cfg.Audience != "" && !c.hasAudience(v.cfg.Audience) {
		return errAudience
	}
	return nil
}

func (v *Verifier) typeOK(h *header) bool {
	if !h.hasTyp {
		return v.anyType
	}
	t := stripApplication(h.typ)
	for _, want := range v.types {
		if strings.EqualFold(t, want) {
			return true
		}
	}
	return false
}

// checkTimes rechecks the time-dependent claims of a cached entry.
func (v *Verifier) checkTimes(e *entry, now int64) *rejection {
	switch {
	case now >= e.exp+v.leeway:
		return errExpired
	case e.nbf != 0 && now+v.leeway < e.nbf:
		return errNotBefore
	case e.iat > now+v.leeway:
		return errIssuedInFuture
	}
	return nil
}

func (v *Verifier) emitRejected(ctx context.Context, rej *rejection, subject string) {
	if v.cfg.Events == nil {
		return
	}
	v.cfg.Events(ctx, authkit.Event{
		Type:    authkit.EventRejected,
		Time:    v.now(),
		Method:  authkit.MethodJWT,
		Subject: subject,
		Reason:  rej.reason,
	})
}

// revocationKey is the store key of subject's revocation record.
func revocationKey(subject string) string { return keyhash.Key("jrev:", subject) }

var _ authkit.Authenticator = (*Verifier)(nil)
var _ authkit.Revoker = (*Verifier)(nil)
