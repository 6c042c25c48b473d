package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/cookie"
	"github.com/authkit/authkit/hash"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

// Users is the application's side of password sign-in: its user directory.
type Users interface {
	// LookupPassword returns the subject (user ID) and the stored encoded
	// password hash of the account with the normalised name, or an error
	// wrapping [ErrUnknownUser] when there is none. Any other error is an
	// outage: the sign-in fails with it, nothing counted.
	LookupPassword(ctx context.Context, name string) (subject, encoded string, err error)
	// UpdatePasswordHash replaces subject's stored hash with encoded, a
	// stronger hash of the password that just signed in. An error is logged
	// and the sign-in still succeeds; the upgrade is retried next time.
	UpdatePasswordHash(ctx context.Context, subject, encoded string) error
}

// Hasher is the part of *hash.Hasher that sign-in uses. Any value with these
// methods will do — for example a wrapper that counts calls in a test.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (rehash bool, err error)
	VerifyDummy(ctx context.Context, password string) error
	NeedsRehash(encoded string) bool
}

var _ Hasher = (*hash.Hasher)(nil)

// PasswordConfig configures [Password]. The zero value is valid. A
// PasswordConfig must not be modified after it has been passed to
// [NewPassword].
type PasswordConfig struct {
	// Hasher verifies and creates hashes. nil means hash.New(hash.Config{})
	// (Argon2id at OWASP's parameters).
	Hasher Hasher
	// Throttle counts attempts. nil means throttle.New(st,
	// throttle.Config{}) on the store given to NewPassword. Share one
	// Throttle between the flows of an application.
	Throttle *throttle.Throttle
	// Normalize maps a user name as typed to the form the application
	// stores and looks up, or returns an error for a name that cannot be
	// one (the attempt then fails like an unknown user, at the same cost).
	// nil means [NormalizeName].
	Normalize func(name string) (string, error)
	// MaxPasswordLen is the longest password in bytes that is checked at
	// all; a longer one fails at once, for known and unknown names alike.
	// 0 means hash.DefaultMaxPasswordLen (1024).
	MaxPasswordLen int

	// LegacyScheme is the scheme of the costliest hashes still stored from
	// before the current one (for example hash.Bcrypt{Cost: 10}). While
	// legacy hashes exist, every sign-in does the work of one verification
	// at the legacy scheme and one at the current scheme, whatever the
	// account: a known user with a legacy hash verifies it and pays a dummy
	// of the current scheme; a known user with a current hash verifies it
	// and pays a dummy of the legacy scheme; an unknown name pays both
	// dummies. So timing reveals neither which names have accounts nor which
	// accounts still have a legacy hash, at the price of two verifications
	// per sign-in. When nil, a Password learns it: the first time a sign-in
	// upgrades a stored hash, the hash it replaced becomes the legacy dummy
	// (never verified with the password as typed, and never matching); until
	// then, each sign-in costs one verification of whatever hash it checks.
	// Remove it when the last legacy hash is gone.
	LegacyScheme hash.Scheme

	// Devices signs the device cookie that marks a browser that signed in
	// to an account before; such a browser is throttled only by its own
	// counter ([throttle.Attempt.Device]). nil means a random key made by
	// NewPassword: device cookies then verify only on this process, so set
	// it — from keys shared by the fleet — when several servers serve
	// sign-in.
	Devices *cookie.Codec
	// DeviceCookie is the device cookie's template. A zero Template means
	// cookie.New(DefaultDeviceCookie). Its MaxAge is set to DeviceLifetime.
	DeviceCookie cookie.Template
	// DeviceLifetime is how long a device stays known after its last
	// sign-in. 0 means DefaultDeviceLifetime (180 days); at most 400 days.
	DeviceLifetime time.Duration

	// CrossOrigin refuses cross-origin sign-in requests before any work.
	// nil means http.NewCrossOriginProtection(); pass the session
	// Manager's when it trusts extra origins.
	CrossOrigin *http.CrossOriginProtection
	// TrustedProxies are the proxies whose X-Forwarded-For is believed when
	// finding the client address (see authkit.ClientIP).
	TrustedProxies []netip.Prefix

	// Events receives EventLogin and EventLoginFailed.
	Events authkit.EventFunc
	// Logger receives errors that do not fail the sign-in (a failed hash
	// upgrade or cookie write). nil means slog.Default(). It never sees a
	// password, a hash or a cookie value.
	Logger *slog.Logger
	// Now returns the current time for events. nil means time.Now.
	Now func() time.Time
}

// Password signs users in with a user name and a password. It is safe for
// concurrent use. Make one with [NewPassword].
type Password struct {
	users   Users
	h       Hasher
	th      *throttle.Throttle
	norm    func(string) (string, error)
	maxLen  int
	cop     *http.CrossOriginProtection
	trusted []netip.Prefix
	dev     devices
	em      emitter

	learn    bool
	legacy   atomic.Pointer[legacyDummyHash] // the legacy hash dummies are verified against
	dummyKey [32]byte                        // turns a typed password into an unguessable dummy input
}

