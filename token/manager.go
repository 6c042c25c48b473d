package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
	"github.com/authkit/authkit/store"
)

// Defaults for the zero fields of [Config].
const (
	DefaultAccessPrefix         = "ak_at_"
	DefaultRefreshPrefix        = "ak_rt_"
	DefaultOneTimePrefix        = "ak_ot_"
	DefaultAccessLifetime       = time.Hour
	DefaultRefreshIdleTimeout   = 14 * 24 * time.Hour
	DefaultRefreshLifetime      = 30 * 24 * time.Hour
	DefaultOneTimeLifetime      = 15 * time.Minute
	DefaultMaxPerSubject        = 100
	DefaultMaxOneTimePerSubject = 10
	DefaultMaxFamilies          = 50
	DefaultMaxFamilyAccess      = 8
)

// Hard limits on [Config] and per-call settings.
const (
	// MaxGrace is the longest [Config.Grace] New accepts.
	MaxGrace = 10 * time.Second
	// MaxOneTimeLifetime is the longest lifetime of a one-time token.
	MaxOneTimeLifetime = 7 * 24 * time.Hour
)

// Deprecated names of the constants above, kept for one release.
const (
	// Deprecated: use DefaultAccessLifetime.
	DefaultAccessTTL = DefaultAccessLifetime
	// Deprecated: use DefaultOneTimeLifetime.
	DefaultOneTimeTTL = DefaultOneTimeLifetime
	// Deprecated: use DefaultMaxPerSubject.
	DefaultMaxTokens = DefaultMaxPerSubject
	// Deprecated: use MaxOneTimeLifetime.
	MaxOneTimeTTL = MaxOneTimeLifetime
)

