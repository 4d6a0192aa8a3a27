package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/herken/herken/memory"
)

// herken on PostgreSQL (-engine postgres or both): the same store, its
// tables in a database of their own on the server of -postgres, created
// afresh for the run and dropped after. Its results are system herken-pg.

// pgDatabase is the database the bench keeps herken's tables in.
const pgDatabase = "herken_bench"

// pgOps are the operations herkenPGScenarios reports, for the lines it
// writes when it cannot run.
var pgOps = []string{"brief", "miss", "brief-cold", "contact-sync writes on", "visibility"}

func herkenPGScenarios(ctx context.Context, cfg *config, rep *report) {
	skip := func(why string) {
		for _, op := range pgOps {
			rep.add(&result{Name: "herken-pg " + op, System: "herken-pg", Op: op, Skipped: why})
		}
	}
	dsn, drop, err := pgFreshDatabase(ctx, cfg.postgres, pgDatabase)
	if err != nil {
		skip("not run: no PostgreSQL at " + cfg.postgres + " (" + err.Error() + ")")
		return
	}
	defer drop()
	t0 := time.Now()
	err = herkenPGRun(ctx, cfg, dsn, rep)
	rep.pgTotal = time.Since(t0)
	if err != nil {
		skip("failed: " + err.Error())
	}
}

