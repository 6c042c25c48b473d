package jwt

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit/internal/secret"
)

// DefaultLifetime is the lifetime of tokens an [Issuer] signs when neither
// IssuerConfig.Lifetime nor Grant.Lifetime is set.
const DefaultLifetime = 15 * time.Minute

// DefaultTTL is DefaultLifetime.
//
// Deprecated: use DefaultLifetime.
const DefaultTTL = DefaultLifetime

// DefaultType is the typ header an [Issuer] writes and a [Verifier]
// requires by default: "at+jwt", a JWT access token (RFC 9068).
const DefaultType = "at+jwt"

// jtiLen is the length of a jti: 22 base62 characters, about 131 bits.
const jtiLen = 22

// IssuerConfig configures an [Issuer]. The zero value is valid. A config
// must not be changed after it is passed to [NewIssuer].
type IssuerConfig struct {
	// Issuer is the iss claim, usually the issuer's URL. Empty omits it;
	// set it, and set Config.Issuer on verifiers to match (RFC 8725 §3.8).
	Issuer string

	// Audience is the aud claim: the services the tokens are meant for. One
	// value is written as a string, several as an array, none omits aud.
	Audience []string

	// Lifetime is the lifetime of a token, exp - iat, unless a Grant sets its
	// own. Zero means DefaultLifetime (15 minutes). Keep it short: a JWT cannot
	// be recalled except through revocation, and must stay within the
	// verifiers' Config.MaxLifetime.
	Lifetime time.Duration

	// Deprecated: use Lifetime; read only when Lifetime is zero.
	TTL time.Duration

	// Type is the typ header. Empty means DefaultType ("at+jwt"). Give other
	// kinds of JWT their own type so one cannot be used as another (RFC 8725
	// §3.11).
	Type string

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Issuer signs tokens with the signing key of a [KeySet]. It is safe for
// concurrent use, and follows the key set's rotations.
type Issuer struct {
	keys *KeySet
	cfg  IssuerConfig
	aud  []byte // the encoded ,"aud":… member, or nil
	iss  []byte // the encoded "iss":…, member, or nil
	hdr  atomic.Pointer[encodedHeader]
}

type encodedHeader struct {
	key *Key
	enc string // base64url of {"alg":…,"kid":…,"typ":…}
}

// NewIssuer returns an Issuer signing with keys. It panics if keys is nil or
// cfg is invalid: a negative Lifetime, a Type that is not printable ASCII,
// an Issuer or Audience that is not valid UTF-8.
func NewIssuer(keys *KeySet, cfg IssuerConfig) *Issuer {
	if keys == nil {
		panic("jwt: NewIssuer needs a KeySet")
	}
	if cfg.Lifetime < 0 {
		panic("jwt: IssuerConfig.Lifetime is negative")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = cfg.TTL
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Type == "" {
		cfg.Type = DefaultType
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !printable(cfg.Type) {
		panic("jwt: IssuerConfig.Type is not printable ASCII")
	}
	i := &Issuer{keys: keys, cfg: cfg}
	if cfg.Issuer != "" {
		b, ok := appendString([]byte(`"iss":`), cfg.Issuer)
		if !ok {
			panic("jwt: IssuerConfig.Issuer is not valid UTF-8")
		}
		i.iss = append(b, ',')
	}
	switch len(cfg.Audience) {
	case 0:
	case 1:
		b, ok := appendString([]byte(`,"aud":`), cfg.Audience[0])
		if !ok {
			panic("jwt: IssuerConfig.Audience is not valid UTF-8")
		}
		i.aud = b
	default:
		b := []byte(`,"aud":[`)
		for n, a := range cfg.Audience {
			if n > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendString(b, a); !ok {
				panic("jwt: IssuerConfig.Audience is not valid UTF-8")
			}
		}
		i.aud = append(b, ']')
	}
	return i
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// Grant describes the token to issue.
type Grant struct {
	// Subject is the sub claim: the user or client the token speaks for.
	// Required.
	Subject string
	// Scopes become the scope claim, space-separated (RFC 9068 §2.2.3).
	// Each must be an RFC 6749 scope token: printable ASCII without space,
	// '"' or '\'.
	Scopes []string
	// AuthTime, when set, is the auth_time claim: when the subject last
	// authenticated (logged in). Verifiers report it as Identity.AuthTime.
	AuthTime time.Time
	// FamilyID, when set, is the fid claim: the refresh-token family the
	// token was issued from, so that revoking the family revokes the token
	// ([Verifier.RevokeFamily]).
	FamilyID string
	// Lifetime overrides IssuerConfig.Lifetime for this token when positive.
	Lifetime time.Duration

	// Deprecated: use Lifetime; read only when Lifetime is zero.
	TTL time.Duration
}

// Issued is a signed token and what a caller may need to know about it.
//
// Printed or logged — String, GoString, Format, LogValue, on values and
// pointers alike — it shows everything but the token, which is a bearer
// credential.
type Issued struct {
	Token     string    // the compact JWS to hand to the client
	ID        string    // its jti
	KeyID     string    // the kid of the key that signed it
	IssuedAt  time.Time // its iat, to the millisecond
	ExpiresAt time.Time // its exp, a whole second
}

// redacted stands for a credential in formatted and logged output.
const redacted = "REDACTED"

// String describes is without its token.
func (is Issued) String() string {
	return "jwt.Issued{Token: " + redacted + ", ID: " + strconv.Quote(is.ID) + ", KeyID: " + strconv.Quote(is.KeyID) +
		", IssuedAt: " + is.IssuedAt.UTC().Format(time.RFC3339Nano) + ", ExpiresAt: " + is.ExpiresAt.UTC().Format(time.RFC3339) + "}"
}

// GoString implements fmt.GoStringer, for %#v; see [Issued.String].
func (is Issued) GoString() string { return is.String() }

// Format implements fmt.Formatter: every verb prints [Issued.String].
func (is Issued) Format(f fmt.State, verb rune) { formatRedacted(f, verb, is.String()) }

// LogValue implements slog.LogValuer: the token's ID, key ID and times,
// and REDACTED for the token.
func (is Issued) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token", redacted),
		slog.String("id", is.ID),
		slog.String("kid", is.KeyID),
		slog.Time("issued_at", is.IssuedAt),
		slog.Time("expires_at", is.ExpiresAt),
	)
}

// registered lists the claim names an Issuer writes or a Verifier reads;
// custom claims may not use them, in any letter case.
var registered = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "auth_time", "fid"}

// Issue signs a token for g with the current signing key. The header is
// {"alg","kid","typ"}; the claims are iss and aud (from the config), sub,
// exp, iat, a random jti, and scope, auth_time and fid when g sets them.
//
// iat carries milliseconds (a NumericDate may have a fraction, RFC 7519
// §2), so that [Verifier.RevokeSubject] can tell a token issued just after
// a revocation from one issued just before it. exp is a whole second.
func (i *Issuer) Issue(g Grant) (Issued, error) {
	return i.issue(g, nil)
}

// IssueClaims is [Issuer.Issue] with custom claims: custom is encoded with
// encoding/json and its members are added to the claims set. C is typically
// a struct with json tags, or a map[string]any. It must encode to a JSON
// object (or null, meaning none) whose names differ, in any letter case,
// from the registered claims Issue writes (iss, sub, aud, exp, nbf, iat,
// jti, scope, auth_time, fid); otherwise the error wraps [ErrInvalidGrant].
func IssueClaims[C any](i *Issuer, g Grant, custom C) (Issued, error) {
	b, err := json.Marshal(custom)
	if err != nil {
		return Issued{}, fmt.Errorf("%w: encoding custom claims: %v", ErrInvalidGrant, err)
	}
	return i.issue(g, b)
}

func (i *Issuer) issue(g Grant, custom []byte) (Issued, error) {
	key := i.keys.SigningKey()
	if key == nil {
		return Issued{}, fmt.Errorf("%w: the key set has no signing key", ErrInvalidKey)
	}
	ttl, err := i.lifetime(&g)
	if err != nil {
		return Issued{}, err
	}
	custom, err = checkCustom(custom)
	if err != nil {
		return Issued{}, err
	}
	iatMs := i.cfg.Now().UnixMilli()
	expMs := (iatMs + ttl.Milliseconds()) / 1000 * 1000
	jti := secret.Base62(jtiLen)
	p, err := i.appendClaims(make([]byte, 0, 192+len(g.Subject)+len(custom)+8*len(g.Scopes)), &g, custom, jti, iatMs, expMs)
	if err != nil {
		return Issued{}, err
	}
	hdr := i.header(key)
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(hdr)+1+enc.EncodedLen(len(p))+1+enc.EncodedLen(512))
	tok = append(tok, hdr...)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, p)
	sig, err := key.sign(tok)
	if err != nil {
		return Issued{}, fmt.Errorf("jwt: signing: %w", err)
	}
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return Issued{
		Token:     string(tok),
		ID:        jti,
		KeyID:     key.kid,
		IssuedAt:  time.UnixMilli(iatMs),
		ExpiresAt: time.UnixMilli(expMs),
	}, nil
}

