package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/jwt"
)

// Bounds on identifiers taken from tokens.
const (
	maxSubjectLen = 255 // OpenID Connect Core §2: sub is at most 255 ASCII characters
	maxSIDLen     = 255
)

// IDToken is a verified ID token.
type IDToken struct {
	Provider  string    // the configured provider name
	Issuer    string    // iss, equal to the provider's Issuer
	Subject   string    // sub: the user's identifier at the provider, stable and never reassigned
	Audience  []string  // aud, containing the client ID
	Expiry    time.Time // exp
	IssuedAt  time.Time // iat
	AuthTime  time.Time // auth_time; zero when absent
	SessionID string    // sid: the provider's session, for back-channel logout; empty when absent
	KeyID     string    // the kid of the key that verified the signature
	Algorithm string    // the signature algorithm

	// Email, EmailVerified and Name are copied from the claims of the same
	// names when they have the standard types. An email is verified only
	// if EmailVerified says so, and even then it can be reassigned later:
	// use it to contact the user, not to identify them.
	Email         string
	EmailVerified bool
	Name          string

	// Claims holds every claim, decoded with encoding/json.
	Claims map[string]any
}

// idClaims is the claims set as raw JSON values, decoded one by one with
// their required types.
type idClaims = map[string]json.RawMessage

// stringClaim decodes claim name as a string. It reports ok=false when the
// claim is present but not a string.
func stringClaim(c idClaims, name string) (v string, present, ok bool) {
	raw, present := c[name]
	if !present {
		return "", false, true
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, false
	}
	return v, true, true
}

// idTokenCheck is what verifyIDToken checks beyond the jwt verifier.
type idTokenCheck struct {
	nonce       string // required unless empty (tokens from a refresh carry none)
	accessToken string // checked against at_hash when both are present
}

// verifyIDToken verifies raw with the provider's verifier and the OpenID
// Connect Core §3.1.3.7 rules the jwt verifier does not know: every
// audience trusted, azp, nonce, at_hash, auth_time against MaxAge.
func (p *provider) verifyIDToken(ctx context.Context, d *discovered, raw string, chk idTokenCheck) (*IDToken, error) {
	claims, c, err := jwt.VerifyClaims[idClaims](ctx, d.idt, raw)
	if err != nil {
		return nil, verifyError(ErrIDToken, "ID token", err)
	}
	refuse := func(why string) (*IDToken, error) { return nil, fmt.Errorf("%w: %s", ErrIDToken, why) }
	if len(claims.Subject) > maxSubjectLen {
		return refuse("sub is longer than 255 characters")
	}
	for _, a := range claims.Audience {
		if a != p.cfg.ClientID && !slices.Contains(p.cfg.TrustedAudiences, a) {
			return refuse("aud names an untrusted audience")
		}
	}
	azp, hasAZP, ok := stringClaim(c, "azp")
	if !ok || hasAZP && azp != p.cfg.ClientID {
		return refuse("azp is not this client")
	}
	if len(claims.Audience) > 1 && !hasAZP {
		return refuse("several audiences and no azp")
	}
	nonce, hasNonce, ok := stringClaim(c, "nonce")
	if !ok {
		return refuse("nonce is not a string")
	}
	if chk.nonce != "" && (!hasNonce || subtle.ConstantTimeCompare([]byte(nonce), []byte(chk.nonce)) != 1) {
		return refuse("nonce is not the flow's")
	}
	alg := headerAlg(raw)
	atHash, hasAtHash, ok := stringClaim(c, "at_hash")
	if !ok {
		return refuse("at_hash is not a string")
	}
	if hasAtHash && chk.accessToken != "" {
		want, ok := tokenHash(alg, chk.accessToken)
		if !ok || subtle.ConstantTimeCompare([]byte(atHash), []byte(want)) != 1 {
			return refuse("at_hash does not match the access token")
		}
	}
	if p.cfg.MaxAge > 0 {
		if claims.AuthTime.IsZero() {
			return refuse("auth_time is missing although max_age was requested")
		}
		if p.rp.now().Sub(claims.AuthTime) > p.cfg.MaxAge+p.rp.cfg.Leeway {
			return refuse("auth_time is older than max_age")
		}
	}
	sid, _, ok := stringClaim(c, "sid")
	if !ok || len(sid) > maxSIDLen {
		return refuse("sid is not a string of at most 255 characters")
	}
	t := &IDToken{
		Provider:  p.cfg.Name,
		Issuer:    claims.Issuer,
		Subject:   claims.Subject,
		Audience:  slices.Clone(claims.Audience),
		Expiry:    claims.ExpiresAt,
		IssuedAt:  claims.IssuedAt,
		AuthTime:  claims.AuthTime,
		SessionID: sid,
		KeyID:     claims.KeyID,
		Algorithm: alg,
		Claims:    make(map[string]any, len(c)),
	}
	for k, v := range c {
		var x any
		if json.Unmarshal(v, &x) == nil {
			t.Claims[k] = x
		}
	}
	t.setProfile()
	return t, nil
}

