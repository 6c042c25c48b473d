package session

import (
	"context"
	"errors"
	"log/slog"

	"github.com/authkit/authkit/internal/index"
)

// endMembers ends the sessions of members marked Ending in subject's index:
// it writes the revoked marker under each member's key until the member's
// expiry — replacing a live record, or pre-empting one not created yet —
// then removes from the index the members whose marker was written. A
// member whose marker could not be written stays Ending, so the next
// update of the index hands it back and a retried revocation finishes it.
// It returns the members it ended and the errors of those it could not.
func (m *Manager) endMembers(ctx context.Context, subject string, ms []index.Member) ([]index.Member, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	var errs []error
	ended := make([]index.Member, 0, len(ms))
	ids := make([]string, 0, len(ms))
	for _, x := range ms {
		if err := m.store.Set(ctx, x.ID, revokedMarker, x.Expires); err != nil {
			errs = append(errs, err)
			continue
		}
		ended = append(ended, x)
		ids = append(ids, x.ID)
	}
	if err := m.index.Finish(ctx, subject, ids...); err != nil {
		// The records are ended; the members stay Ending until an update
		// finishes them, which only costs a rewrite of the marker.
		errs = append(errs, err)
	}
	return ended, errors.Join(errs...)
}

// endLeftovers ends the Ending members an index update handed back that
// this call did not mean to end — those left by a revocation that failed
// half-way — logging what it could not do: the caller's own operation
// does not depend on it.
func (m *Manager) endLeftovers(ctx context.Context, subject string, ms []index.Member) {
	if _, err := m.endMembers(ctx, subject, ms); err != nil {
		m.logger.LogAttrs(ctx, slog.LevelWarn, "session: cannot end a session being revoked; the next update of the index retries", slog.Any("error", err))
	}
}
