package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// result is one measured operation: its latency distribution and
// throughput.
type result struct {
	Name    string
	System  string // herken, redis, postgres, wasm
	Op      string // the operation, compared across systems
	Workers int
	Ops     int64
	Elapsed time.Duration
	Hist    *hdrhistogram.Histogram // nanoseconds
	Note    string
	Skipped string // why it did not run
}

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, int64(time.Minute), 3) }

// PerSecond is the throughput.
func (r *result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Quantile returns a latency quantile (0 to 100).
func (r *result) Quantile(q float64) time.Duration {
	if r.Hist == nil || r.Hist.TotalCount() == 0 {
		return 0
	}
	return time.Duration(r.Hist.ValueAtQuantile(q))
}

// Max returns the slowest operation.
func (r *result) Max() time.Duration {
	if r.Hist == nil {
		return 0
	}
	return time.Duration(r.Hist.Max())
}

// run calls op from workers goroutines until d has passed or limit
// operations ran (0: no limit), recording each call's latency. op gets the
// worker and a running number; an error stops the run.
func run(workers int, d time.Duration, limit int64, op func(worker int, i int64) error) (*result, error) {
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
		stop     atomic.Bool
	)
	hists := make([]*hdrhistogram.Histogram, workers)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		hists[w] = newHist()
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := hists[w]
			for n := 0; !stop.Load(); n++ {
				i := next.Add(1) - 1
				if limit > 0 && i >= limit {
					return
				}
				t0 := time.Now()
				err := op(w, i)
				t1 := time.Now()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				_ = h.RecordValue(int64(t1.Sub(t0)))
				if n&63 == 0 && t1.After(deadline) {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	r := &result{Workers: workers, Elapsed: time.Since(start), Hist: newHist()}
	for _, h := range hists {
		r.Hist.Merge(h)
	}
	r.Ops = r.Hist.TotalCount()
	return r, firstErr
}
