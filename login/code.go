package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/internal/keyhash"
	"github.com/authkit/authkit/internal/secret"
	"github.com/authkit/authkit/store"
	"github.com/authkit/authkit/throttle"
)

// Defaults of [CodeConfig].
const (
	DefaultCodeDigits      = 6
	DefaultCodeLifetime    = 10 * time.Minute
	DefaultCodeMaxAttempts = 5
)

// challengeIDLen is the length of a challenge ID: 27 base62 characters,
// over 160 bits.
const challengeIDLen = 27

// CodeConfig configures [Codes]. The zero value is valid. A CodeConfig must
// not be modified after it has been passed to [NewCodes].
type CodeConfig struct {
	// Key is the HMAC key under which codes are stored, at least 32 bytes
	// from crypto/rand: a dump of the store does not reveal live codes,
	// since a keyed hash of six digits cannot be reversed without the key.
	// nil means a random key made by NewCodes — codes then verify only on
	// this process, so set it for a fleet.
	Key []byte
	// Digits is the length of a code, 6 to 10. 0 means 6.
	Digits int
	// Lifetime is how long a code is valid. 0 means 10 minutes; at most
	// one hour.
	Lifetime time.Duration
	// MaxAttempts is how many guesses one challenge allows; after the
	// last, the challenge is dead. 0 means 5.
	MaxAttempts int
	// PerAddress limits how many codes are sent to one address (sending
	// again is throttled). Zero means 3 per 10 minutes.
	PerAddress throttle.Rate
	// PerClient limits how many codes one client address may request.
	// Zero means 30 per 10 minutes.
	PerClient throttle.Rate
	// Normalize maps an address as typed to the form the Directory looks
	// up. nil means [NormalizeAddress].
	Normalize func(string) (string, error)
	// Throttle counts the requests. nil means throttle.New(st,
	// throttle.Config{}) on the store given to NewCodes.
	Throttle *throttle.Throttle
	// CrossOrigin refuses cross-origin requests. nil means
	// http.NewCrossOriginProtection().
	CrossOrigin *http.CrossOriginProtection
	// TrustedProxies: see authkit.ClientIP.
	TrustedProxies []netip.Prefix
	// Prefix namespaces the store keys. "" means "otc:".
	Prefix string
	// Events receives EventLogin and EventLoginFailed.
	Events authkit.EventFunc
	// Logger receives delivery failures. nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
}

// Codes signs users in with one-time codes sent to an address they own. It
// is safe for concurrent use. Make one with [NewCodes].
type Codes struct {
	st       store.Store
	mail     Mailer
	key      []byte
	digits   int
	lifetime time.Duration
	maxTries int
	perAddr  throttle.Rate
	perIP    throttle.Rate
	norm     func(string) (string, error)
	th       *throttle.Throttle
	cop      *http.CrossOriginProtection
	trusted  []netip.Prefix
	prefix   string
	em       emitter
}

// Challenge is a started code sign-in. Keep its ID for [Codes.Verify] (in a
// hidden form field or a cookie); it is a random value that reveals nothing.
type Challenge struct {
	ID      string
	Expires time.Time
}

// NewCodes returns Codes on st, delivering through mail. It panics on an
// invalid configuration.
func NewCodes(st store.Store, mail Mailer, cfg CodeConfig) *Codes {
	if st == nil || mail == nil {
		panic("login: NewCodes needs a store and a Mailer")
	}
	c := &Codes{st: st, mail: mail, key: cfg.Key, digits: cfg.Digits, lifetime: cfg.Lifetime, maxTries: cfg.MaxAttempts,
		perAddr: cfg.PerAddress, perIP: cfg.PerClient, norm: cfg.Normalize, th: cfg.Throttle, cop: cfg.CrossOrigin,
		trusted: cfg.TrustedProxies, prefix: cfg.Prefix}
	if c.key == nil {
		c.key = secret.Bytes(32)
	}
	if len(c.key) < 32 {
		panic("login: CodeConfig.Key must be at least 32 bytes")
	}
	c.key = append([]byte(nil), c.key...)
	if c.digits == 0 {
		c.digits = DefaultCodeDigits
	}
	if c.digits < 6 || c.digits > 10 {
		panic("login: CodeConfig.Digits must be 6 to 10")
	}
	if c.lifetime == 0 {
		c.lifetime = DefaultCodeLifetime
	}
	if c.lifetime < 0 || c.lifetime > time.Hour {
		panic("login: CodeConfig.Lifetime must be at most one hour")
	}
	if c.maxTries == 0 {
		c.maxTries = DefaultCodeMaxAttempts
	}
	if c.maxTries < 1 || c.maxTries > 255 {
		panic("login: CodeConfig.MaxAttempts must be 1 to 255")
	}
	if c.perAddr == (throttle.Rate{}) {
		c.perAddr = throttle.Rate{Limit: 3, Per: 10 * time.Minute}
	}
	if c.perIP == (throttle.Rate{}) {
		c.perIP = throttle.Rate{Limit: 30, Per: 10 * time.Minute}
	}
	if c.norm == nil {
		c.norm = NormalizeAddress
	}
	if c.th == nil {
		c.th = throttle.New(st, throttle.Config{Now: cfg.Now})
	}
	if c.cop == nil {
		c.cop = http.NewCrossOriginProtection()
	}
	if c.prefix == "" {
		c.prefix = "otc:"
	}
	c.em = newEmitter(cfg.Events, cfg.Logger, cfg.Now, MethodCode)
	return c
}

