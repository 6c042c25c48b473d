package jwt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/cas"
	"github.com/authkit/authkit/store"
)

// Revocation
//
// All revocation state of one subject lives in one store record under
// "jrev:" + base64url(SHA-256(subject)), so a verification costs at most one
// store read. Version 1 of the record is:
//
//	[0]       version (1)
//	[1:9]     watermark, Unix ms (0: none)
//	[9:17]    watermark kept until, Unix ms
//	[17:19]   entry count n
//	n × 25    kind (1 jti, 2 family) | first 16 bytes of SHA-256(value) | kept until, Unix ms
//
// The watermark W is the time of the revocation, with no leeway added: each
// verifier refuses a token whose iat is at or before W plus its own
// Config.Leeway.
//
// How long an entry is kept does not depend on the configuration of the
// verifier that wrote it, since verifiers with other configurations read
// the same record: a jti is kept until its token's exp plus MaxLeeway, and
// a family or the watermark for retention (MaxMaxLifetime + 2×MaxLeeway)
// after the revocation — by then every token they can match has expired for
// every verifier, none of which accepts exp - iat over MaxMaxLifetime or a
// leeway over MaxLeeway. Entries are pruned on every update, and capped at
// MaxRevocations.

const (
	recordVersion   = 1
	recordHeaderLen = 19
	recordEntryLen  = 25
	kindJTI         = 1
	kindFamily      = 2
)

// retention is how long, in ms, a family entry or a watermark is kept.
const retention = int64((MaxMaxLifetime + 2*MaxLeeway) / time.Millisecond)

// jtiSlack is how long, in ms, a jti entry is kept after its token's exp.
const jtiSlack = int64(MaxLeeway / time.Millisecond)

type revEntry struct {
	kind  byte
	hash  [16]byte
	until int64
}

type record struct {
	watermark int64
	wmUntil   int64
	entries   []revEntry
}

var errCorruptRecord = errors.New("jwt: corrupt revocation record")

func parseRecord(b []byte) (*record, error) {
	if len(b) < recordHeaderLen || b[0] != recordVersion {
		return nil, errCorruptRecord
	}
	n := int(binary.BigEndian.Uint16(b[17:19]))
	if len(b) != recordHeaderLen+n*recordEntryLen {
		return nil, errCorruptRecord
	}
	r := &record{
		watermark: int64(binary.BigEndian.Uint64(b[1:9])),
		wmUntil:   int64(binary.BigEndian.Uint64(b[9:17])),
		entries:   make([]revEntry, n),
	}
	for i := range r.entries {
		e := b[recordHeaderLen+i*recordEntryLen:]
		r.entries[i].kind = e[0]
		copy(r.entries[i].hash[:], e[1:17])
		r.entries[i].until = int64(binary.BigEndian.Uint64(e[17:25]))
	}
	return r, nil
}

// encode returns the record and the time it can be dropped, or nil when it
// holds nothing.
func (r *record) encode() ([]byte, int64) {
	if r.watermark == 0 && len(r.entries) == 0 {
		return nil, 0
	}
	b := make([]byte, recordHeaderLen, recordHeaderLen+len(r.entries)*recordEntryLen)
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(r.watermark))
	binary.BigEndian.PutUint64(b[9:17], uint64(r.wmUntil))
	binary.BigEndian.PutUint16(b[17:19], uint16(len(r.entries)))
	until := r.wmUntil
	for _, e := range r.entries {
		b = append(b, e.kind)
		b = append(b, e.hash[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.until))
		until = max(until, e.until)
	}
	return b, until
}

func (r *record) prune(now int64) {
	if r.watermark != 0 && r.wmUntil <= now {
		r.watermark, r.wmUntil = 0, 0
	}
	kept := r.entries[:0]
	for _, e := range r.entries {
		if e.until > now {
			kept = append(kept, e)
		}
	}
	r.entries = kept
}

func (r *record) add(kind byte, h [16]byte, until int64) {
	for i, e := range r.entries {
		if e.kind == kind && e.hash == h {
			r.entries[i].until = max(e.until, until)
			return
		}
	}
	r.entries = append(r.entries, revEntry{kind: kind, hash: h, until: until})
}

func (r *record) raiseWatermark(now, until int64) {
	r.watermark = max(r.watermark, now)
	r.wmUntil = max(r.wmUntil, until)
}

