package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/authkit/authkit"
	"github.com/authkit/authkit/internal/index"
)

// RevokeSubject implements [authkit.Revoker]: it ends every token issued to
// subject — access tokens, one-time tokens, and refresh families with the
// access tokens issued from them. Call it on logout-everywhere, password
// change and account disable.
//
// It takes every member of the subject's three indexes in one swap each —
// the moment it takes effect — then writes a revoked marker under each
// token's key (a family is revoked, and its access tokens end with it),
// and removes from the indexes the members it ended. A token whose issue
// added it to an index before that swap is ended, even if its record is
// created later (the marker makes the creation fail); one added after the
// swap was issued after the revocation, as a sign-in just after it would
// be.
//
// It carries on past failures and returns them joined. A member it could
// not end stays in its index, marked as being revoked (no longer listed),
// so calling RevokeSubject again finishes the job. It costs one read and
// one swap per non-empty index, one write per token, two writes per
// family (three with access tokens or [Manager.OnFamilyRevoked]
// listeners), and one read and swap per index to remove the members.
func (m *Manager) RevokeSubject(ctx context.Context, subject string) error {
	if !validSubject(subject) {
		return fmt.Errorf("%w: subject must be 1..%d bytes of UTF-8", ErrInvalidOptions, MaxSubjectLen)
	}
	var errs []error
	for _, x := range []*index.Index{&m.tokens, &m.oneTime} {
		ending, err := x.Take(ctx, subject, nil)
		if err == nil {
			err = m.endIndexed(ctx, x, subject, ending)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	ending, err := m.families.Take(ctx, subject, nil)
	if err == nil {
		err = m.endFamilies(ctx, subject, ending)
	}
	if err != nil {
		errs = append(errs, err)
	}
	m.emit(ctx, authkit.EventRevoke, subject, authkit.ReasonSubject)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("token: revoke subject: %w", err)
	}
	return nil
}

// endIndexed ends the members an update of index x handed back as Ending
// (taken by a revocation, evicted by the cap, or left unfinished by an
// earlier call): it writes a revoked marker under each member's record key
// until the member's expiry, then removes from the index the members it
// ended. The others stay Ending, for the next update to hand back; their
// errors are returned.
func (m *Manager) endIndexed(ctx context.Context, x *index.Index, subject string, ending []index.Member) error {
	if len(ending) == 0 {
		return nil
	}
	var errs []error
	ended := make([]string, 0, len(ending))
	for _, mb := range ending {
		if err := m.st.Set(ctx, mb.ID, revokedMarker, mb.Expires); err != nil {
			errs = append(errs, err)
			continue
		}
		ended = append(ended, mb.ID)
	}
	if err := x.Finish(ctx, subject, ended...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// cleanup logs the failure of a write whose failure the caller does not
// return: the state it leaves is safe, and a later call finishes the job.
func (m *Manager) cleanup(ctx context.Context, err error) {
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "token: unfinished store write; a later call retries it", slog.Any("error", err))
	}
}