// Start begins a code sign-in for the account with address: it sends a code
// to address and returns the challenge to verify it against. For an address
// without an account it sends nothing and returns a challenge no code
// verifies — the same answer, so the response reveals nothing. A new
// challenge ends the account's previous one. Requests are throttled per
// address and per client address (a *[throttle.LimitedError]).
func (c *Codes) Start(r *http.Request, address string) (Challenge, error) {
	return c.start(r, "", address, true)
}

// StartFor begins a code challenge for a subject the application has
// already identified — a second factor after a password — sending the code
// to address. Unlike Start it returns delivery errors.
func (c *Codes) StartFor(r *http.Request, subject, address string) (Challenge, error) {
	if subject == "" || len(subject) > maxSubjectLen || !utf8.ValidString(subject) {
		return Challenge{}, errors.New("login: StartFor needs a subject of 1 to 1024 bytes of UTF-8")
	}
	return c.start(r, subject, address, false)
}

func (c *Codes) start(r *http.Request, subject, address string, lookup bool) (Challenge, error) {
	ctx := r.Context()
	if c.cop.Check(r) != nil {
		return Challenge{}, ErrCrossOrigin
	}
	norm, nerr := c.norm(address)
	key := norm
	if nerr != nil {
		key = address
	}
	if err := c.take(ctx, r, "code-address", key); err != nil {
		return Challenge{}, err
	}
	if lookup && nerr == nil {
		s, err := c.mail.LookupAddress(ctx, norm)
		if err != nil && !errors.Is(err, ErrUnknownUser) {
			return Challenge{}, fmt.Errorf("login: looking up the address: %w", err)
		}
		subject = s
	}
	ch := Challenge{ID: secret.Base62(challengeIDLen), Expires: c.em.now().Add(c.lifetime)}
	if subject == "" || nerr != nil {
		return ch, nil // no account: nothing stored, nothing sent
	}
	code := c.newCode()
	rec := challenge{attempts: 0, expires: ch.Expires.UnixMilli(), tag: c.tag(ch.ID, code), subject: subject}
	ckey := c.challengeKey(ch.ID)
	if err := c.st.Set(ctx, ckey, rec.encode(), ch.Expires); err != nil {
		return Challenge{}, fmt.Errorf("login: storing the challenge: %w", err)
	}
	if err := c.replace(ctx, subject, ckey, ch.Expires); err != nil {
		_ = c.st.Delete(ctx, ckey)
		return Challenge{}, err
	}
	err := c.mail.Send(ctx, Message{Kind: KindCode, To: norm, Subject: subject, Code: code, Expires: ch.Expires})
	if err != nil {
		c.em.log.ErrorContext(ctx, "login: sending a code", "subject", subject, "err", err)
		if !lookup {
			return Challenge{}, fmt.Errorf("login: sending the code: %w", err)
		}
	}
	return ch, nil
}

func (c *Codes) take(ctx context.Context, r *http.Request, scope, key string) error {
	if err := c.th.Take(ctx, scope, key, c.perAddr); err != nil {
		return err
	}
	return c.th.Take(ctx, "code-client", throttle.Bucket(authkit.ClientIP(r, c.trusted)), c.perIP)
}

// replace makes ckey the subject's current challenge and deletes the one it
// replaces, so that only the newest code works.
func (c *Codes) replace(ctx context.Context, subject, ckey string, exp time.Time) error {
	var old []byte
	err := cas.Update(ctx, c.st, c.prefix+"s:"+keyhash.Key("", subject), cas.Policy{}, func(cur []byte) ([]byte, time.Time, error) {
		old = cur
		return []byte(ckey), exp, nil
	})
	if err != nil {
		return fmt.Errorf("login: storing the challenge: %w", err)
	}
	if len(old) > 0 && string(old) != ckey {
		if err := c.st.Delete(ctx, string(old)); err != nil {
			return fmt.Errorf("login: ending the previous challenge: %w", err)
		}
	}
	return nil
}

func (c *Codes) challengeKey(id string) string { return c.prefix + "c:" + keyhash.Key("", id) }

func (c *Codes) newCode() string {
	n, err := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.digits)), nil))
	if err != nil {
		panic("login: crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%0*d", c.digits, n)
}

// tag is the keyed hash stored for a code, bound to its challenge.
func (c *Codes) tag(id, code string) [32]byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("authkit/login code v1\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(code))
	var t [32]byte
	copy(t[:], m.Sum(nil))
	return t
}