// pgFreshDatabase creates the database name on the server of dsn, dropping
// one of that name first, and returns a DSN of it and a func that drops it.
func pgFreshDatabase(ctx context.Context, dsn, name string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-postgres must be a postgres:// URL for herken-pg")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", nil, err
	}
	pc.ConnectTimeout = 2 * time.Second
	conn, err := pgx.ConnectConfig(cctx, pc)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + ident + " WITH (FORCE)", "CREATE DATABASE " + ident} {
		if _, err := conn.Exec(cctx, q); err != nil {
			return "", nil, err
		}
	}
	u.Path = "/" + name
	// On a cluster a standby may not have replayed the CREATE DATABASE
	// yet, and a client that reaches it first gives up on every host: wait
	// until the new database answers.
	for {
		c, err := pgx.Connect(cctx, u.String())
		if err == nil {
			c.Close(context.Background())
			break
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "3D000" || cctx.Err() != nil {
			return "", nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.ConnectConfig(dctx, pc); err == nil {
			_, _ = c.Exec(dctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
			c.Close(dctx)
		}
	}
	return u.String(), drop, nil
}

func herkenPGOpen(ctx context.Context, dsn string, cache int, sync bool) (*memory.Store, error) {
	return memory.Open(ctx, memory.PostgresOptions(dsn).WithCacheSize(cache).WithSyncWrites(sync).WithDefaultRegion("NL"))
}

func herkenPGRun(ctx context.Context, cfg *config, dsn string, rep *report) error {
	n := cfg.pgCustomers
	rep.pgCustomers = n
	load, err := herkenPGOpen(ctx, dsn, 0, false)
	if err != nil {
		return err
	}
	took, err := herkenFill(ctx, cfg, load, n, fmt.Sprintf("herken-pg: %d customers", n))
	if err == nil {
		err = load.Compact(ctx) // VACUUM: measure settled tables
	}
	if cerr := load.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	rep.pgLoad = took

	emails := make([]memory.Identifier, n)
	for i := range n {
		emails[i] = memory.Email(emailOf(i))
	}
	hot := min(n, cfg.hot)
	rng := rand.New(rand.NewPCG(cfg.seed, 98))

	a, err := herkenPGOpen(ctx, dsn, cfg.cache, true)
	if err != nil {
		return err
	}
	defer func() { a.Close() }()

	if cfg.want("brief-warm") {
		for i := range hot {
			if _, err := a.BriefFor(ctx, emails[i], memory.BriefQuery{}); err != nil {
				return err
			}
		}
		if err := cfg.measure(rep, "herken-pg recognize+brief, warm", "herken-pg", "brief", 1, 0, func(_ int, i int64) error {
			_, err := a.BriefFor(ctx, emails[int(uint64(i)*2654435761%uint64(hot))], memory.BriefQuery{})
			return err
		}); err != nil {
			return err
		}
	}
	if cfg.want("miss") {
		if err := cfg.measure(rep, "herken-pg lookup of an unknown email", "herken-pg", "miss", 1, 0, func(_ int, i int64) error {
			_, err := a.Lookup(ctx, memory.Email(unknownEmailOf(i)))
			if errors.Is(err, memory.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("a miss found something: %v", err)
		}); err != nil {
			return err
		}
	}
	if cfg.want("brief-cold") {
		if err := herkenPGCold(ctx, cfg, dsn, emails, rng, rep); err != nil {
			return err
		}
	}
	ids := make([]memory.CustomerID, min(n, 4096))
	for k := range ids {
		id, err := a.Lookup(ctx, emails[rng.IntN(n)])
		if err != nil {
			return err
		}
		ids[k] = id
	}
	if cfg.want("contact") {
		for _, sync := range []bool{false, true} {
			s := a
			if !sync {
				if s, err = herkenPGOpen(ctx, dsn, cfg.cache, false); err != nil {
					return err
				}
			}
			mode := "sync writes " + map[bool]string{false: "off", true: "on"}[sync]
			err := cfg.measure(rep, fmt.Sprintf("herken-pg record-contact, %s, %d writers", mode, cfg.writers), "herken-pg", "contact-"+mode, cfg.writers, 0, func(_ int, i int64) error {
				_, err := s.RecordContact(ctx, ids[i%int64(len(ids))], memory.Contact{Channel: memory.ChannelChat, Summary: "bench"})
				return err
			})
			if !sync {
				if cerr := s.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return err
			}
		}
	}
	if cfg.want("visibility") {
		b, err := herkenPGOpen(ctx, dsn, cfg.cache, true)
		if err != nil {
			return err
		}
		err = herkenPGVisibility(ctx, cfg, a, b, ids[0], rep)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// herkenPGCold measures briefs that read the database: a store with its
// caches off, and apart the two halves of a brief (the identifier's
// customer, then the profile) and one bare round trip to the server, the
// unit a cold brief is counted in.
func herkenPGCold(ctx context.Context, cfg *config, dsn string, emails []memory.Identifier, rng *rand.Rand, rep *report) error {
	n := len(emails)
	c, err := herkenPGOpen(ctx, dsn, 0, true)
	if err != nil {
		return err
	}
	defer c.Close()
	perm := rng.Perm(n)
	if err := cfg.measureN(rep, "herken-pg recognize+brief, cold (cache off)", "herken-pg", "brief-cold", 1, int64(n), func(_ int, i int64) error {
		_, err := c.BriefFor(ctx, emails[perm[i%int64(n)]], memory.BriefQuery{})
		return err
	}); err != nil {
		return err
	}
	ids := make([]memory.CustomerID, min(n, 4096))
	for i := range ids {
		if ids[i], err = c.Lookup(ctx, emails[perm[i]]); err != nil {
			return err
		}
	}
	if err := cfg.measureN(rep, "herken-pg identifier to customer, cold", "herken-pg", "lookup-cold", 1, int64(len(ids)), func(_ int, i int64) error {
		_, err := c.Lookup(ctx, emails[perm[i]])
		return err
	}); err != nil {
		return err
	}
	if err := cfg.measureN(rep, "herken-pg brief of a customer id, cold", "herken-pg", "brief-id-cold", 1, int64(len(ids)), func(_ int, i int64) error {
		_, err := c.Brief(ctx, ids[i], memory.BriefQuery{})
		return err
	}); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return cfg.measure(rep, "herken-pg round trip to the server (SELECT 1)", "herken-pg", "roundtrip", 1, 0, func(_ int, _ int64) error {
		var one int
		return pool.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
}

// visibilityTimeout bounds the wait for one write to show on the other
// instance; visibilityBudget the whole measurement.
const (
	visibilityTimeout = 5 * time.Second
	visibilityBudget  = time.Minute
)

// herkenPGVisibility measures how long a write on a takes to show in b's
// briefs: a preference set to a new value on a, then b's brief, from its
// cache while the feed is fresh, polled until it has the value. The time
// runs from a's acknowledgement of the write.
func herkenPGVisibility(ctx context.Context, cfg *config, a, b *memory.Store, id memory.CustomerID, rep *report) error {
	const key = "bench.seq"
	if _, err := b.Brief(ctx, id, memory.BriefQuery{}); err != nil {
		return err
	}
	res := &result{Name: fmt.Sprintf("herken-pg write on one instance seen on another (%d writes)", cfg.visibility),
		System: "herken-pg", Op: "visibility", Workers: 1, Hist: newHist()}
	var write time.Duration
	start := time.Now()
	for k := range cfg.visibility {
		if time.Since(start) > visibilityBudget {
			res.Note = fmt.Sprintf("stopped after %d writes, at the bound of %v", k, visibilityBudget)
			break
		}
		value := fmt.Sprintf("v%d-%d", os.Getpid(), k)
		t0 := time.Now()
		if err := a.SetPreference(ctx, id, key, value); err != nil {
			return err
		}
		acked := time.Now()
		write += acked.Sub(t0)
		for polls := 0; ; polls++ {
			br, err := b.Brief(ctx, id, memory.BriefQuery{})
			if err != nil {
				return err
			}
			if slices.ContainsFunc(br.Preferences, func(p memory.Preference) bool { return p.Key == key && p.Value == value }) {
				break
			}
			if time.Since(acked) > visibilityTimeout {
				return fmt.Errorf("write %d on one instance not seen on the other after %v (%d polls)", k, visibilityTimeout, polls)
			}
			// Leave the CPUs to the feed that the wait is for.
			time.Sleep(50 * time.Microsecond)
		}
		_ = res.Hist.RecordValue(int64(time.Since(acked)))
		res.Ops++
	}
	res.Elapsed = time.Since(start)
	if res.Ops > 0 {
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" the writes themselves took %s on average", dur(write/time.Duration(res.Ops))))
	}
	rep.add(res)
	if !cfg.quiet {
		fmt.Fprintf(os.Stderr, "  %-58s %10s  p50 %9s  p99 %9s\n", res.Name, "", dur(res.Quantile(50)), dur(res.Quantile(99)))
	}
	return nil
}
