package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authkit/authkit/login"
	"github.com/authkit/authkit/store"
)

// The demo keeps its users in the same store as everything else, so that
// every -store backend works and several instances on one store share them.

const (
	minUsernameLen = 3
	maxUsernameLen = 32
	minPasswordLen = 8
	maxPasswordLen = 256 // bytes; the hash package accepts up to 1024

	userKeyPrefix = "demo:user:"
	userLifetime  = 10 * 365 * 24 * time.Hour // the Store contract needs an expiry
)

// demoUser and demoPassword are seeded at start-up with demoLegacyHash,
// a bcrypt hash (cost 10) as an older system would have stored it; the
// first login replaces it with an argon2id hash.
const (
	demoUser       = "demo"
	demoPassword   = "demo-password"
	demoLegacyHash = "$2b$10$bgyRxIUtNL8P6y70YJvtmOZYi62w31V.t0cOpvq5OXSr8AYKQTKEK"
)

var (
	errNoUser   = errors.New("no such user")
	errTaken    = errors.New("username taken")
	errConflict = errors.New("user record kept changing")
)

// inputError is a registration input the demo refuses, with a stable code for
// the JSON API and a sentence for people.
type inputError struct {
	Code    string // invalid_username, invalid_password
	Message string
}

func (e *inputError) Error() string { return e.Message }

// user is a registered account as stored, in JSON, under userKey(name).
type user struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"`
	Version int       `json:"version"` // bumped when the password changes
	Created time.Time `json:"created"`
	// Set when a login replaced a hash of an older scheme.
	UpgradedFrom string    `json:"upgraded_from,omitempty"`
	UpgradedAt   time.Time `json:"upgraded_at,omitzero"`
}

// storeKey returns prefix + base64url(SHA-256(s)), the way authkit's
// packages key their records: short, printable, and showing no user name.
func storeKey(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	return prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

func userKey(name string) string { return storeKey(userKeyPrefix, name) }

// normalizeUsername folds a user name to its canonical form, or reports
// why it is not acceptable.
func normalizeUsername(s string) (string, error) {
	if len(s) < minUsernameLen || len(s) > maxUsernameLen {
		return "", &inputError{"invalid_username", fmt.Sprintf("a username has %d to %d characters", minUsernameLen, maxUsernameLen)}
	}
	s = strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", &inputError{"invalid_username", "a username uses only letters, digits, '.', '_' and '-'"}
		}
	}
	return s, nil
}

// passwordPolicy is login.Policy (NIST SP 800-63B-4: length, no
// composition rules, a blocklist of common passwords and context words)
// with a minimum of 8 characters, so that the demo's examples stay short.
// The policy's default, 15, is NIST's minimum for a password that is the
// only factor.
var passwordPolicy = login.Policy{MinLength: minPasswordLen, MaxLength: maxPasswordLen}

// checkPassword applies passwordPolicy to a new password of username. A
// refusal is an *inputError; any other error means the check could not be
// made.
func checkPassword(ctx context.Context, username, pw string) error {
	if len(pw) > maxPasswordLen {
		return &inputError{"invalid_password", fmt.Sprintf("a password has at most %d bytes", maxPasswordLen)}
	}
	err := passwordPolicy.Check(ctx, pw, username, "authkit")
	var pe *login.PolicyError
	if errors.As(err, &pe) {
		return &inputError{"invalid_password", pe.Message}
	}
	return err
}

// users is the user registry on the store.
type users struct {
	st  store.Store
	now func() time.Time
}

func (u *users) get(ctx context.Context, name string) (user, error) {
	raw, err := u.st.Get(ctx, userKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return user{}, errNoUser
	}
	if err != nil {
		return user{}, err
	}
	var rec user
	if err := json.Unmarshal(raw, &rec); err != nil || rec.Name != name {
		return user{}, fmt.Errorf("corrupt user record: %v", err)
	}
	return rec, nil
}

// create stores rec unless its name is taken.
func (u *users) create(ctx context.Context, rec user) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ok, err := u.st.CompareAndSwap(ctx, userKey(rec.Name), nil, raw, u.now().Add(userLifetime))
	if err != nil {
		return err
	}
	if !ok {
		return errTaken
	}
	return nil
}

// update applies change to the stored record of name with CompareAndSwap,
// retrying a few times if a concurrent request changed it meanwhile.
func (u *users) update(ctx context.Context, name string, change func(*user) error) (user, error) {
	for range 8 {
		old, err := u.st.Get(ctx, userKey(name))
		if errors.Is(err, store.ErrNotFound) {
			return user{}, errNoUser
		}
		if err != nil {
			return user{}, err
		}
		var rec user
		if err := json.Unmarshal(old, &rec); err != nil {
			return user{}, fmt.Errorf("corrupt user record: %v", err)
		}
		if err := change(&rec); err != nil {
			return user{}, err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return user{}, err
		}
		if bytes.Equal(raw, old) {
			return rec, nil
		}
		ok, err := u.st.CompareAndSwap(ctx, userKey(name), old, raw, u.now().Add(userLifetime))
		if err != nil {
			return user{}, err
		}
		if ok {
			return rec, nil
		}
	}
	return user{}, errConflict
}

// describeHash names the scheme and parameters of an encoded password hash,
// for display; it never shows the salt or the hash itself.
func describeHash(encoded string) string {
	parts := strings.Split(encoded, "$")
	switch {
	case strings.HasPrefix(encoded, "$argon2id$") && len(parts) >= 4:
		return "argon2id (" + strings.ReplaceAll(parts[3], ",", ", ") + ")"
	case strings.HasPrefix(encoded, "$scrypt$") && len(parts) >= 3:
		return "scrypt (" + strings.ReplaceAll(parts[2], ",", ", ") + ")"
	case strings.HasPrefix(encoded, "$2") && len(parts) >= 3:
		return "bcrypt (cost " + strings.TrimLeft(parts[2], "0") + ")"
	case strings.HasPrefix(encoded, "$pbkdf2-sha256$") && len(parts) >= 3:
		return "PBKDF2-SHA256 (" + parts[2] + " iterations)"
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return "PBKDF2-SHA256, Django format (" + strings.Split(encoded, "$")[1] + " iterations)"
	}
	return "unknown scheme"
}

// hashPrefix returns the scheme-and-parameters part of an encoded hash
// ("$argon2id$v=19$m=19456,t=2,p=1$") with the salt and hash elided.
func hashPrefix(encoded string) string {
	parts := strings.Split(encoded, "$")
	switch {
	case strings.HasPrefix(encoded, "$argon2id$") && len(parts) == 6:
		return strings.Join(parts[:4], "$") + "$<salt>$<hash>"
	case strings.HasPrefix(encoded, "$2") && len(parts) == 4:
		return strings.Join(parts[:3], "$") + "$<salt+hash>"
	case len(parts) >= 3 && parts[0] == "":
		return strings.Join(parts[:3], "$") + "$…"
	}
	return "…"
}
