package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/herken/herken/memory"
)

// PostgreSQL, as a skilled user would keep customers there (see peer.go):
// a customers table with the document (msgpack, bytea) and the newest
// contact of each channel in an array indexed by the channel's number
// (msgpack, bytea[]), an identifiers table with its primary key as the
// index, and a contacts table. Each operation is one statement, which pgx
// prepares once on each connection (its default statement cache) and then
// sends as Bind and Execute: one round trip.
const pgSchema = `
DROP TABLE IF EXISTS bench_identifiers, bench_contacts, bench_customers;
CREATE TABLE bench_customers (id bigint PRIMARY KEY, doc bytea NOT NULL, last bytea[] NOT NULL);
CREATE TABLE bench_identifiers (kind text, value text, customer bigint NOT NULL, PRIMARY KEY (kind, value));
CREATE TABLE bench_contacts (customer bigint NOT NULL, at timestamptz NOT NULL, contact bytea NOT NULL);
CREATE INDEX ON bench_contacts (customer, at);`

const (
	// pgBrief is a brief, or no row for an unknown email.
	pgBrief = `SELECT c.doc, c.last FROM bench_identifiers i JOIN bench_customers c ON c.id = i.customer WHERE i.kind = 'email' AND i.value = $1`
	// pgContact appends a contact to the timeline and makes it its
	// channel's newest.
	pgContact = `WITH t AS (INSERT INTO bench_contacts (customer, at, contact) VALUES ($1, now(), $2))
UPDATE bench_customers SET last[$3] = $2 WHERE id = $1`
)

// postgresPath is the code path the report shows for PostgreSQL.
func postgresPath() string {
	return "brief and miss: one round trip, the prepared statement\n" + indent(pgBrief) +
		"then the document and each last contact decoded from msgpack, expired facts left out, last contacts sorted newest first, negatives in the at-risk window counted.\n" +
		"record-contact: one round trip, the prepared statement\n" + indent(pgContact) +
		"sync writes on: synchronous_commit on (the reply after the commit reached the WAL on disk); off: synchronous_commit off.\n" +
		"floor: SELECT 1, prepared (one round trip, nothing to decode), right before the briefs, on the same connections."
}

func postgresScenarios(ctx context.Context, cfg *config, n int, rep *report) {
	skip := func(why string) {
		for _, op := range []string{"brief", "miss", "contact-sync writes off", "contact-sync writes on"} {
			rep.add(&result{Name: "postgres " + op, System: "postgres", Op: op, Skipped: why})
		}
	}
	pool, err := pgPool(ctx, cfg, true)
	if err != nil {
		skip("not run: no PostgreSQL at " + cfg.postgres + " (apt-get install postgresql; see README)")
		return
	}
	defer pool.Close()
	rep.paths["postgres"] = postgresPath()
	if err := postgresRun(ctx, cfg, pool, n, rep); err != nil {
		skip("failed: " + err.Error())
	}
}

func pgPool(ctx context.Context, cfg *config, sync bool) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.postgres)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(4 * cfg.writers)
	pc.ConnConfig.ConnectTimeout = 2 * time.Second
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = map[bool]string{false: "off", true: "on"}[sync]
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

func postgresRun(ctx context.Context, cfg *config, pool *pgxpool.Pool, n int, rep *report) error {
	if _, err := pool.Exec(ctx, pgSchema); err != nil {
		return err
	}
	bar := cfg.bar(n, fmt.Sprintf("postgres: %d customers", n))
	const batch = 2000
	for start := 0; start < n; start += batch {
		var customers, idents, contacts [][]any
		for i := start; i < min(n, start+batch); i++ {
			c := generate(cfg.seed, i)
			doc, last, timeline := peerDocOf(c)
			lasts := make([][]byte, len(channels))
			for ch, b := range last {
				lasts[channelIndex(ch)-1] = b
			}
			customers = append(customers, []any{int64(i), doc, lasts})
			for _, id := range c.ids {
				kind, value, _ := strings.Cut(identKeyOf(id), ":")
				idents = append(idents, []any{kind, value, int64(i)})
			}
			for _, b := range timeline {
				contacts = append(contacts, []any{int64(i), epoch, b})
			}
		}
		for _, cp := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"bench_customers", []string{"id", "doc", "last"}, customers},
			{"bench_identifiers", []string{"kind", "value", "customer"}, idents},
			{"bench_contacts", []string{"customer", "at", "contact"}, contacts},
		} {
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{cp.table}, cp.cols, pgx.CopyFromRows(cp.rows)); err != nil {
				return err
			}
		}
		_ = bar.Add(min(batch, n-start))
	}
	_ = bar.Finish()
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}

	if cfg.want("floor") {
		if err := pgFloor(ctx, cfg, pool, rep); err != nil {
			return err
		}
	}
	brief := func(email string) error {
		_, err := pgBriefOf(ctx, pool, email, time.Now())
		return err
	}
	if err := cfg.measurePeerLookups(rep, "postgres", n, brief); err != nil {
		return err
	}
	chat := channelIndex(memory.ChannelChat)
	for _, sync := range []bool{false, true} {
		p, err := pgPool(ctx, cfg, sync)
		if err != nil {
			return err
		}
		mode := "sync writes " + map[bool]string{false: "off", true: "on"}[sync]
		err = cfg.measure(rep, fmt.Sprintf("postgres record-contact, %s, %d writers", mode, cfg.writers), "postgres", "contact-"+mode, cfg.writers, 0, func(_ int, i int64) error {
			id := int64(uint64(i) * 2654435761 % uint64(n))
			ct, err := msgpack.Marshal(&memory.Contact{Channel: memory.ChannelChat, At: time.Now().UTC(), Outcome: memory.OutcomeNeutral, Summary: "bench"})
			if err != nil {
				return err
			}
			_, err = p.Exec(ctx, pgContact, id, ct, chat)
			return err
		})
		p.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// pgBriefOf is a brief from PostgreSQL: one prepared statement, then the
// decoding.
func pgBriefOf(ctx context.Context, pool *pgxpool.Pool, email string, now time.Time) (memory.Brief, error) {
	var doc []byte
	var last [][]byte
	err := pool.QueryRow(ctx, pgBrief, strings.ToLower(strings.TrimSpace(email))).Scan(&doc, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return memory.Brief{}, memory.ErrNotFound
	}
	if err != nil {
		return memory.Brief{}, err
	}
	return peerBrief(doc, last, now)
}