// setProfile fills the profile fields from the claims.
func (t *IDToken) setProfile() {
	t.Email, _ = t.Claims["email"].(string)
	t.EmailVerified, _ = t.Claims["email_verified"].(bool)
	t.Name, _ = t.Claims["name"].(string)
}

// VerifyIDToken verifies an ID token of provider that reached the
// application some other way than this package's flow — from a mobile app
// or a browser library that signed the user in itself — with every check
// the callback makes (see the package documentation). nonce is the value
// the application put in that sign-in's request; it must match. An empty
// nonce skips the check, which lets a stolen ID token be replayed until it
// expires: use it only for tokens whose issuance the application did not
// start. It does not log a session in.
func (rp *RelyingParty) VerifyIDToken(ctx context.Context, provider, raw, nonce string) (*IDToken, error) {
	p, err := rp.provider(provider)
	if err != nil {
		return nil, err
	}
	d, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	return p.verifyIDToken(ctx, d, raw, idTokenCheck{nonce: nonce})
}

// verifyError wraps an error of the jwt verifier: a refused token with
// sentinel, a failure to decide (store or key set unavailable) without it,
// so that callers answer 503 rather than "invalid".
func verifyError(sentinel error, what string, err error) error {
	if errors.Is(err, authkit.ErrInvalidCredentials) {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return fmt.Errorf("oidc: verifying the %s: %w", what, err)
}

// headerAlg returns the alg of a verified compact JWS, "" if unreadable.
func headerAlg(raw string) string {
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var v struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	return v.Alg
}

// tokenHash computes at_hash or c_hash (OpenID Connect Core §3.1.3.6): the
// left half of the hash of the ASCII token with the hash function of the
// ID token's algorithm, base64url without padding. EdDSA with Ed25519
// uses SHA-512, as OpenID Connect specifies for it.
func tokenHash(alg, token string) (string, bool) {
	var h hash.Hash
	switch jwt.Algorithm(alg) {
	case jwt.RS256, jwt.PS256, jwt.ES256:
		h = sha256.New()
	case jwt.ES384:
		h = sha512.New384()
	case jwt.EdDSA:
		h = sha512.New()
	default:
		return "", false
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), true
}

// IDToken returns the ID token the request's session (ctx from a request
// behind the session Middleware) was signed in with — or the latest one,
// when a refresh brought a new one — decoded from the session's encrypted
// grant record. It was verified when it arrived and is not verified again:
// it may have expired since, which says nothing about the session. It
// returns ErrNotSignedIn, ErrNoTokens when the record is gone or
// unreadable, or a store error.
func (rp *RelyingParty) IDToken(ctx context.Context) (*IDToken, error) {
	l, err := rp.sessionLink(ctx)
	if err != nil {
		return nil, err
	}
	g, _, _, err := rp.loadGrant(ctx, l)
	if err != nil {
		return nil, err
	}
	return decodeIDToken(g.Provider, g.IDToken)
}

// decodeIDToken reads a compact JWS that was verified before, without
// checking it again.
func decodeIDToken(provider, raw string) (*IDToken, error) {
	h, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	hb, err1 := base64.RawURLEncoding.DecodeString(h)
	pb, err2 := base64.RawURLEncoding.DecodeString(payload)
	var head struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var c map[string]any
	// A payload of JSON null decodes without error to a nil map; it is no
	// claims object.
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &head) != nil || json.Unmarshal(pb, &c) != nil || c == nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTokens, errGrant)
	}
	t := &IDToken{Provider: provider, Claims: c, Algorithm: head.Alg, KeyID: head.Kid}
	t.Issuer, _ = c["iss"].(string)
	t.Subject, _ = c["sub"].(string)
	t.SessionID, _ = c["sid"].(string)
	switch a := c["aud"].(type) {
	case string:
		t.Audience = []string{a}
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok {
				t.Audience = append(t.Audience, s)
			}
		}
	}
	for name, dst := range map[string]*time.Time{"exp": &t.Expiry, "iat": &t.IssuedAt, "auth_time": &t.AuthTime} {
		if f, ok := c[name].(float64); ok && f > 0 {
			*dst = time.UnixMilli(int64(f * 1000))
		}
	}
	t.setProfile()
	return t, nil
}
