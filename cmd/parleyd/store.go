package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/inmem"
	"github.com/parley-chat/parley/postgres"
	"github.com/parley-chat/parley/sqlite"
)

// storeHealthInterval is how often the server pings its database; health
// reports NOT_SERVING from the first failed ping until one succeeds.
const storeHealthInterval = 2 * time.Second

// openStorage opens the storage cfg names and the broker that goes with it,
// and returns a func that closes both:
//   - with --db, PostgreSQL, shared by every replica, and a broker that
//     fans messages out across replicas with LISTEN/NOTIFY;
//   - otherwise SQLite in --data-dir and the in-process broker: one replica.
//
// obs, if not nil, observes the engine's commits and the PostgreSQL
// broker's reads (metrics).
func openStorage(ctx context.Context, cfg config, logger *slog.Logger, obs *parley.Observer) (parley.Store, parley.Broker, func(), error) {
	local := inmem.NewBroker(inmem.WithQueueSize(cfg.subscriberQueue))
	if cfg.db != "" {
		store, err := postgres.Open(ctx, cfg.db, postgres.WithObserver(obs))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open database: %w", err)
		}
		broker := postgres.NewBroker(store, local, postgres.WithLogger(logger))
		return store, broker, func() {
			_ = broker.Close()
			_ = store.Close()
		}, nil
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("create data directory: %w", err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(cfg.dataDir, "parley.db"), sqlite.WithObserver(obs))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open database: %w", err)
	}
	return store, local, func() { _ = store.Close() }, nil
}
