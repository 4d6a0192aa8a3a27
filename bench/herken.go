package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/herken/herken/memory"
)

// herkenOpen opens the bench store in dir.
func herkenOpen(ctx context.Context, dir string, cache int, sync bool) (*memory.Store, time.Duration, error) {
	t0 := time.Now()
	s, err := memory.Open(ctx, memory.DefaultOptions(dir).WithCacheSize(cache).WithSyncWrites(sync).WithDefaultRegion("NL"))
	return s, time.Since(t0), err
}

// herkenLoad writes customers 0..n-1 into a new store in dir, from many
// goroutines, two transactions a customer.
func herkenLoad(ctx context.Context, cfg *config, dir string, n int) (time.Duration, error) {
	s, _, err := herkenOpen(ctx, dir, 0, false)
	if err != nil {
		return 0, err
	}
	took, err := herkenFill(ctx, cfg, s, n, fmt.Sprintf("herken: %d customers", n))
	if err != nil {
		s.Close()
		return 0, err
	}
	// Measure a settled store, not one busy with the load's compactions.
	if err := s.Compact(ctx); err != nil {
		return 0, err
	}
	return took, s.Close()
}

// herkenFill writes customers 0..n-1 into s, from many goroutines, two
// transactions a customer, and returns how long it took.
func herkenFill(ctx context.Context, cfg *config, s *memory.Store, n int, what string) (time.Duration, error) {
	bar := cfg.bar(n, what)
	t0 := time.Now()
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range 4 * runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for gctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				c := generate(cfg.seed, i)
				err := herkenPut(gctx, s, c)
				// On PostgreSQL, serializable writes of different customers
				// conflict on shared index pages, and under the race
				// detector a write can lose 64 rounds in a row: ErrBusy
				// says it changed nothing, so the loader tries it again,
				// as an application would.
				for try := 0; errors.Is(err, memory.ErrBusy) && try < 8 && gctx.Err() == nil; try++ {
					err = herkenPut(gctx, s, c)
				}
				if err != nil {
					return fmt.Errorf("customer %d: %w", i, err)
				}
				_ = bar.Add(1)
			}
			return gctx.Err()
		})
	}
	err := g.Wait()
	_ = bar.Finish()
	if err != nil {
		return 0, err
	}
	took := time.Since(t0)
	return took, nil
}

