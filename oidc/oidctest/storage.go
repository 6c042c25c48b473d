package oidctest

// The in-memory op.Storage of the stand-in provider. It follows the shape of
// the example storage in github.com/zitadel/oidc (example/server/storage,
// Apache License 2.0), reduced to what the authorization code flow, refresh
// tokens and logout need, with provider sessions (sid) added.

import (
	"context"
	"crypto"
	"errors"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authkit/authkit/internal/secret"
)

var errNotFound = errors.New("oidctest: not found")

// authRequest is one authorization request, from /authorize to the code
// exchange.
type authRequest struct {
	id        string
	clientID  string
	redirect  string
	state     string
	nonce     string
	scopes    []string
	respType  oidc.ResponseType
	respMode  oidc.ResponseMode
	challenge *oidc.CodeChallenge
	created   time.Time

	subject  string
	sid      string
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirect }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.respType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.respMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// refreshToken is a rotating refresh token.
type refreshToken struct {
	token    string
	clientID string
	subject  string
	sid      string
	scopes   []string
	authTime time.Time
	expires  time.Time
}

func (r *refreshToken) GetAMR() []string             { return []string{"pwd"} }
func (r *refreshToken) GetAudience() []string        { return []string{r.clientID} }
func (r *refreshToken) GetAuthTime() time.Time       { return r.authTime }
func (r *refreshToken) GetClientID() string          { return r.clientID }
func (r *refreshToken) GetScopes() []string          { return r.scopes }
func (r *refreshToken) GetSubject() string           { return r.subject }
func (r *refreshToken) SetCurrentScopes(sc []string) { r.scopes = sc }
func (r *refreshToken) sessionID() string            { return r.sid }
func (r *refreshToken) valid(now time.Time) bool     { return now.Before(r.expires) }

func (a *authRequest) sessionID() string          { return a.sid }
func (a *authRequest) expired(now time.Time) bool { return now.Sub(a.created) > 10*time.Minute }

func (c *client) confidential() bool  { return c.cfg.Secret != "" }
func (c *client) backChannel() string { return c.cfg.BackChannelLogoutURI }

func (s *storage) signing() *signingKey          { return s.keys[0] }
func (s *storage) now() time.Time                { return time.Now() }
func (s *storage) accessLifetime() time.Duration { return s.cfg.AccessTokenLifetime }

// refreshLifetime is the lifetime of refresh tokens.
const refreshLifetime = 24 * time.Hour

// session is a provider session: one sign-in of a user at the provider,
// named by the sid claim of the ID tokens issued in it.
type session struct {
	sid     string
	subject string
	clients map[string]bool // clients that received tokens in this session
}

// signingKey is a key of the provider's JWKS; the first one signs.
type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is the published half of a signingKey.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.key.Public() }

// client is a registered client.
type client struct{ cfg Client }

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.confidential() {
		return op.ApplicationTypeWeb
	}
	return op.ApplicationTypeNative
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.confidential() {
		return oidc.AuthMethodBasic
	}
	return oidc.AuthMethodNone
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string            { return "/login?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// storage implements op.Storage in memory.
type storage struct {
	cfg *Config

	mu       sync.Mutex
	clients  map[string]*client
	users    map[string]*User // by subject
	requests map[string]*authRequest
	codes    map[string]string // code → request ID
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	sessions map[string]*session
	keys     []*signingKey

	// onTerminate is called, without mu held, with the sessions ended by
	// an end-session request, to send back-channel logout tokens.
	onTerminate func(ctx context.Context, ended []*session)
}

type accessToken struct {
	id       string
	clientID string
	subject  string
	scopes   []string
	expires  time.Time
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// authenticate marks request id as done for the user whose username and
// password match, starting a provider session.
func (s *storage) authenticate(id, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok || req.expired(s.now()) {
		return errNotFound
	}
	for _, u := range s.users {
		if u.Username == username && u.Password == password {
			sid := secret.Base62(22)
			s.sessions[sid] = &session{sid: sid, subject: u.Subject, clients: map[string]bool{}}
			req.subject, req.sid, req.authTime, req.done = u.Subject, sid, s.now(), true
			return nil
		}
	}
	return errors.New("oidctest: wrong username or password")
}

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if len(r.Prompt) == 1 && r.Prompt[0] == oidc.PromptNone {
		return nil, oidc.ErrLoginRequired()
	}
	req := &authRequest{
		id:       secret.Base62(22),
		clientID: r.ClientID,
		redirect: r.RedirectURI,
		state:    r.State,
		nonce:    r.Nonce,
		scopes:   r.Scopes,
		respType: r.ResponseType,
		respMode: r.ResponseMode,
		created:  s.now(),
	}
	if r.CodeChallenge != "" {
		req.challenge = &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod}
	}
	s.mu.Lock()
	s.requests[req.id] = req
	s.mu.Unlock()
	return req, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok {
		return nil, errNotFound
	}
	return req, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called once the code is exchanged: the code dies
// with its request, so a second exchange fails.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req, ok := s.requests[id]; ok && req.sid != "" {
		if sess := s.sessions[req.sid]; sess != nil {
			sess.clients[req.clientID] = true
		}
	}
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	t := s.newAccess(r)
	return t.id, t.expires, nil
}