// Config configures a [Manager]. The zero value gives safe defaults. A Config
// must not be changed after it is passed to [New].
type Config struct {
	// AccessPrefix, RefreshPrefix and OneTimePrefix start the tokens of each
	// kind, so that secret scanners can find leaked tokens and a bearer token
	// of another kind is recognised without a store lookup. Each is 2 to
	// MaxPrefixLen characters of [a-z0-9_] ending in "_"; they must differ
	// and none may start another. Empty means "ak_at_", "ak_rt_", "ak_ot_".
	// Changing a prefix invalidates every token issued with the old one.
	AccessPrefix, RefreshPrefix, OneTimePrefix string

	// AccessLifetime is the lifetime of an access token when the issuer does not
	// give one, and of every access token issued with a refresh token (never
	// past its family's absolute lifetime). Zero means DefaultAccessLifetime (1 h).
	AccessLifetime time.Duration

	// RefreshIdleTimeout ends a refresh family that has not been rotated
	// for this long (RFC 9700 §4.14.2: refresh tokens should expire after a
	// period of inactivity). Zero means DefaultRefreshIdleTimeout (14 days).
	RefreshIdleTimeout time.Duration

	// RefreshLifetime is the absolute lifetime of a refresh family, counted
	// from its creation, however often it is rotated. Zero means
	// DefaultRefreshLifetime (30 days).
	RefreshLifetime time.Duration

	// Grace makes a retried refresh idempotent: within Grace after a
	// rotation, presenting the token just rotated out again returns the same
	// successor and revokes nothing, so a client whose response was lost on
	// the network keeps its session. Zero (the default) means no window:
	// any second use of a refresh token revokes its family. At most MaxGrace
	// (10 s); New panics beyond it. The window also covers the one store
	// failure after which a client's retry can count as reuse (see
	// "Failures and retries" on [Manager.Refresh]).
	//
	// RISK: inside the window, a thief who holds the predecessor token gets
	// the successor undetected, just as its rightful holder would. Keep the
	// window as short as your clients' retries allow. A token two rotations
	// old, or the predecessor after the window, is reuse as always.
	Grace time.Duration

	// OneTimeLifetime is the lifetime of a one-time token when the issuer does
	// not give one. Zero means DefaultOneTimeLifetime (15 min). At most
	// MaxOneTimeLifetime.
	OneTimeLifetime time.Duration

	// MaxPerSubject caps the live access tokens from Issue one subject may
	// hold (an index record per subject lists them); issuing past the cap
	// revokes the oldest. Zero means DefaultMaxPerSubject (100); at most 1000.
	MaxPerSubject int

	// MaxOneTimePerSubject caps the live one-time tokens one subject may
	// hold, in an index of their own: issuing past the cap revokes the
	// oldest one-time token, never an access token, so a flood of "forgot
	// password" requests for someone signs nobody out. (Throttle such
	// requests too: each one still sends an email.) Zero means
	// DefaultMaxOneTimePerSubject (10); at most 1000.
	MaxOneTimePerSubject int

	// Deprecated: use AccessLifetime; read only when AccessLifetime is zero.
	AccessTTL time.Duration
	// Deprecated: use OneTimeLifetime; read only when OneTimeLifetime is zero.
	OneTimeTTL time.Duration
	// Deprecated: use MaxPerSubject; read only when MaxPerSubject is zero.
	MaxTokens int

	// MaxFamilies caps the live refresh families (signed-in devices) of
	// one subject; issuing past the cap revokes the oldest family. Zero
	// means DefaultMaxFamilies (50); at most 1000.
	MaxFamilies int

	// MaxFamilyAccess caps the live access tokens a refresh family tracks
	// (those issued by IssuePair and RefreshPair, which revoking the family
	// ends); issuing past the cap revokes the oldest. Zero means
	// DefaultMaxFamilyAccess (8); at most 64.
	MaxFamilyAccess int

	// LastUseInterval, when positive, makes Verify record when an access
	// token was last used, writing at most once per interval per token
	// rather than on every request. Zero disables last-use tracking:
	// verification is then exactly one store read.
	LastUseInterval time.Duration

	// FamilyRevoked, when set, is called whenever a refresh family is
	// revoked, as the listeners of [Manager.OnFamilyRevoked] are, but it
	// cannot report a failure. Prefer OnFamilyRevoked, whose error makes
	// the revocation fail rather than being lost, and which can be
	// registered after New.
	FamilyRevoked func(ctx context.Context, fam FamilyInfo)

	// Events receives security events: refresh rotations and reuse,
	// revocations, refused tokens. Nil means none are reported.
	Events authkit.EventFunc

	// Logger receives failures of best-effort writes (last-use updates,
	// cleanup after a revocation). Nil means slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Manager issues, verifies and revokes opaque access tokens, refresh tokens
// and one-time tokens kept in a [store.Store]. It is safe for concurrent use.
//
// Manager implements [authkit.Authenticator] (Method "token") and
// [authkit.Revoker].
type Manager struct {
	st       store.Store
	cfg      Config
	tokens   index.Index // tidx: access tokens from Issue per subject (and one-time tokens issued before oneTime existed)
	oneTime  index.Index // otidx: one-time tokens per subject
	families index.Index // rtfidx: refresh families per subject
	log      *slog.Logger

	listenMu  sync.Mutex                       // serializes OnFamilyRevoked
	listeners atomic.Pointer[[]FamilyListener] // copied on write
}

// FamilyListener is told that a refresh family was revoked; see
// [Manager.OnFamilyRevoked].
type FamilyListener func(ctx context.Context, fam FamilyInfo) error

// OnFamilyRevoked registers fn to be called whenever a refresh family is
// revoked — by [Manager.RevokeFamily], [Manager.RevokeToken],
// [Manager.RevokeSubject], the revocation endpoint, reuse detection in
// [Manager.Refresh] or the Config.MaxFamilies cap — with the family
// (Revoked set). An access credential this package does not track, such as
// a JWT carrying FamilyInfo.ID, is ended from here.
//
// fn runs synchronously, after the family record is revoked. Its error is
// never only logged: it makes the revocation return an error and leaves it
// unfinished — the revoked family record remembers that its listeners have
// not all succeeded — so that the next revocation of the family
// (RevokeFamily, RevokeSubject, the next update of the subject's family
// index, a refresh with one of the family's tokens) calls every listener
// again. fn must therefore be idempotent, and safe for concurrent use.
// Listeners can be registered at any time, also after the Manager is in
// use (its Config is fixed at New); they cannot be removed. A family
// revoked while no listener (and no Config.FamilyRevoked) was registered
// is not reported to listeners registered later. It panics if fn is nil.
func (m *Manager) OnFamilyRevoked(fn FamilyListener) {
	if fn == nil {
		panic("token: OnFamilyRevoked given a nil function")
	}
	m.listenMu.Lock()
	defer m.listenMu.Unlock()
	var next []FamilyListener
	if cur := m.listeners.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, fn)
	m.listeners.Store(&next)
}