func herkenPut(ctx context.Context, s *memory.Store, c customer) error {
	r, err := s.Recognize(ctx, c.ids...)
	if err != nil {
		return err
	}
	return s.Update(ctx, r.Customer, func(tx *memory.Tx) error {
		if err := tx.SetName(c.name); err != nil {
			return err
		}
		if err := tx.Remember(c.facts...); err != nil {
			return err
		}
		for _, p := range c.prefs {
			if err := tx.SetPreference(p[0], p[1]); err != nil {
				return err
			}
		}
		for _, ct := range c.contacts {
			if _, err := tx.RecordContact(ct); err != nil {
				return err
			}
		}
		for _, g := range c.issues {
			is, err := tx.OpenIssue(g.subject, g.channel)
			if err != nil {
				return err
			}
			for range g.repeats {
				if _, err := tx.RecordContact(memory.Contact{Channel: g.channel, Issue: is.ID, Summary: "again about " + g.subject}); err != nil {
					return err
				}
			}
			if g.resolved {
				if err := tx.ResolveIssue(is.ID, "solved"); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// herkenScenarios measures the store in dir, holding n customers.
func herkenScenarios(ctx context.Context, cfg *config, dir string, n int, rep *report) error {
	emails := make([]memory.Identifier, n)
	for i := range n {
		emails[i] = memory.Email(emailOf(i))
	}
	hot := min(n, cfg.hot)
	rng := rand.New(rand.NewPCG(cfg.seed, 99))

	// Store open time: the store as it is on disk, opened again.
	if cfg.want("open") {
		r := &result{Name: "store open", System: "herken", Op: "open", Workers: 1, Hist: newHist()}
		for range 3 {
			s, took, err := herkenOpen(ctx, dir, cfg.cache, true)
			if err != nil {
				return err
			}
			_ = r.Hist.RecordValue(int64(took))
			r.Ops++
			r.Elapsed += took
			if err := s.Close(); err != nil {
				return err
			}
		}
		rep.add(r)
	}

	s, _, err := herkenOpen(ctx, dir, cfg.cache, true)
	if err != nil {
		return err
	}
	defer func() { s.Close() }()

	if cfg.want("brief-warm") || cfg.want("scaling") {
		// The hot set, cached by a first pass.
		for i := range hot {
			if _, err := s.BriefFor(ctx, emails[i], memory.BriefQuery{}); err != nil {
				return err
			}
		}
		brief := func(_ int, i int64) error {
			_, err := s.BriefFor(ctx, emails[int(uint64(i)*2654435761%uint64(hot))], memory.BriefQuery{})
			return err
		}
		if cfg.want("brief-warm") {
			if err := cfg.measure(rep, "recognize+brief, warm", "herken", "brief", 1, 0, brief); err != nil {
				return err
			}
		}
		if cfg.want("scaling") {
			for w := 1; w <= cfg.procs; w *= 2 {
				if err := cfg.measure(rep, fmt.Sprintf("recognize+brief, warm, %d goroutines", w), "herken", "brief-scaling", w, 0, brief); err != nil {
					return err
				}
			}
		}
	}
	if cfg.want("miss") {
		if err := cfg.measure(rep, "lookup of an unknown email", "herken", "miss", 1, 0, func(_ int, i int64) error {
			_, err := s.Lookup(ctx, memory.Email(unknownEmailOf(i)))
			if errors.Is(err, memory.ErrNotFound) {
				return nil
			}
			return fmt.Errorf("a miss found something: %v", err)
		}); err != nil {
			return err
		}
	}
	rss := residentMemory()

	// Cold: the store opened again, its caches empty (the OS page cache
	// stays warm), every lookup a customer not looked up before.
	if cfg.want("brief-cold") {
		if err := s.Close(); err != nil {
			return err
		}
		if s, _, err = herkenOpen(ctx, dir, 0, true); err != nil {
			return err
		}
		perm := rng.Perm(n)
		if err := cfg.measureN(rep, "recognize+brief, cold", "herken", "brief-cold", 1, int64(n), func(_ int, i int64) error {
			_, err := s.BriefFor(ctx, emails[perm[i]], memory.BriefQuery{})
			return err
		}); err != nil {
			return err
		}
	}

	// Writes, from many writers on random customers.
	ids := make([]memory.CustomerID, min(n, 4096))
	for k := range ids {
		id, err := s.Lookup(ctx, emails[rng.IntN(n)])
		if err != nil {
			return err
		}
		ids[k] = id
	}
	for _, sync := range []bool{false, true} {
		if !cfg.want("contact") && !cfg.want("remember") {
			break
		}
		if err := s.Close(); err != nil {
			return err
		}
		if s, _, err = herkenOpen(ctx, dir, cfg.cache, sync); err != nil {
			return err
		}
		mode := "sync writes " + map[bool]string{false: "off", true: "on"}[sync]
		if cfg.want("contact") {
			if err := cfg.measure(rep, fmt.Sprintf("record-contact, %s, %d writers", mode, cfg.writers), "herken", "contact-"+mode, cfg.writers, 0, func(_ int, i int64) error {
				_, err := s.RecordContact(ctx, ids[i%int64(len(ids))], memory.Contact{Channel: memory.ChannelChat, Summary: "bench"})
				return err
			}); err != nil {
				return err
			}
		}
		if cfg.want("remember") {
			if err := cfg.measure(rep, fmt.Sprintf("remember-fact, %s, %d writers", mode, cfg.writers), "herken", "remember-"+mode, cfg.writers, 0, func(_ int, i int64) error {
				return s.Remember(ctx, ids[i%int64(len(ids))], memory.Fact{Key: "bench.note", Value: fmt.Sprint(i), Channel: memory.ChannelWeb})
			}); err != nil {
				return err
			}
		}
	}
	if cfg.want("forget") {
		// The store is open with sync writes on, from the loop above or anew.
		if !cfg.want("contact") && !cfg.want("remember") {
			if err := s.Close(); err != nil {
				return err
			}
			if s, _, err = herkenOpen(ctx, dir, cfg.cache, true); err != nil {
				return err
			}
		}
		if err := herkenForgets(ctx, cfg, s, ids, rep); err != nil {
			return err
		}
	}
	if err := s.Close(); err != nil {
		return err
	}
	rep.disk, rep.rss = diskUsage(dir), rss
	return nil
}

// diskUsage returns the bytes the files under dir take on disk (not their
// apparent size: Badger's logs are sparse until written).
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += allocated(fi)
			}
		}
		return nil
	})
	return n
}
