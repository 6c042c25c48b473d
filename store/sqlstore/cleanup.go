package sqlstore

import (
	"context"
	"log/slog"
	"time"
)

// DeleteExpired deletes every row whose expiry has passed, in batches of at
// most [Config.CleanupBatchSize] rows, one short statement each, until a
// batch comes back short. Each DELETE re-checks the expiry itself, so a row
// refreshed while cleanup runs is kept. It returns how many rows it deleted.
// The background cleanup calls it; call it yourself when that is disabled.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	if err := s.ready(ctx); err != nil {
		return 0, err
	}
	var total int64
	for {
		n, err := s.deleteExpiredBatch(ctx)
		total += n
		if err != nil {
			return total, s.wrapErr(ctx, "delete expired", err)
		}
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

// deleteExpiredBatch runs one cleanup statement and returns how many rows it
// deleted.
func (s *Store) deleteExpiredBatch(ctx context.Context) (int64, error) {
	var n int64
	err := s.retry(ctx, func() error {
		res, err := s.db.ExecContext(ctx, s.q.cleanup, s.dialect.cleanupArgs(s.nowMillis(), s.batch)...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func (s *Store) cleanupLoop(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.DeleteExpired(ctx)
			if err != nil && ctx.Err() == nil {
				s.logger.LogAttrs(ctx, slog.LevelWarn, "sqlstore: cleanup of expired rows failed",
					slog.String("table", s.table), slog.Int64("deleted", n), slog.Any("error", err))
			}
		}
	}
}