// notifyRevoked calls Config.FamilyRevoked and every listener with fam,
// each once whatever the others return, and joins their errors.
func (m *Manager) notifyRevoked(ctx context.Context, fam FamilyInfo) error {
	if m.cfg.FamilyRevoked != nil {
		m.cfg.FamilyRevoked(ctx, fam)
	}
	ls := m.listeners.Load()
	if ls == nil {
		return nil
	}
	var errs []error
	for _, fn := range *ls {
		if err := fn(ctx, fam); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token: a family-revoked listener failed: %w", err)
	}
	return nil
}

var (
	_ authkit.Authenticator = (*Manager)(nil)
	_ authkit.Revoker       = (*Manager)(nil)
)

// NewWithConfig is New.
//
// Deprecated: use [New], which takes the Config.
func NewWithConfig(st store.Store, cfg Config) *Manager { return New(st, cfg) }

// New returns a Manager keeping its records in st, configured by cfg; the
// zero Config is valid and gives the defaults documented on its fields. It
// panics if st is nil or cfg is invalid: a bad prefix, a negative duration
// or cap, Grace above MaxGrace, OneTimeLifetime above MaxOneTimeLifetime.
func New(st store.Store, cfg Config) *Manager {
	if st == nil {
		panic("token: New given a nil store")
	}
	cfg.setPrefixes()
	cfg.setLimits()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{st: st, cfg: cfg, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.tokens = index.Index{Store: st, Prefix: tokenIdx, Max: cfg.MaxPerSubject, Now: cfg.Now}
	m.oneTime = index.Index{Store: st, Prefix: oneTimeIdx, Max: cfg.MaxOneTimePerSubject, Now: cfg.Now}
	m.families = index.Index{Store: st, Prefix: familyIdx, Max: cfg.MaxFamilies, Now: cfg.Now}
	return m
}

// setPrefixes fills in the default token prefixes and panics on a bad or
// ambiguous one.
func (cfg *Config) setPrefixes() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&cfg.AccessPrefix, DefaultAccessPrefix)
	def(&cfg.RefreshPrefix, DefaultRefreshPrefix)
	def(&cfg.OneTimePrefix, DefaultOneTimePrefix)
	prefixes := []string{cfg.AccessPrefix, cfg.RefreshPrefix, cfg.OneTimePrefix}
	for i, p := range prefixes {
		if !checkPrefix(p) {
			panic(fmt.Sprintf("token: invalid token prefix %q: want 2..%d of [a-z0-9_] ending in _", p, MaxPrefixLen))
		}
		for j, q := range prefixes {
			if i != j && strings.HasPrefix(p, q) {
				panic(fmt.Sprintf("token: token prefixes %q and %q are ambiguous", q, p))
			}
		}
	}
}