// Result is a successful sign-in.
type Result struct {
	// Subject is the signed-in user's ID, to pass to session.Manager.Login.
	Subject string
	// Method is MethodPassword, MethodLink or MethodCode.
	Method string
	// Rehashed reports that the stored password hash was upgraded.
	Rehashed bool
}

// NewPassword returns a Password for users, throttled on st. It panics on an
// invalid configuration (a nil store or Users, an invalid device cookie or
// LegacyScheme).
func NewPassword(st store.Store, users Users, cfg PasswordConfig) *Password {
	if st == nil || users == nil {
		panic("login: NewPassword needs a store and Users")
	}
	p := &Password{users: users, h: cfg.Hasher, th: cfg.Throttle, norm: cfg.Normalize, maxLen: cfg.MaxPasswordLen,
		cop: cfg.CrossOrigin, trusted: cfg.TrustedProxies}
	if p.h == nil {
		p.h = hash.New(hash.Config{})
	}
	if p.th == nil {
		p.th = throttle.New(st, throttle.Config{Now: cfg.Now})
	}
	if p.norm == nil {
		p.norm = NormalizeName
	}
	if p.maxLen <= 0 {
		p.maxLen = hash.DefaultMaxPasswordLen
	}
	if p.cop == nil {
		p.cop = http.NewCrossOriginProtection()
	}
	p.dev = newDevices(cfg.Devices, cfg.DeviceCookie, cfg.DeviceLifetime)
	p.em = newEmitter(cfg.Events, cfg.Logger, cfg.Now, MethodPassword)
	_, _ = rand.Read(p.dummyKey[:])
	if cfg.LegacyScheme != nil {
		p.legacy.Store(p.newLegacy(legacyDummy(cfg.LegacyScheme)))
	} else {
		p.learn = true
	}
	return p
}

// legacyDummyHash is the hash dummies of the legacy scheme verify against.
// pad is false when it is of the current scheme after all (LegacyScheme set
// to the current one): then one verification per sign-in already costs the
// same on every path, and none is added.
type legacyDummyHash struct {
	enc string
	pad bool
}

func (p *Password) newLegacy(enc string) *legacyDummyHash {
	return &legacyDummyHash{enc: enc, pad: p.h.NeedsRehash(enc)}
}

// legacyDummy hashes a random password with scheme: a hash of that cost
// that no password matches in practice.
func legacyDummy(s hash.Scheme) string {
	h := hash.New(hash.Config{Scheme: s, InsecureWeakParameters: true})
	enc, err := h.Hash(context.Background(), rand.Text())
	if err != nil {
		panic("login: LegacyScheme: " + err.Error())
	}
	return enc
}

// NormalizeName is the default user-name normalisation: surrounding white
// space removed and lower-cased; empty, over 256 bytes, not UTF-8 or
// holding control characters is an error.
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", errors.New("login: not a valid user name")
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || len(name) > 256 {
		return "", errors.New("login: not a valid user name")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return "", errors.New("login: not a valid user name")
		}
	}
	return name, nil
}

// SignIn checks a user name and password sent with r and returns the
// signed-in subject. On success it also marks r's browser as a known device
// of the account (a cookie on w). Pass the Result's Subject to your session
// manager's Login.
//
// In order, it: refuses a cross-origin unsafe request ([ErrCrossOrigin])
// before anything else; normalises the name; counts the attempt in the
// throttle (a refusal is a *[throttle.LimitedError]: answer 429 with
// [SetRetryAfter]); looks the name up; verifies the password — against a
// dummy hash of the same cost when the name is unknown, so both cost one
// verification; upgrades a stored hash that needs it. Every failure to
// prove the password is [ErrInvalidCredentials], whatever its cause; the
// events say which (Reason…). Other errors (a store, lookup or hasher
// outage) count nothing against the user: answer 503.
func (p *Password) SignIn(w http.ResponseWriter, r *http.Request, name, password string) (Result, error) {
	ctx := r.Context()
	ip := authkit.ClientIP(r, p.trusted)
	ipStr := addrString(ip)
	if p.cop.Check(r) != nil {
		p.em.emit(ctx, authkit.EventLoginFailed, "", authkit.ReasonCrossOrigin, ipStr)
		return Result{}, ErrCrossOrigin
	}
	norm, nerr := p.norm(name)
	account := norm
	if nerr != nil {
		account = name // still counted, under what was typed
	}
	tk, err := p.th.Begin(ctx, throttle.Attempt{Account: account, Addr: ip, Device: p.dev.known(r, account)})
	if err != nil {
		if errors.Is(err, throttle.ErrLimited) {
			p.em.emit(ctx, authkit.EventLoginFailed, "", ReasonThrottled, ipStr)
			return Result{}, err
		}
		return Result{}, fmt.Errorf("login: %w", err)
	}
	res, reason, subject, err := p.check(ctx, norm, nerr == nil, password)
	switch {
	case err == nil:
		p.settle(ctx, tk.Success(ctx))
		if err := p.dev.remember(w, r, norm); err != nil {
			p.em.log.ErrorContext(ctx, "login: setting the device cookie", "err", err)
		}
		if res.Rehashed {
			reason = ReasonRehashed
		}
		p.em.emit(ctx, authkit.EventLogin, res.Subject, reason, ipStr)
		return res, nil
	case errors.Is(err, ErrInvalidCredentials):
		p.settle(ctx, tk.Failure(ctx))
		p.em.emit(ctx, authkit.EventLoginFailed, subject, reason, ipStr)
		return Result{}, err
	default:
		p.settle(ctx, tk.Cancel(ctx))
		return Result{}, err
	}
}