func revHash(kind byte, v string) [16]byte {
	var buf [128]byte
	var sum [32]byte
	if len(v)+1 <= len(buf) {
		buf[0] = kind
		n := copy(buf[1:], v)
		sum = sha256.Sum256(buf[:1+n])
	} else {
		sum = sha256.Sum256(append([]byte{kind}, v...))
	}
	return [16]byte(sum[:16])
}

// checkRevoked reads e's subject record and refuses the token if it is
// revoked. A store failure is returned as is (not a verdict on the token).
func (v *Verifier) checkRevoked(ctx context.Context, e *entry, now int64) error {
	if !v.revoking {
		return nil
	}
	b, err := v.cfg.Store.Get(ctx, e.revKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jwt: reading revocation record: %w", err)
	}
	rej, err := revokedBy(b, e, v.leeway)
	if err != nil {
		return err
	}
	if rej != nil {
		v.emitRejected(ctx, rej, e.claims.Subject)
		return rej
	}
	return nil
}

// revokedBy checks the encoded record b against e without decoding it into
// a record. leeway is the verifier's, in ms.
func revokedBy(b []byte, e *entry, leeway int64) (*rejection, error) {
	if len(b) < recordHeaderLen || b[0] != recordVersion {
		return nil, errCorruptRecord
	}
	n := int(binary.BigEndian.Uint16(b[17:19]))
	if len(b) != recordHeaderLen+n*recordEntryLen {
		return nil, errCorruptRecord
	}
	// The watermark is a Unix millisecond W. A token is revoked when its iat,
	// read to the millisecond, is at or before W + leeway. An iat in whole
	// seconds S reads as S×1000, the earliest instant it may stand for, so a
	// token with iat S is revoked by any watermark in [S s, S+1 s): it may
	// have been issued before the revocation, and the verifier cannot tell.
	if wm := int64(binary.BigEndian.Uint64(b[1:9])); wm != 0 && e.iat <= wm+leeway {
		return errRevokedSubject, nil
	}
	if n == 0 || e.claims.ID == "" && e.claims.FamilyID == "" {
		return nil, nil
	}
	var jh, fh [16]byte
	if e.claims.ID != "" {
		jh = revHash(kindJTI, e.claims.ID)
	}
	if e.claims.FamilyID != "" {
		fh = revHash(kindFamily, e.claims.FamilyID)
	}
	for i := range n {
		x := b[recordHeaderLen+i*recordEntryLen:]
		switch {
		case x[0] == kindJTI && e.claims.ID != "" && bytes.Equal(x[1:17], jh[:]):
			return errRevokedJTI, nil
		case x[0] == kindFamily && e.claims.FamilyID != "" && bytes.Equal(x[1:17], fh[:]):
			return errRevokedFamily, nil
		}
	}
	return nil, nil
}

// update applies fn to subject's record in a CompareAndSwap loop (prune,
// change, cap), retried with jittered backoff as cas.DefaultPolicy allows
// (64 rounds: dozens of concurrent revocations of one subject on a network
// store land). A revocation that still loses every round returns
// ErrConflict, and one the store fails returns the store's error: it is
// never dropped, and calling it again finishes the job.
func (v *Verifier) update(ctx context.Context, subject string, fn func(r *record, now int64)) error {
	if !v.revoking {
		return ErrRevocationDisabled
	}
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalidClaims)
	}
	err := cas.Update(ctx, v.cfg.Store, revocationKey(subject), cas.Policy{}, func(old []byte) ([]byte, time.Time, error) {
		r := &record{}
		if old != nil {
			var err error
			if r, err = parseRecord(old); err != nil {
				return nil, time.Time{}, err
			}
		}
		now := v.now().UnixMilli()
		r.prune(now)
		fn(r, now)
		if len(r.entries) > v.maxRev {
			// Collapse: revoke everything the subject holds so far. Each
			// verifier adds its leeway to the watermark, so a revoked jti
			// from a clock running ahead does not come back to life.
			r.entries = nil
			r.raiseWatermark(now, now+retention)
		}
		nb, until := r.encode()
		return nb, time.UnixMilli(until), nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cas.ErrConflict):
		return ErrConflict
	case errors.Is(err, ErrInvalidClaims), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	default:
		return fmt.Errorf("jwt: updating the revocation record: %w", err)
	}
}