// setLimits fills in the default durations and caps (reading the
// deprecated fields first) and panics on one out of bounds.
func (cfg *Config) setLimits() {
	if cfg.AccessLifetime == 0 {
		cfg.AccessLifetime = cfg.AccessTTL
	}
	if cfg.OneTimeLifetime == 0 {
		cfg.OneTimeLifetime = cfg.OneTimeTTL
	}
	if cfg.MaxPerSubject == 0 {
		cfg.MaxPerSubject = cfg.MaxTokens
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"AccessLifetime", &cfg.AccessLifetime, DefaultAccessLifetime},
		{"RefreshIdleTimeout", &cfg.RefreshIdleTimeout, DefaultRefreshIdleTimeout},
		{"RefreshLifetime", &cfg.RefreshLifetime, DefaultRefreshLifetime},
		{"OneTimeLifetime", &cfg.OneTimeLifetime, DefaultOneTimeLifetime},
		{"Grace", &cfg.Grace, 0},
		{"LastUseInterval", &cfg.LastUseInterval, 0},
	}
	for _, d := range durations {
		if *d.v < 0 {
			panic(fmt.Sprintf("token: Config.%s is negative", d.name))
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.Grace > MaxGrace {
		panic(fmt.Sprintf("token: Config.Grace %v exceeds MaxGrace (%v)", cfg.Grace, MaxGrace))
	}
	if cfg.OneTimeLifetime > MaxOneTimeLifetime {
		panic(fmt.Sprintf("token: Config.OneTimeLifetime %v exceeds MaxOneTimeLifetime (%v)", cfg.OneTimeLifetime, MaxOneTimeLifetime))
	}
	caps := []struct {
		name     string
		v        *int
		def, max int
	}{
		{"MaxPerSubject", &cfg.MaxPerSubject, DefaultMaxPerSubject, index.MaxMembers},
		{"MaxOneTimePerSubject", &cfg.MaxOneTimePerSubject, DefaultMaxOneTimePerSubject, index.MaxMembers},
		{"MaxFamilies", &cfg.MaxFamilies, DefaultMaxFamilies, index.MaxMembers},
		{"MaxFamilyAccess", &cfg.MaxFamilyAccess, DefaultMaxFamilyAccess, maxFamilyAccess},
	}
	for _, c := range caps {
		if *c.v == 0 {
			*c.v = c.def
		}
		if *c.v < 0 || *c.v > c.max {
			panic(fmt.Sprintf("token: Config.%s must be in 1..%d", c.name, c.max))
		}
	}
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// KindOf tells which kind of this Manager's tokens t is, from its prefix and
// format alone, without a store lookup. It returns KindUnknown for anything
// else, including a token of the right prefix with a bad checksum.
func (m *Manager) KindOf(t Token) Kind {
	switch {
	case wellFormed(t, m.cfg.AccessPrefix, secretLen):
		return KindAccess
	case wellFormed(t, m.cfg.RefreshPrefix, locatorLen+secretLen):
		return KindRefresh
	case wellFormed(t, m.cfg.OneTimePrefix, secretLen):
		return KindOneTime
	}
	return KindUnknown
}

// refreshLocator returns the family locator of a well-formed refresh token.
func (m *Manager) refreshLocator(t Token) (string, bool) {
	if !wellFormed(t, m.cfg.RefreshPrefix, locatorLen+secretLen) {
		return "", false
	}
	p := len(m.cfg.RefreshPrefix)
	return string(t[p : p+locatorLen]), true
}

func (m *Manager) emit(ctx context.Context, typ authkit.EventType, subject, reason string) {
	if m.cfg.Events == nil {
		return
	}
	m.cfg.Events(ctx, authkit.Event{Type: typ, Time: m.now(), Method: authkit.MethodToken, Subject: subject, Reason: reason})
}

// reason names a refusal for events; it is never shown to clients.
func reason(err error) string {
	switch err {
	case ErrMalformed:
		return authkit.ReasonMalformed
	case ErrNotFound:
		return authkit.ReasonUnknown
	case ErrExpired:
		return authkit.ReasonExpired
	case ErrRevoked:
		return authkit.ReasonRevoked
	case ErrReused:
		return authkit.ReasonReuse
	case ErrClientMismatch:
		return "client_mismatch"
	}
	return "error"
}

// ---- argument checks ----

func validSubject(s string) bool {
	return s != "" && len(s) <= MaxSubjectLen && utf8.ValidString(s)
}

func validClientID(s string) bool {
	return len(s) <= MaxClientIDLen && utf8.ValidString(s)
}

// validScope reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), at most MaxScopeLen bytes.
func validScope(s string) bool {
	if s == "" || len(s) > MaxScopeLen {
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

// validPurpose reports whether s is a one-time token purpose: 1..MaxPurposeLen
// printable ASCII characters.
func validPurpose(s string) bool {
	if s == "" || len(s) > MaxPurposeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func checkCommon(subject, clientID string, scopes []string, meta map[string]string) error {
	if !validSubject(subject) {
		return fmt.Errorf("%w: subject must be 1..%d bytes of UTF-8", ErrInvalidOptions, MaxSubjectLen)
	}
	if !validClientID(clientID) {
		return fmt.Errorf("%w: client ID must be at most %d bytes of UTF-8", ErrInvalidOptions, MaxClientIDLen)
	}
	if len(scopes) > MaxScopes {
		return fmt.Errorf("%w: more than %d scopes", ErrInvalidOptions, MaxScopes)
	}
	for _, s := range scopes {
		if !validScope(s) {
			return fmt.Errorf("%w: a scope is not an RFC 6749 scope-token of at most %d bytes", ErrInvalidOptions, MaxScopeLen)
		}
	}
	if len(meta) > MaxMetadata {
		return fmt.Errorf("%w: more than %d metadata entries", ErrInvalidOptions, MaxMetadata)
	}
	for k, v := range meta {
		if k == "" || len(k) > MaxMetadataKeyLen || len(v) > MaxMetadataValueLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: metadata keys must be 1..%d and values at most %d bytes of UTF-8", ErrInvalidOptions, MaxMetadataKeyLen, MaxMetadataValueLen)
		}
	}
	return nil
}

func cloneScopes(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
