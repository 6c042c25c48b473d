package keyring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/jwt"
	"github.com/authkit/authkit/store"
)

// Purpose names of the cookie keys most applications need. Any other name of
// lower-case letters, digits and hyphens (1 to 64, not starting with "jwt-")
// works as well; each purpose has its own keys and record.
const (
	CookieSeal = "cookie-seal" // keys of a Codec used with Seal and Open
	CookieSign = "cookie-sign" // keys of a Codec used with Sign and Verify
)

// JWTPurpose returns the purpose name of the JWT keys of alg: "jwt-" + alg.
// It is the name [Keyring.KeySet] uses, and the one to give
// [Keyring.Rotate], [Keyring.Revoke] and [KeyInfo.Purpose].
func JWTPurpose(alg jwt.Algorithm) string { return "jwt-" + string(alg) }

// Events the keyring reports through Config.Events, only from the server
// whose write made the change. Subject is "purpose/keyID"; Reason says why.
const (
	// EventKeyCreated: a key was added. Reason: "scheduled" (the rotation
	// schedule), "manual" ([Keyring.Rotate]), "first" (a new keyring),
	// "replacement" (the signing key was revoked; the new key signs at
	// once).
	EventKeyCreated authkit.EventType = "key_created"
	// EventKeyRevoked: a key was revoked with [Keyring.Revoke].
	EventKeyRevoked authkit.EventType = "key_revoked"
	// EventKeyRemoved: a key's verify window ended and it left the record.
	EventKeyRemoved authkit.EventType = "key_removed"
	// EventKeysReencrypted: the keys were re-encrypted under the first KEK
	// (Reason "kek"), or written back after the record vanished from the
	// store (Reason "restored").
	EventKeysReencrypted authkit.EventType = "keys_reencrypted"
)

// Defaults of Config.
const (
	DefaultReloadInterval     = time.Minute
	DefaultUnknownKeyInterval = time.Second
	DefaultReloadTimeout      = 5 * time.Second
)

// storePrefix namespaces keyring records in the store.
const storePrefix = "kring:"

// Config configures a [Keyring]. Only KEKs is required. A Config must not be
// changed after it is passed to [New].
type Config struct {
	// KEKs are the key-encryption keys, from [KEKsFromEnv] or
	// [KEKsFromFile]: the first encrypts, every one decrypts. Required:
	// without one, New fails with [ErrNoKEK].
	KEKs []*KEK

	// ReloadInterval is how often each server rereads the keyring records,
	// less a random part of up to a fifth so that a fleet does not read in
	// step. A revoked key is refused by every server within it. Default
	// DefaultReloadInterval (one minute). Negative turns the background
	// reload off: the application then calls [Keyring.Refresh] itself.
	ReloadInterval time.Duration

	// UnknownKeyInterval is the least time between two reloads triggered by
	// a cookie or a JWT naming a key ID the server does not hold (a key
	// another server has just added, or a forgery). Default
	// DefaultUnknownKeyInterval (one second).
	UnknownKeyInterval time.Duration

	// ReloadTimeout bounds each reload the Keyring starts by itself: in the
	// background, and for a cookie naming an unknown key ID
	// (cookie.Codec.Open takes no context). Default DefaultReloadTimeout
	// (five seconds).
	ReloadTimeout time.Duration

	// JWKSMaxAge is the longest Cache-Control max-age [Keyring.JWKSHandler]
	// advertises. The Prepublish of a JWT purpose with a public-key
	// algorithm must be at least JWKSMaxAge + ReloadInterval. Default
	// jwt.DefaultJWKSMaxAge (five minutes).
	JWKSMaxAge time.Duration

	// Events receives the keyring's security events (EventKey…), for an
	// audit log: wire authkit.LogEvents to log them. Nil reports none.
	Events authkit.EventFunc

	// Logger receives reload failures and other operational messages; nil
	// means slog.Default(). Key material never reaches it.
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now. It is also given
	// to the Codecs the Keyring makes.
	Now func() time.Time
}