func (s *storage) newAccess(r op.TokenRequest) *accessToken {
	var clientID string
	if c, ok := r.(interface{ GetClientID() string }); ok {
		clientID = c.GetClientID()
	}
	t := &accessToken{
		id:       secret.Base62(22),
		clientID: clientID,
		subject:  r.GetSubject(),
		scopes:   r.GetScopes(),
		expires:  s.now().Add(s.accessLifetime()),
	}
	s.mu.Lock()
	s.access[t.id] = t
	s.mu.Unlock()
	return t
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token.
// Given the current refresh token (a refresh grant), it rotates it: the old
// one stops working.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, r op.TokenRequest, current string) (string, string, time.Time, error) {
	at := s.newAccess(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := &refreshToken{token: secret.Base62(32), subject: r.GetSubject(), scopes: r.GetScopes(), expires: s.now().Add(refreshLifetime)}
	switch req := r.(type) {
	case *authRequest:
		rt.clientID, rt.sid, rt.authTime = req.clientID, req.sid, req.authTime
	case *refreshToken:
		old, ok := s.refresh[current]
		if !ok || !old.valid(s.now()) {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		delete(s.refresh, current)
		rt.clientID, rt.sid, rt.authTime = old.clientID, old.sid, old.authTime
	default:
		return "", "", time.Time{}, errors.New("oidctest: unsupported token request")
	}
	s.refresh[rt.token] = rt
	return at.id, rt.token, at.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || !rt.valid(s.now()) {
		return nil, op.ErrInvalidRefreshToken
	}
	if sess := s.sessions[rt.sid]; rt.sid != "" && sess == nil {
		return nil, op.ErrInvalidRefreshToken // the provider session ended
	}
	cp := *rt
	return &cp, nil
}

func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	_, err := s.TerminateSessionFromRequest(ctx, &op.EndSessionRequest{UserID: userID, ClientID: clientID})
	return err
}

// TerminateSessionFromRequest ends every provider session of the user the
// id_token_hint names, with their tokens, and tells the clients through
// back-channel logout.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	if r.UserID != "" {
		s.endSessions(ctx, r.UserID)
	}
	return r.RedirectURI, nil
}

// endSessions ends every provider session of subject and reports them to
// onTerminate.
func (s *storage) endSessions(ctx context.Context, subject string) int {
	s.mu.Lock()
	var ended []*session
	for sid, sess := range s.sessions {
		if sess.subject == subject {
			ended = append(ended, sess)
			delete(s.sessions, sid)
		}
	}
	for tok, rt := range s.refresh {
		if rt.subject == subject {
			delete(s.refresh, tok)
		}
	}
	for id, at := range s.access {
		if at.subject == subject {
			delete(s.access, id)
		}
	}
	s.mu.Unlock()
	if len(ended) > 0 && s.onTerminate != nil {
		s.onTerminate(ctx, ended)
	}
	return len(ended)
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refresh[token]
	if !ok || rt.clientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.access[tokenOrID]; ok && at.clientID == clientID {
		delete(s.access, tokenOrID)
	}
	if rt, ok := s.refresh[tokenOrID]; ok && rt.clientID == clientID {
		delete(s.refresh, tokenOrID)
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signing(), nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []jose.SignatureAlgorithm{s.signing().alg}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errNotFound
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, sec string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || !c.confidential() || c.cfg.Secret != sec {
		return errors.New("oidctest: invalid client")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims, and its sid.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	s.userinfo(info, r.GetSubject(), scopes)
	if x, ok := r.(interface{ sessionID() string }); ok && x.sessionID() != "" {
		info.AppendClaims("sid", x.sessionID())
	}
	return nil
}

func (s *storage) userinfo(info *oidc.UserInfo, subject string, scopes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[subject]
	if u == nil {
		return
	}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID:
			info.Subject = u.Subject
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		}
	}
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	at, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || !s.now().Before(at.expires) {
		return errors.New("oidctest: invalid access token")
	}
	s.userinfo(info, subject, at.scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	at, ok := s.access[tokenID]
	s.mu.Unlock()
	if !ok || !s.now().Before(at.expires) || at.clientID != clientID {
		return errors.New("oidctest: invalid access token")
	}
	resp.Subject, resp.ClientID, resp.Scope = subject, at.clientID, at.scopes
	resp.Expiration = oidc.FromTime(at.expires)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotFound
}

func (s *storage) Health(context.Context) error { return nil }