// lifetime checks g's subject and lifetime and returns the token's
// lifetime: g's, or the config's.
func (i *Issuer) lifetime(g *Grant) (time.Duration, error) {
	if g.Subject == "" {
		return 0, fmt.Errorf("%w: no subject", ErrInvalidGrant)
	}
	ttl := i.cfg.Lifetime
	if g.Lifetime == 0 {
		g.Lifetime = g.TTL
	}
	if g.Lifetime < 0 {
		return 0, fmt.Errorf("%w: negative Lifetime", ErrInvalidGrant)
	}
	if g.Lifetime > 0 {
		ttl = g.Lifetime
	}
	if ttl < time.Second {
		return 0, fmt.Errorf("%w: Lifetime under one second", ErrInvalidGrant)
	}
	return ttl, nil
}

// appendClaims appends the claims set of g to p: iss, sub, aud, exp, iat,
// jti, then scope, auth_time and fid when g sets them, then the members of
// custom (already checked).
func (i *Issuer) appendClaims(p []byte, g *Grant, custom []byte, jti string, iatMs, expMs int64) ([]byte, error) {
	p = append(p, '{')
	p = append(p, i.iss...)
	var ok bool
	p = append(p, `"sub":`...)
	if p, ok = appendString(p, g.Subject); !ok {
		return nil, fmt.Errorf("%w: subject is not valid UTF-8", ErrInvalidGrant)
	}
	p = append(p, i.aud...)
	p = append(p, `,"exp":`...)
	p = appendNumericDate(p, expMs)
	p = append(p, `,"iat":`...)
	p = appendNumericDate(p, iatMs)
	p = append(p, `,"jti":"`...)
	p = append(p, jti...)
	p = append(p, '"')
	if len(g.Scopes) > 0 {
		p = append(p, `,"scope":"`...)
		for n, s := range g.Scopes {
			if !scopeToken(s) {
				return nil, fmt.Errorf("%w: scope %d is not an RFC 6749 scope token", ErrInvalidGrant, n)
			}
			if n > 0 {
				p = append(p, ' ')
			}
			p = append(p, s...)
		}
		p = append(p, '"')
	}
	if !g.AuthTime.IsZero() {
		at := g.AuthTime.Unix()
		if at <= 0 || at > maxNumericDate {
			return nil, fmt.Errorf("%w: auth_time out of range", ErrInvalidGrant)
		}
		p = append(p, `,"auth_time":`...)
		p = appendNumericDate(p, at*1000)
	}
	if g.FamilyID != "" {
		p = append(p, `,"fid":`...)
		if p, ok = appendString(p, g.FamilyID); !ok {
			return nil, fmt.Errorf("%w: family ID is not valid UTF-8", ErrInvalidGrant)
		}
	}
	if len(custom) > 0 {
		p = append(p, ',')
		p = append(p, custom...)
	}
	return append(p, '}'), nil
}