// Keyring keeps the cookie and JWT keys of a fleet of servers in a shared
// [store.Store], encrypted under a key-encryption key, and rotates them on a
// schedule. Each server makes one Keyring on the shared store and takes its
// cookie Codecs and JWT key sets from it; see the package documentation.
// It is safe for concurrent use.
type Keyring struct {
	st     store.Store
	cfg    Config
	logger *slog.Logger

	regMu sync.Mutex              // serializes Codec and KeySet registration
	rings atomic.Pointer[[]*ring] // every loaded purpose

	jwks  jwksCache
	randN func(n int64) int64 // rand.Int64N; tests make it reproducible

	closed    atomic.Bool
	closeOnce sync.Once
	ctx       context.Context // of the reloads the Keyring starts; cancelled by Close
	cancel    context.CancelFunc
	done      chan struct{} // closed when the background loop returns; nil without one
	kick      chan struct{} // wakes the background loop after a registration
}

// New returns a Keyring on st, the store every server of the fleet shares.
// It does no I/O: each purpose is loaded (or created) by [Keyring.Codec] or
// [Keyring.KeySet]. Unless cfg.ReloadInterval is negative, New starts a
// goroutine that reloads the records and performs the steps of the schedule;
// [Keyring.Close] stops it.
//
// It returns an error wrapping [ErrNoKEK] when cfg.KEKs is empty or holds a
// nil KEK, and [ErrInvalidConfig] for a negative duration.
func New(st store.Store, cfg Config) (*Keyring, error) {
	return newKeyring(st, cfg, cfg.ReloadInterval >= 0)
}

func newKeyring(st store.Store, cfg Config, background bool) (*Keyring, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidConfig)
	}
	if len(cfg.KEKs) == 0 {
		return nil, fmt.Errorf("%w: Config.KEKs is empty; load them with KEKsFromEnv or KEKsFromFile", ErrNoKEK)
	}
	if slices.Contains(cfg.KEKs, nil) {
		return nil, fmt.Errorf("%w: Config.KEKs holds a nil KEK", ErrNoKEK)
	}
	if cfg.UnknownKeyInterval < 0 || cfg.ReloadTimeout < 0 || cfg.JWKSMaxAge < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	}
	cfg.KEKs = slices.Clone(cfg.KEKs)
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = DefaultReloadInterval
	}
	if cfg.UnknownKeyInterval == 0 {
		cfg.UnknownKeyInterval = DefaultUnknownKeyInterval
	}
	if cfg.ReloadTimeout == 0 {
		cfg.ReloadTimeout = DefaultReloadTimeout
	}
	if cfg.JWKSMaxAge == 0 {
		cfg.JWKSMaxAge = jwt.DefaultJWKSMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	kr := &Keyring{st: st, cfg: cfg, logger: cfg.Logger, randN: rand.Int64N, kick: make(chan struct{}, 1)}
	kr.ctx, kr.cancel = context.WithCancel(context.Background())
	if kr.logger == nil {
		kr.logger = slog.Default()
	}
	kr.rings.Store(&[]*ring{})
	if background {
		kr.done = make(chan struct{})
		go kr.loop()
	}
	return kr, nil
}

// Close stops the background reload. The Codecs and key sets keep the keys
// they hold; manual operations fail with [ErrClosed]. Close is idempotent
// and always returns nil.
func (kr *Keyring) Close() error {
	kr.closeOnce.Do(func() {
		kr.closed.Store(true)
		kr.cancel()
		if kr.done != nil {
			<-kr.done
		}
	})
	return nil
}

// Codec loads the keys of a cookie purpose (creating the purpose's first key
// if the store holds none) and returns a [cookie.Codec] that follows them:
// it seals with the purpose's signing key and opens with every key in its
// verify set, in memory, and the Keyring swaps its keys as they rotate. Its
// MaxTTL is the schedule's MaxLifetime and its Now the Keyring's. Calling
// Codec again with the same purpose returns the same Codec.
//
// Use [CookieSeal] for a Codec that seals and [CookieSign] for one that
// signs, or a purpose name of your own. Do not call its SetKeys: the
// Keyring owns its keys. The error wraps [ErrWrongKEK] when
// the stored keys were encrypted under another key-encryption key,
// [ErrCorrupt] for a damaged record, [ErrInvalidConfig] for an invalid
// purpose name or schedule (or one that differs from an earlier call's), or
// is the store's error.
func (kr *Keyring) Codec(ctx context.Context, purpose string, s Schedule) (*cookie.Codec, error) {
	if err := validPurpose(purpose); err != nil {
		return nil, err
	}
	if len(purpose) > 4 && purpose[:4] == "jwt-" {
		return nil, fmt.Errorf("%w: purpose %q: names starting with jwt- are for KeySet", ErrInvalidConfig, purpose)
	}
	r, err := kr.register(ctx, purpose, kindCookie, "", s)
	if err != nil {
		return nil, err
	}
	return r.codec, nil
}