// RevokeSubject implements [authkit.Revoker]: it revokes every token issued
// to subject up to now, for "log out everywhere", a password change or an
// account disable. Tokens issued afterwards are not affected.
//
// It stores a watermark W, the current Unix time in milliseconds, and every
// Verifier sharing the store refuses any token of the subject whose iat is
// at or before W plus its own Config.Leeway: Verify accepts an iat up to
// Leeway ahead of its clock, so a token issued just before the revocation
// by an issuer whose clock runs ahead can carry an iat up to W + Leeway.
// The same rule makes tokens issued within Leeway after the revocation
// fail too (the verifier cannot tell them apart); with the default Leeway
// of zero, tokens of an [Issuer], which writes iat to the millisecond,
// pass from one millisecond after the revocation on. An iat in whole
// seconds (other issuers) is read as the start of its second: a token
// issued in the same second as the revocation, before or after it, is
// refused, and tokens from the next second (plus Leeway) on pass. The
// comparison uses the clocks of the revoking and the issuing servers; keep
// them synchronized.
//
// The watermark is kept for MaxMaxLifetime + 2×MaxLeeway, whatever the
// configuration of the verifier that wrote it, since none accepts a token
// living longer.
func (v *Verifier) RevokeSubject(ctx context.Context, subject string) error {
	err := v.update(ctx, subject, func(r *record, now int64) {
		r.raiseWatermark(now, now+retention)
	})
	v.emitRevoke(ctx, subject, authkit.ReasonSubject, err)
	return err
}

// RevokeJTI revokes the token of subject whose jti is jti. expiresAt is the
// token's exp, until which (plus MaxLeeway) the revocation is kept; zero
// means as long as any token may live (MaxMaxLifetime + 2×MaxLeeway from
// now).
func (v *Verifier) RevokeJTI(ctx context.Context, subject, jti string, expiresAt time.Time) error {
	if jti == "" {
		return fmt.Errorf("%w: empty jti", ErrInvalidClaims)
	}
	h := revHash(kindJTI, jti)
	err := v.update(ctx, subject, func(r *record, now int64) {
		until := now + retention
		if !expiresAt.IsZero() {
			until = min(until, expiresAt.UnixMilli()+jtiSlack)
		}
		if until > now {
			r.add(kindJTI, h, until)
		}
	})
	v.emitRevoke(ctx, subject, authkit.ReasonJTI, err)
	return err
}

// RevokeFamily revokes every token of subject whose fid claim is familyID:
// the access tokens issued from one refresh-token family. It is kept for
// MaxMaxLifetime + 2×MaxLeeway, by when every token issued from the family
// so far has expired for every verifier; the family's refresh tokens must
// be revoked too (the token package does so on reuse), so that no new ones
// are issued.
func (v *Verifier) RevokeFamily(ctx context.Context, subject, familyID string) error {
	if familyID == "" {
		return fmt.Errorf("%w: empty family ID", ErrInvalidClaims)
	}
	h := revHash(kindFamily, familyID)
	err := v.update(ctx, subject, func(r *record, now int64) {
		r.add(kindFamily, h, now+retention)
	})
	v.emitRevoke(ctx, subject, authkit.ReasonFamily, err)
	return err
}

// RevokeToken verifies token and revokes its jti, for logging out one
// access token (or an RFC 7009 revocation endpoint). A token that is
// already expired or revoked needs nothing and returns nil; a token that
// does not verify returns the verification error; a valid token without a
// jti is an error matching ErrInvalidClaims.
func (v *Verifier) RevokeToken(ctx context.Context, token string) error {
	if !v.revoking {
		return ErrRevocationDisabled
	}
	c, err := v.Verify(ctx, token)
	switch {
	case errors.Is(err, ErrExpired), errors.Is(err, ErrRevoked):
		return nil
	case err != nil:
		return err
	case c.ID == "":
		return errRevocationNoJTI
	}
	return v.RevokeJTI(ctx, c.Subject, c.ID, c.ExpiresAt)
}

func (v *Verifier) emitRevoke(ctx context.Context, subject, reason string, err error) {
	if err != nil || v.cfg.Events == nil {
		return
	}
	v.cfg.Events(ctx, authkit.Event{
		Type:    authkit.EventRevoke,
		Time:    v.now(),
		Method:  authkit.MethodJWT,
		Subject: subject,
		Reason:  reason,
	})
}