// checkCustom validates encoded custom claims and returns their members
// without the braces (nil when there are none).
func checkCustom(custom []byte) ([]byte, error) {
	if custom == nil || string(custom) == "null" {
		return nil, nil
	}
	sc := scanner{s: string(custom)}
	sc.ws()
	if sc.peek() != '{' {
		return nil, fmt.Errorf("%w: custom claims are not a JSON object", ErrInvalidGrant)
	}
	sc.i++
	var keys dupCheck
	for _, r := range registered {
		keys.seen(r)
	}
	for first := true; ; first = false {
		_, done, ok := sc.next(first, &keys)
		if !ok {
			return nil, fmt.Errorf("%w: custom claims reuse a registered claim name, repeat a name, or are not strict JSON", ErrInvalidGrant)
		}
		if done {
			break
		}
		if !sc.skipValue(1) {
			return nil, fmt.Errorf("%w: custom claims are not strict JSON", ErrInvalidGrant)
		}
	}
	if !sc.atEnd() {
		return nil, fmt.Errorf("%w: custom claims are not a JSON object", ErrInvalidGrant)
	}
	b := custom
	for len(b) > 0 && b[0] != '{' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] != '}' {
		b = b[:len(b)-1]
	}
	inner := b[1 : len(b)-1]
	for len(inner) > 0 && (inner[0] == ' ' || inner[0] == '\n' || inner[0] == '\t' || inner[0] == '\r') {
		inner = inner[1:]
	}
	if len(inner) == 0 {
		return nil, nil
	}
	return b[1 : len(b)-1], nil
}

// scopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (i *Issuer) header(k *Key) string {
	if h := i.hdr.Load(); h != nil && h.key == k {
		return h.enc
	}
	b := []byte(`{"alg":"` + string(k.alg) + `","kid":`)
	b, _ = appendString(b, k.kid) // a kid is valid UTF-8 by construction
	b = append(b, `,"typ":"`...)
	b = append(b, i.cfg.Type...)
	b = append(b, `"}`...)
	h := &encodedHeader{key: k, enc: base64.RawURLEncoding.EncodeToString(b)}
	i.hdr.Store(h)
	return h.enc
}