// KeySet loads the JWT keys of alg, under the purpose [JWTPurpose](alg)
// (creating the first key if the store holds none), and returns a
// [jwt.KeySet] that follows them: its signing key is the purpose's signing
// key, its other keys the verify set, and the Keyring rotates it in memory.
// Give it to jwt.NewIssuer and jwt.NewVerifier; a verifier meeting a kid it
// does not hold makes the Keyring reload at once (rate-limited by
// Config.UnknownKeyInterval). Do not Add, Rotate or Retire its keys
// yourself: the Keyring owns them. Calling KeySet again with the same
// algorithm returns the same set. Errors are as for [Keyring.Codec].
func (kr *Keyring) KeySet(ctx context.Context, alg jwt.Algorithm, s Schedule) (*jwt.KeySet, error) {
	if !knownAlg(string(alg)) {
		return nil, fmt.Errorf("%w: unsupported JWT algorithm %q", ErrInvalidConfig, alg)
	}
	r, err := kr.register(ctx, JWTPurpose(alg), kindJWT, alg, s)
	if err != nil {
		return nil, err
	}
	return r.keys, nil
}

// register returns the ring of purpose, loading it the first time.
func (kr *Keyring) register(ctx context.Context, purpose string, kind byte, alg jwt.Algorithm, s Schedule) (*ring, error) {
	if kr.closed.Load() {
		return nil, ErrClosed
	}
	minPublish := max(kr.cfg.ReloadInterval, 0)
	if kind == kindJWT && !alg.Symmetric() {
		minPublish += kr.cfg.JWKSMaxAge
	}
	s, err := s.withDefaults(kind, minPublish)
	if err != nil {
		return nil, fmt.Errorf("%w (purpose %s)", err, purpose)
	}
	kr.regMu.Lock()
	defer kr.regMu.Unlock()
	for _, r := range *kr.rings.Load() {
		if r.name == purpose {
			if r.sched != s {
				return nil, fmt.Errorf("%w: purpose %s was loaded with another Schedule", ErrInvalidConfig, purpose)
			}
			return r, nil
		}
	}
	r := newRing(kr, purpose, kind, alg, s)
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	rings := append(slices.Clone(*kr.rings.Load()), r)
	kr.rings.Store(&rings)
	select {
	case kr.kick <- struct{}{}:
	default:
	}
	return r, nil
}

