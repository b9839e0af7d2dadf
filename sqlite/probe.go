package sqlite

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley"
)

var _ parley.WriteProber = (*Store)(nil)

// ProbeWrite implements parley.WriteProber: it commits one change to the
// database header, flipping PRAGMA user_version between 0 and 1 (Parley
// keeps its schema version in the schema_version table, not there), so it
// needs what any commit needs: a WAL frame written and synced. It fails
// with parley.ErrStorageFull while the disk has no room for that.
func (s *Store) ProbeWrite(ctx context.Context) error {
	// The transaction's own *sql.Tx, not the prepared-statement cache:
	// the probe is rare and its PRAGMAs need not be kept.
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("probe write: %w", classify(err))
	}
	defer tx.Rollback()
	var v int
	if err := tx.Tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	flip := `PRAGMA user_version = 1`
	if v == 1 {
		flip = `PRAGMA user_version = 0`
	}
	if _, err := tx.Tx.ExecContext(ctx, flip); err != nil {
		return fmt.Errorf("probe write: %w", classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	return nil
}
