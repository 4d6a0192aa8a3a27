package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/herken/herken/memory"
)

// PostgreSQL, as a user would keep customers there: a customers table with
// the profile as JSONB and the last contacts as JSONB, an identifiers table
// with its primary key as the index, and a contacts table.
const pgSchema = `
DROP TABLE IF EXISTS bench_identifiers, bench_contacts, bench_customers;
CREATE TABLE bench_customers (id bigint PRIMARY KEY, doc jsonb NOT NULL, last jsonb NOT NULL DEFAULT '{}');
CREATE TABLE bench_identifiers (kind text, value text, customer bigint NOT NULL, PRIMARY KEY (kind, value));
CREATE TABLE bench_contacts (customer bigint NOT NULL, at timestamptz NOT NULL, contact jsonb NOT NULL);
CREATE INDEX ON bench_contacts (customer, at);`

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
			profile, last, timeline := docOf(c)
			lastJSON := []byte("{")
			for ch, b := range last {
				if len(lastJSON) > 1 {
					lastJSON = append(lastJSON, ',')
				}
				lastJSON = append(append(append(lastJSON, '"'), ch...), `":`...)
				lastJSON = append(lastJSON, b...)
			}
			lastJSON = append(lastJSON, '}')
			customers = append(customers, []any{int64(i), string(profile), string(lastJSON)})
			for _, id := range c.ids {
				kind, value, _ := strings.Cut(identKeyOf(id), ":")
				idents = append(idents, []any{kind, value, int64(i)})
			}
			for _, b := range timeline {
				contacts = append(contacts, []any{int64(i), epoch, string(b)})
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

	const lookup = `SELECT c.doc, c.last FROM bench_identifiers i JOIN bench_customers c ON c.id = i.customer WHERE i.kind = 'email' AND i.value = $1`
	brief := func(email string) error {
		var profile []byte
		var last map[string]any
		err := pool.QueryRow(ctx, lookup, strings.ToLower(strings.TrimSpace(email))).Scan(&profile, &last)
		if errors.Is(err, pgx.ErrNoRows) {
			return memory.ErrNotFound
		}
		if err != nil {
			return err
		}
		raw := map[string]string{}
		for ch, v := range last {
			b, _ := jsonMarshal(v)
			raw[ch] = string(b)
		}
		_, err = peerBrief(profile, raw, time.Now())
		return err
	}
	if err := cfg.measurePeerLookups(rep, "postgres", n, brief); err != nil {
		return err
	}
	for _, sync := range []bool{false, true} {
		p, err := pgPool(ctx, cfg, sync)
		if err != nil {
			return err
		}
		mode := "sync writes " + map[bool]string{false: "off", true: "on"}[sync]
		err = cfg.measure(rep, fmt.Sprintf("postgres record-contact, %s, %d writers", mode, cfg.writers), "postgres", "contact-"+mode, cfg.writers, 0, func(_ int, i int64) error {
			id := int64(uint64(i) * 2654435761 % uint64(n))
			ct := `{"channel":"chat","at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","outcome":"neutral","summary":"bench"}`
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO bench_contacts (customer, at, contact) VALUES ($1, now(), $2)`, id, ct)
			b.Queue(`UPDATE bench_customers SET last = jsonb_set(last, '{chat}', $2::jsonb) WHERE id = $1`, id, ct)
			return p.SendBatch(ctx, b).Close()
		})
		p.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
