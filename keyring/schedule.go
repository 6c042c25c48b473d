package keyring

import (
	"fmt"
	"slices"
	"time"
)

// Schedule is the life of the keys of one purpose. Every field has a default;
// the zero Schedule is valid. All servers of a fleet should use the same
// Schedule for a purpose: the dates a step writes are computed from the
// Schedule of the server that performs it.
//
// A key goes through four phases:
//
//  1. Published: created and added to every server's verify set (and to the
//     JWKS for a public-key algorithm) for Prepublish before it signs.
//  2. Signing: it seals or signs everything new for Rotation.
//  3. Verify-only: once its successor signs, it still opens and verifies
//     for MaxLifetime + Leeway, the longest anything it signed can live.
//  4. Removed: it leaves the record and every server's memory.
//
// A revoked key skips to the end at once.
type Schedule struct {
	// Rotation is how long a key signs before its successor takes over.
	// Default 30 days. It must be longer than Prepublish.
	Rotation time.Duration

	// Prepublish is how long a new key is published before it signs. It
	// must cover a reload by every server (Config.ReloadInterval) and, for
	// a JWT algorithm with a public key, the JWKS cache lifetime of remote
	// verifiers (Config.JWKSMaxAge) as well, so that nobody meets a token
	// signed with a key it has not seen. Default 1 hour.
	Prepublish time.Duration

	// MaxLifetime is the longest lifetime of anything signed with these
	// keys: the longest ttl given to the cookie Codec (which refuses longer
	// ones: its MaxTTL is set to this), or the JWT issuer's longest token
	// lifetime (keep it no longer than the verifiers' jwt.Config
	// MaxLifetime). A key stays verify-only this long plus Leeway after it
	// stops signing. Default 30 days for cookie purposes, 24 hours for JWT.
	MaxLifetime time.Duration

	// Leeway is added to MaxLifetime to cover clock differences between
	// servers and the moment a server takes to switch to a new signing key.
	// Default 5 minutes.
	Leeway time.Duration
}

// Default schedule values.
const (
	DefaultRotation          = 30 * 24 * time.Hour
	DefaultPrepublish        = time.Hour
	DefaultCookieMaxLifetime = 30 * 24 * time.Hour
	DefaultJWTMaxLifetime    = 24 * time.Hour
	DefaultLeeway            = 5 * time.Minute
)

// withDefaults fills in the defaults of s for a purpose of the given kind and
// checks it against cfg: minPublish is the shortest Prepublish the reload
// interval and the JWKS cache lifetime allow.
func (s Schedule) withDefaults(kind byte, minPublish time.Duration) (Schedule, error) {
	if s.Rotation == 0 {
		s.Rotation = DefaultRotation
	}
	if s.Prepublish == 0 {
		s.Prepublish = DefaultPrepublish
	}
	if s.MaxLifetime == 0 {
		s.MaxLifetime = DefaultJWTMaxLifetime
		if kind == kindCookie {
			s.MaxLifetime = DefaultCookieMaxLifetime
		}
	}
	if s.Leeway == 0 {
		s.Leeway = DefaultLeeway
	}
	switch {
	case s.Rotation < 0 || s.Prepublish < 0 || s.MaxLifetime < 0 || s.Leeway < 0:
		return s, fmt.Errorf("%w: negative Schedule duration", ErrInvalidConfig)
	case s.Rotation <= s.Prepublish:
		return s, fmt.Errorf("%w: Schedule.Rotation (%v) must be longer than Prepublish (%v)", ErrInvalidConfig, s.Rotation, s.Prepublish)
	case s.Prepublish < minPublish:
		return s, fmt.Errorf("%w: Schedule.Prepublish (%v) must be at least %v: the reload interval, plus the JWKS max-age for a published key", ErrInvalidConfig, s.Prepublish, minPublish)
	case (s.Prepublish+s.MaxLifetime+s.Leeway)/s.Rotation > MaxKeys/2:
		return s, fmt.Errorf("%w: Schedule.Rotation (%v) is too short for its lifetimes: more than %d keys would be live at once", ErrInvalidConfig, s.Rotation, MaxKeys/2)
	}
	return s, nil
}

