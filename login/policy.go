package login

import (
	"context"
	_ "embed" // the common-password blocklist
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Defaults of [Policy], after NIST SP 800-63B-4 §3.1.1.2.
const (
	// DefaultMinLength is the shortest password in characters (Unicode
	// code points) when a password may be the only factor. Use 8 where a
	// password is always one of two factors.
	DefaultMinLength = 15
	// DefaultMaxLength is the longest password in characters; NIST asks
	// for at least 64. It is also bounded by MaxPasswordBytes.
	DefaultMaxLength = 256
	// MaxPasswordBytes bounds a password's UTF-8 encoding, as the hash
	// package does (hash.DefaultMaxPasswordLen).
	MaxPasswordBytes = 1024
)

// ErrPolicy matches every *[PolicyError].
var ErrPolicy = errors.New("login: password refused by the policy")

// ErrBreachCheck means the breached-password service could not be asked
// and the check fails closed: the password was neither accepted nor refused.
var ErrBreachCheck = errors.New("login: breached-password check unavailable")

// The rules a password can break ([PolicyError.Rule]).
const (
	RuleTooShort = "too_short" // fewer than MinLength characters
	RuleTooLong  = "too_long"  // more than MaxLength characters or MaxPasswordBytes bytes
	RuleEncoding = "encoding"  // not valid UTF-8
	RuleCommon   = "common"    // on the embedded blocklist of common passwords
	RuleContext  = "context"   // is or contains a context word (the user name, the service)
	RuleBreached = "breached"  // found by the breached-password check
)

// PolicyError says which rule a password broke. Its message is safe to show
// the user; it never contains the password.
type PolicyError struct {
	Rule    string
	Message string
}

func (e *PolicyError) Error() string { return "login: " + e.Message }

// Is makes errors.Is(err, ErrPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// BreachChecker reports whether a password appears in known breaches.
// [RangeClient] is one; a test may supply its own.
type BreachChecker interface {
	Breached(ctx context.Context, password string) (bool, error)
}

// Policy checks a new password (at sign-up and password change) against
// the rules of NIST SP 800-63B-4 (Digital Identity Guidelines,
// Authentication and Authenticator Management, final, 2025), §3.1.1.2
// "Password Verifiers". The rules it implements:
//
//   - a minimum length, 15 characters by default (single-factor; 8 is the
//     minimum where the password is only used with a second factor);
//   - a maximum length of at least 64 characters (256 by default), with
//     every Unicode code point counting as one character and every
//     printable character, space and Unicode accepted;
//   - no composition rules (no required digits, cases or symbols) and no
//     periodic expiry: the Policy has no such settings;
//   - a blocklist: common passwords (an embedded list, compared
//     case-insensitively, and one character repeated), context-specific words (the user name, the
//     service's name — passed to Check), and optionally a breached-password
//     service ([Policy.Breached], a k-anonymity [RangeClient]).
//
// Not implemented here: Unicode normalisation (NFKC/NFKD), which the
// standard recommends when Unicode is accepted — it needs tables the
// standard library does not have; normalise both at sign-up and at sign-in
// if you apply it. The rate limiting of §3.2.2 is the [Password] flow's
// throttle; hashing (§3.1.1.2, salted and costly) is the hash package's.
//
// The zero Policy applies the defaults with no breached-password check.
type Policy struct {
	// MinLength is the shortest password in characters. 0 means
	// DefaultMinLength (15).
	MinLength int
	// MaxLength is the longest password in characters. 0 means
	// DefaultMaxLength (256); at least 64 is allowed by NIST.
	MaxLength int
	// NoCommonList turns the embedded common-password blocklist off (for
	// an application that checks a larger list of its own through Breached).
	NoCommonList bool
	// Breached, when set, is asked about every password that passes the
	// other rules.
	Breached BreachChecker
}

//go:embed common-passwords.txt
var commonPasswordList string

var commonPasswords = func() map[string]bool {
	m := make(map[string]bool)
	for l := range strings.Lines(commonPasswordList) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}()

// IsCommon reports whether password is on the embedded blocklist of common
// passwords (case-insensitively).
func IsCommon(password string) bool { return commonPasswords[strings.ToLower(password)] }

func oneCharacter(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// Check returns nil when password may be chosen, a *[PolicyError] naming
// the broken rule, an error wrapping [ErrBreachCheck] when the breach
// service failed closed, or the context's error. contextWords are words
// the password must neither be nor contain (case-insensitively): the user
// name, the email address's local part, the service's name; words shorter
// than four characters are only refused as the whole password.
func (p Policy) Check(ctx context.Context, password string, contextWords ...string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	if len(password) > MaxPasswordBytes {
		return &PolicyError{RuleTooLong, fmt.Sprintf("a password has at most %d characters", maxLen)}
	}
	if !utf8.ValidString(password) {
		return &PolicyError{RuleEncoding, "the password is not valid text (UTF-8)"}
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < minLen:
		return &PolicyError{RuleTooShort, fmt.Sprintf("a password has at least %d characters", minLen)}
	case n > maxLen:
		return &PolicyError{RuleTooLong, fmt.Sprintf("a password has at most %d characters", maxLen)}
	case !p.NoCommonList && IsCommon(password):
		return &PolicyError{RuleCommon, "this password is on lists of common passwords"}
	case oneCharacter(password):
		return &PolicyError{RuleCommon, "the password repeats one character"}
	}
	lower := strings.ToLower(password)
	for _, w := range contextWords {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		if lower == w || (utf8.RuneCountInString(w) >= 4 && strings.Contains(lower, w)) {
			return &PolicyError{RuleContext, "the password must not contain your user name or the name of this service"}
		}
	}
	if p.Breached != nil {
		found, err := p.Breached.Breached(ctx, password)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %w", ErrBreachCheck, err)
		}
		if found {
			return &PolicyError{RuleBreached, "this password has appeared in a data breach; choose another"}
		}
	}
	return nil
}