func (p *Password) settle(ctx context.Context, err error) {
	if err != nil {
		p.em.log.WarnContext(ctx, "login: settling a throttle ticket", "err", err)
	}
}

// check verifies password for the normalised name. It returns the result,
// the event reason, the subject when known, and nil, ErrInvalidCredentials
// or an outage.
func (p *Password) check(ctx context.Context, name string, valid bool, password string) (Result, string, string, error) {
	if len(password) > p.maxLen {
		return Result{}, ReasonBadPassword, "", ErrInvalidCredentials
	}
	subject, encoded := "", ""
	found := false
	if valid {
		var err error
		subject, encoded, err = p.users.LookupPassword(ctx, name)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, ErrUnknownUser):
			return Result{}, "", "", fmt.Errorf("login: looking up the user: %w", err)
		}
	}
	var legacy *string
	pad := false
	if l := p.legacy.Load(); l != nil {
		legacy, pad = &l.enc, l.pad
	}
	if !found {
		if err := p.dummy(ctx, password, legacy); err != nil {
			return Result{}, "", "", err
		}
		if pad {
			if err := p.dummy(ctx, password, nil); err != nil {
				return Result{}, "", "", err
			}
		}
		return Result{}, ReasonUnknownUser, "", ErrInvalidCredentials
	}
	if pad {
		// Pay for the scheme the stored hash is not of (see LegacyScheme).
		other := legacy
		if p.h.NeedsRehash(encoded) {
			other = nil
		}
		if err := p.dummy(ctx, password, other); err != nil {
			return Result{}, "", "", err
		}
	}
	rehash, err := p.h.Verify(ctx, password, encoded)
	switch {
	case err == nil:
	case errors.Is(err, hash.ErrMismatch), errors.Is(err, hash.ErrPasswordTooLong):
		return Result{}, ReasonBadPassword, subject, ErrInvalidCredentials
	case errors.Is(err, hash.ErrInvalidHash), errors.Is(err, hash.ErrUnsupportedHash),
		errors.Is(err, hash.ErrCostLimit), errors.Is(err, hash.ErrUnknownPepper):
		p.em.log.ErrorContext(ctx, "login: the stored password hash cannot be verified", "subject", subject, "err", err)
		return Result{}, ReasonBadHash, subject, ErrInvalidCredentials
	default:
		return Result{}, "", "", fmt.Errorf("login: verifying the password: %w", err)
	}
	res := Result{Subject: subject, Method: MethodPassword}
	if rehash {
		res.Rehashed = p.upgrade(ctx, subject, password, encoded)
	}
	return res, "", subject, nil
}

// upgrade stores a new hash of password for subject, and reports whether
// it did. The hash it replaced becomes the dummy for unknown names when no
// LegacyScheme was configured.
func (p *Password) upgrade(ctx context.Context, subject, password, old string) bool {
	enc, err := p.h.Hash(ctx, password)
	if err == nil {
		err = p.users.UpdatePasswordHash(ctx, subject, enc)
	}
	if err != nil {
		p.em.log.WarnContext(ctx, "login: upgrading a password hash", "subject", subject, "err", err)
		return false
	}
	if p.learn {
		p.legacy.CompareAndSwap(nil, p.newLegacy(old))
	}
	return true
}

// dummy does the work of one verification that cannot succeed: of the
// legacy hash enc when it is not nil, else of the current scheme. The legacy
// hash is verified against an HMAC of the typed password under a
// per-process key, so the typed password itself is never checked against it
// and cannot match it.
func (p *Password) dummy(ctx context.Context, password string, enc *string) error {
	var err error
	if enc != nil {
		m := hmac.New(sha256.New, p.dummyKey[:])
		m.Write([]byte(password))
		_, err = p.h.Verify(ctx, base64.RawURLEncoding.EncodeToString(m.Sum(nil)), *enc)
	} else {
		err = p.h.VerifyDummy(ctx, password)
	}
	if err == nil || errors.Is(err, hash.ErrMismatch) || errors.Is(err, hash.ErrPasswordTooLong) {
		return nil
	}
	return fmt.Errorf("login: verifying the password: %w", err)
}

// Throttle returns the throttle the Password counts attempts with, for
// status pages ([throttle.Throttle.Status]).
func (p *Password) Throttle() *throttle.Throttle { return p.th }

// Attempt returns the throttle attempt SignIn would make for name from r:
// its normalised account, client address and known device, for
// [throttle.Throttle.Status].
func (p *Password) Attempt(r *http.Request, name string) throttle.Attempt {
	account, err := p.norm(name)
	if err != nil {
		account = name
	}
	return throttle.Attempt{Account: account, Addr: authkit.ClientIP(r, p.trusted), Device: p.dev.known(r, account)}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