// plan is a Schedule in Unix milliseconds.
type plan struct {
	rotation, prepublish, verify int64
}

func (s Schedule) plan() plan {
	return plan{s.Rotation.Milliseconds(), s.Prepublish.Milliseconds(), (s.MaxLifetime + s.Leeway).Milliseconds()}
}

// live returns the indices of the keys that are not revoked, in order of
// activation.
func (r *record) live() []int {
	var idx []int
	for i := range r.keys {
		if !r.keys[i].isRevoked() {
			idx = append(idx, i)
		}
	}
	return idx
}

// signer returns the index of the key that signs at now, or -1: the live key
// activated last at or before now, unless it has stopped signing.
func (r *record) signer(now int64) int {
	for i := len(r.keys) - 1; i >= 0; i-- {
		e := &r.keys[i]
		if e.isRevoked() || e.activates > now {
			continue
		}
		if e.deactivates != 0 && e.deactivates <= now {
			return -1 // stopped signing, and nothing activated after it
		}
		return i
	}
	return -1
}

// replacement returns the index of a live key that must sign at once but
// activates after now — written by a server whose clock is ahead — or -1.
func (r *record) replacement(now int64) int {
	for i := range r.keys {
		if e := &r.keys[i]; !e.isRevoked() && e.activates > now && e.flags&flagEarly != 0 {
			return i
		}
	}
	return -1
}

// replacementWaiting reports whether replacement(now) finds one.
func (r *record) replacementWaiting(now int64) bool { return r.replacement(now) >= 0 }

// verifies reports whether key i is in the verify set at now.
func (r *record) verifies(i int, now int64) bool {
	e := &r.keys[i]
	return !e.isRevoked() && (e.removes == 0 || e.removes > now)
}

// insert adds e in order of activation (after keys that activate at the
// same time) and returns its index.
func (r *record) insert(e entry) int {
	i := len(r.keys)
	for i > 0 && r.keys[i-1].activates > e.activates {
		i--
	}
	r.keys = slices.Insert(r.keys, i, e)
	return i
}

// normalize sets the deactivation and removal dates of the live keys from
// their successors. A key that has already stopped signing keeps its dates:
// it never signs again, so revoking its successor cannot revive it.
func (r *record) normalize(now int64, p plan) {
	live := r.live()
	for n, i := range live {
		e := &r.keys[i]
		if e.deactivates != 0 && e.deactivates <= now {
			continue
		}
		if n+1 < len(live) {
			// Set only when the successor changes: a server with another
			// verify window leaves the dates another server wrote alone.
			if next := r.keys[live[n+1]].activates; e.deactivates != next {
				e.deactivates, e.removes = next, next+p.verify
			}
		} else {
			e.deactivates, e.removes = 0, 0
		}
	}
}

// prune drops the keys whose removal time has come, revoked ones included,
// and returns their IDs.
func (r *record) prune(now int64) []string {
	var gone []string
	r.keys = slices.DeleteFunc(r.keys, func(e entry) bool {
		if e.removes != 0 && e.removes <= now {
			gone = append(gone, e.id)
			return true
		}
		return false
	})
	return gone
}

// rotationDue returns when the next scheduled key is due to be created: the
// last live key's activation plus Rotation minus Prepublish. It returns 0
// when the record has no live key.
func (r *record) rotationDue(p plan) int64 {
	live := r.live()
	if len(live) == 0 {
		return 0
	}
	return r.keys[live[len(live)-1]].activates + p.rotation - p.prepublish
}

// nextChange returns the first time after now at which a key of r
// activates, deactivates or is removed, or a scheduled key is due; 0 if none.
func (r *record) nextChange(now int64, p plan) int64 {
	next := int64(0)
	consider := func(t int64) {
		if t > now && (next == 0 || t < next) {
			next = t
		}
	}
	for _, e := range r.keys {
		consider(e.activates)
		consider(e.deactivates)
		consider(e.removes)
	}
	consider(r.rotationDue(p))
	return next
}