// ring returns the loaded ring of purpose.
func (kr *Keyring) ring(purpose string) (*ring, error) {
	for _, r := range *kr.rings.Load() {
		if r.name == purpose {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownPurpose, purpose)
}

// Refresh rereads every loaded purpose from the store now and performs the
// steps of the schedule that are due, as the background reload does on its
// interval. Use it when Config.ReloadInterval is negative, or to pick up a
// change at once. It returns the errors of the purposes that failed; their
// keys stay as they were.
func (kr *Keyring) Refresh(ctx context.Context) error {
	if kr.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, r := range *kr.rings.Load() {
		if err := r.load(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Rotate starts a rotation of purpose now, ahead of the schedule: a new key
// is created and published at once, and signs once it has been published
// for the schedule's Prepublish; the current key then turns verify-only. If
// a key is already published and waiting, Rotate adds none and returns
// that one, so concurrent calls, from one server or several, add one key. It
// returns the waiting key. To stop using a key at once, use
// [Keyring.Revoke].
func (kr *Keyring) Rotate(ctx context.Context, purpose string) (KeyInfo, error) {
	if kr.closed.Load() {
		return KeyInfo{}, ErrClosed
	}
	r, err := kr.ring(purpose)
	if err != nil {
		return KeyInfo{}, err
	}
	return r.rotate(ctx)
}

// Revoke ends the key id of purpose at once, for an incident such as a
// leaked key: its material is erased from the store, every server refuses
// what it signed within Config.ReloadInterval (this one at once), and the
// JWKS drops it. If it was the signing key, a new key is created that signs
// at once, without the prepublish time (remote verifiers refetch their JWKS
// when they meet its kid). Revoking a revoked key does nothing; an unknown
// ID is an error wrapping [ErrKeyNotFound].
func (kr *Keyring) Revoke(ctx context.Context, purpose, id string) error {
	if kr.closed.Load() {
		return ErrClosed
	}
	r, err := kr.ring(purpose)
	if err != nil {
		return err
	}
	return r.revoke(ctx, id)
}

// State is the phase of a key at a given time.
type State string

// The states of a key. See [Schedule] for the phases.
const (
	StatePublished  State = "published"   // in the verify set and the JWKS, not signing yet
	StateSigning    State = "signing"     // seals or signs what is new
	StateVerifyOnly State = "verify-only" // opens and verifies only, until Removes
	StateRevoked    State = "revoked"     // refused everywhere; kept as a record until Removes
)

// KeyInfo describes one key of the keyring, for an operator's page or a log:
// IDs, state and dates, never key material.
type KeyInfo struct {
	Purpose   string // CookieSeal, CookieSign, another cookie purpose, or JWTPurpose(alg)
	Algorithm string // the JWT algorithm; empty for cookie keys
	ID        string // the cookie key ID in decimal, or the JWT kid
	State     State  // at the time Keys was called

	Created     time.Time // added to the record, and so published
	Activates   time.Time // signs from
	Deactivates time.Time // stops signing; zero while it has no successor
	Removes     time.Time // leaves every server; zero while it has no successor
	Revoked     time.Time // zero unless revoked

	// Early reports a key that signed before it had been published for the
	// whole prepublish time: the first key of a new keyring, or the
	// replacement of a revoked signing key.
	Early bool
	// KEK is the ID of the key-encryption key it is stored under; empty for
	// a revoked key, whose material is erased.
	KEK string
}

// Keys returns every key of every loaded purpose as this server last read
// them, in order of purpose and activation, with their state at Config.Now.
func (kr *Keyring) Keys() []KeyInfo {
	now := kr.cfg.Now()
	var out []KeyInfo
	for _, r := range *kr.rings.Load() {
		out = append(out, r.info(now)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Purpose < out[j].Purpose })
	return out
}

// loop is the background reload: it sleeps until a purpose needs a reload or
// changes state, and wakes early when a purpose is registered.
func (kr *Keyring) loop() {
	defer close(kr.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d := kr.wake(kr.ctx)
		t.Reset(d)
		select {
		case <-kr.ctx.Done():
			return
		case <-kr.kick:
		case <-t.C:
		}
	}
}

// wake does what is due for every purpose at Config.Now — a reload when its
// interval has passed or a step of the schedule is due, else a switch of
// signing key or verify set by the clock — and returns how long to sleep.
func (kr *Keyring) wake(ctx context.Context) time.Duration {
	next := time.Duration(-1)
	for _, r := range *kr.rings.Load() {
		d := r.wake(ctx)
		if next < 0 || d < next {
			next = d
		}
	}
	if next < 0 {
		next = max(kr.cfg.ReloadInterval, time.Minute)
	}
	return max(next, time.Millisecond)
}

// jitter returns the reload interval less a random part of up to a fifth.
func (kr *Keyring) jitter() time.Duration {
	iv := kr.cfg.ReloadInterval
	return iv - time.Duration(kr.randN(int64(iv/5+1)))
}

func (kr *Keyring) emit(ctx context.Context, typ authkit.EventType, subject, reason string) {
	if kr.cfg.Events != nil {
		kr.cfg.Events(ctx, authkit.Event{Type: typ, Time: kr.cfg.Now(), Subject: subject, Reason: reason})
	}
}

// validPurpose checks a purpose name: 1 to 64 lower-case letters, digits and
// hyphens, starting with a letter or digit. JWT purposes are "jwt-" + the
// algorithm, whose letters may be upper case.
func validPurpose(p string) error {
	if alg, ok := cutJWT(p); ok {
		if knownAlg(alg) {
			return nil
		}
		return fmt.Errorf("%w: purpose %q names no supported JWT algorithm", ErrInvalidConfig, p)
	}
	ok := len(p) >= 1 && len(p) <= 64 && p[0] != '-'
	for i := 0; ok && i < len(p); i++ {
		c := p[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("%w: purpose %q: use 1 to 64 lower-case letters, digits and hyphens", ErrInvalidConfig, p)
	}
	return nil
}

func cutJWT(p string) (string, bool) {
	if len(p) > 4 && p[:4] == "jwt-" {
		return p[4:], true
	}
	return "", false
}

// knownAlg reports whether alg is a JWT algorithm the keyring can generate.
func knownAlg(alg string) bool {
	switch jwt.Algorithm(alg) {
	case jwt.HS256, jwt.HS384, jwt.HS512, jwt.RS256, jwt.PS256, jwt.ES256, jwt.ES384, jwt.EdDSA:
		return true
	}
	return false
}