func (c *Codes) wellFormed(id, code string) bool {
	if len(id) != challengeIDLen || !secret.IsBase62(id) || len(code) != c.digits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// Verify checks code against the challenge with challengeID and returns
// the signed-in subject. Every failure — wrong, expired, used, superseded,
// out of attempts, unknown or malformed — is [ErrInvalidCode]. Each guess
// is counted with a CompareAndSwap before it is compared, so however many
// guesses arrive in parallel, at most MaxAttempts are compared; the
// comparison is constant-time. Of parallel correct guesses, one succeeds.
func (c *Codes) Verify(r *http.Request, challengeID, code string) (Result, error) {
	ctx := r.Context()
	ip := addrString(authkit.ClientIP(r, c.trusted))
	if c.cop.Check(r) != nil {
		c.em.emit(ctx, authkit.EventLoginFailed, "", authkit.ReasonCrossOrigin, ip)
		return Result{}, ErrCrossOrigin
	}
	if !c.wellFormed(challengeID, code) {
		c.em.emit(ctx, authkit.EventLoginFailed, "", authkit.ReasonMalformed, ip)
		return Result{}, ErrInvalidCode
	}
	key := c.challengeKey(challengeID)
	subject, reason, err := c.guess(ctx, key, c.tag(challengeID, code))
	if err != nil {
		if errors.Is(err, ErrInvalidCode) {
			c.em.emit(ctx, authkit.EventLoginFailed, subject, reason, ip)
		}
		return Result{}, err
	}
	// The challenge is used: drop the subject's pointer to it.
	if _, err := c.st.CompareAndSwap(ctx, c.prefix+"s:"+keyhash.Key("", subject), []byte(key), nil, time.Time{}); err != nil {
		c.em.log.WarnContext(ctx, "login: clearing a used challenge", "err", err)
	}
	c.em.emit(ctx, authkit.EventLogin, subject, "", ip)
	return Result{Subject: subject, Method: MethodCode}, nil
}

// guess counts one attempt on the challenge under key and, once counted,
// compares tag; a match consumes the challenge. It returns the subject, the
// failure reason, and nil, ErrInvalidCode or a store error.
func (c *Codes) guess(ctx context.Context, key string, tag [32]byte) (string, string, error) {
	matched := false
	for range 64 {
		raw, err := c.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return "", authkit.ReasonUnknown, ErrInvalidCode
		}
		if err != nil {
			return "", "", fmt.Errorf("login: reading the challenge: %w", err)
		}
		rec, err := decodeChallenge(raw)
		if err != nil {
			return "", authkit.ReasonMalformed, ErrInvalidCode
		}
		if matched { // counted and matched; a parallel guess changed the record: consume what is there
			ok, err := c.st.CompareAndSwap(ctx, key, raw, nil, time.Time{})
			if err != nil {
				return "", "", fmt.Errorf("login: consuming the challenge: %w", err)
			}
			if ok {
				return rec.subject, "", nil
			}
			continue
		}
		switch {
		case c.em.now().UnixMilli() >= rec.expires:
			return rec.subject, authkit.ReasonExpired, ErrInvalidCode
		case int(rec.attempts) >= c.maxTries:
			return rec.subject, ReasonExhausted, ErrInvalidCode
		}
		rec.attempts++
		next := rec.encode()
		ok, err := c.st.CompareAndSwap(ctx, key, raw, next, time.UnixMilli(rec.expires))
		if err != nil {
			return "", "", fmt.Errorf("login: counting the attempt: %w", err)
		}
		if !ok {
			continue // another guess was counted first: re-read
		}
		if !hmac.Equal(tag[:], rec.tag[:]) {
			return rec.subject, ReasonBadCode, ErrInvalidCode
		}
		matched = true
		ok, err = c.st.CompareAndSwap(ctx, key, next, nil, time.Time{})
		if err != nil {
			return "", "", fmt.Errorf("login: consuming the challenge: %w", err)
		}
		if ok {
			return rec.subject, "", nil
		}
	}
	return "", "", fmt.Errorf("login: %w", cas.ErrConflict)
}

// A challenge record:
//
//	0x01 | attempts (1) | expires, Unix ms (8) | HMAC tag (32) | subject (1..1024 bytes of UTF-8)
const (
	challengeVersion byte = 0x01
	challengeHeader       = 1 + 1 + 8 + 32
	maxSubjectLen         = 1024
)

var errChallenge = errors.New("login: corrupt challenge record")

type challenge struct {
	attempts uint8
	expires  int64
	tag      [32]byte
	subject  string
}

func (ch *challenge) encode() []byte {
	b := make([]byte, challengeHeader, challengeHeader+len(ch.subject))
	b[0] = challengeVersion
	b[1] = ch.attempts
	binary.BigEndian.PutUint64(b[2:], uint64(ch.expires))
	copy(b[10:], ch.tag[:])
	return append(b, ch.subject...)
}

func decodeChallenge(b []byte) (challenge, error) {
	if len(b) <= challengeHeader || len(b) > challengeHeader+maxSubjectLen || b[0] != challengeVersion {
		return challenge{}, errChallenge
	}
	ch := challenge{attempts: b[1], expires: int64(binary.BigEndian.Uint64(b[2:]))}
	copy(ch.tag[:], b[10:])
	ch.subject = string(b[challengeHeader:])
	if ch.expires <= 0 || !utf8.ValidString(ch.subject) {
		return challenge{}, errChallenge
	}
	return ch, nil
}
