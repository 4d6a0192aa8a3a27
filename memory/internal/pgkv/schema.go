//go:build !wasip1

package pgkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSchema is returned by Open for a database whose herken tables are of a
// schema this build does not read: newer, or not the engine's.
var ErrSchema = errors.New("pgkv: unknown schema")

// schemaVersion is the version of the tables this build writes. A change to
// the tables raises it and adds a step to migrations.
const schemaVersion = 1

// lockSchema is the advisory lock under which Open creates or migrates the
// tables, so that instances opening at once do it once.
const lockSchema = 0x6865726b656e0001 // "herken" 1

// schema is the engine's tables, version 1:
//   - herken_kv: the store's keys and values; expires is set for values of
//     SetExpiring. Its pages are filled to 70% on insert, so that a value
//     written again (a profile, at every write of its customer) mostly
//     stays on its page without a new index entry: serializable writes to
//     distinct customers then conflict less often on shared index pages,
//     and record-contact on a three-member cluster went from about 0.9 to
//     1.5-1.9 k/s. Tables made before keep theirs; ALTER TABLE herken_kv
//     SET (fillfactor = 70) changes it for pages written from then on.
//   - herken_keys: the customers' keys (keys.go), one row a slot; slot 0 is
//     the store's secret.
//   - herken_commits: one row a write transaction, to settle a commit of
//     unknown outcome (txn.go); rows older than a day are deleted.
//   - herken_limits: rate buckets shared by the store's processes
//     (rate.go), unlogged.
//   - herken_feed: a publication of no table, which the change feed's
//     pgoutput plugin needs (feed.go).
var schema = []string{
	`CREATE TABLE herken_schema (
		one boolean PRIMARY KEY DEFAULT true CHECK (one),
		version integer NOT NULL)`,
	`CREATE TABLE herken_kv (
		k bytea PRIMARY KEY,
		v bytea NOT NULL,
		expires timestamptz) WITH (fillfactor = 70)`,
	`CREATE INDEX herken_kv_expires ON herken_kv (expires) WHERE expires IS NOT NULL`,
	`CREATE TABLE herken_keys (
		slot bigint PRIMARY KEY,
		state smallint NOT NULL,
		owner bytea NOT NULL,
		key bytea NOT NULL)`,
	`CREATE SEQUENCE herken_key_slots AS bigint MINVALUE 1 MAXVALUE 4294967295 CACHE 1`,
	`CREATE TABLE herken_commits (
		id bytea PRIMARY KEY,
		applied boolean NOT NULL,
		at timestamptz NOT NULL DEFAULT now())`,
	`CREATE INDEX herken_commits_at ON herken_commits (at)`,
	`CREATE UNLOGGED TABLE herken_limits (
		k bytea PRIMARY KEY,
		tat timestamptz NOT NULL)`,
	`CREATE PUBLICATION herken_feed`,
	`INSERT INTO herken_schema (version) VALUES (1)`,
}

// prepare checks the server and creates the tables, or checks their
// version, under an advisory lock.
func (d *DB) prepare(ctx context.Context) error {
	return d.runIn(ctx, func(rctx context.Context) error {
		tx, err := d.side.BeginTx(rctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		var level string
		if err := tx.QueryRow(rctx, `SELECT current_setting('wal_level')`).Scan(&level); err != nil {
			return err
		}
		if level != "logical" {
			return fmt.Errorf("%w: PostgreSQL's wal_level is %s; herken's change feed needs logical: set wal_level = logical and restart the server", ErrConfig, level)
		}
		if _, err := tx.Exec(rctx, `SELECT pg_advisory_xact_lock($1)`, int64(lockSchema)); err != nil {
			return err
		}
		var have *string
		if err := tx.QueryRow(rctx, `SELECT to_regclass('herken_schema')::text`).Scan(&have); err != nil {
			return err
		}
		if have == nil {
			var other *string
			if err := tx.QueryRow(rctx, `SELECT to_regclass('herken_kv')::text`).Scan(&other); err != nil {
				return err
			}
			if other != nil {
				return fmt.Errorf("%w: the database has a table herken_kv but no herken_schema: it is not a store of this engine", ErrSchema)
			}
			for _, stmt := range schema {
				if _, err := tx.Exec(rctx, stmt); err != nil {
					return fmt.Errorf("create the tables: %w", err)
				}
			}
			return tx.Commit(rctx)
		}
		var version int
		if err := tx.QueryRow(rctx, `SELECT version FROM herken_schema`).Scan(&version); err != nil {
			return fmt.Errorf("%w: read herken_schema: %v", ErrSchema, err)
		}
		if version > schemaVersion {
			return fmt.Errorf("%w: the tables are of schema %d, newer than this build reads (%d): open the store with a newer release", ErrSchema, version, schemaVersion)
		}
		if version < 1 {
			return fmt.Errorf("%w: herken_schema says version %d", ErrSchema, version)
		}
		return tx.Commit(rctx)
	})
}
