package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herken/herken/memory"
)

// herkenForgets measures what a stream of forgets does to everyone else:
// other customers' record-contact with sync writes, first alone, then while
// one goroutine forgets customers as fast as it can, side by side in one
// run. (Forget used to rewrite the store's files while every writer
// waited.)
func herkenForgets(ctx context.Context, cfg *config, s *memory.Store, ids []memory.CustomerID, rep *report) error {
	write := func(_ int, i int64) error {
		_, err := s.RecordContact(ctx, ids[i%int64(len(ids))], memory.Contact{Channel: memory.ChannelChat, Summary: "bench"})
		return err
	}
	name := fmt.Sprintf("record-contact, sync writes on, %d writers", cfg.writers)
	if err := cfg.measure(rep, name+", no forgets", "herken", "contact-no-forgets", cfg.writers, 0, write); err != nil {
		return err
	}
	alone := rep.last()

	var forgets atomic.Int64
	var ferr error
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			r, err := s.Recognize(ctx, memory.Email(fmt.Sprintf("forget-%d@example.com", n)).AsVerified())
			if err == nil {
				err = s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"})
			}
			if err == nil {
				_, err = s.Forget(ctx, r.Customer)
			}
			if err != nil {
				ferr = err
				return
			}
			forgets.Add(1)
		}
	}()
	start := time.Now()
	err := cfg.measure(rep, name+", during a stream of forgets", "herken", "contact-forgets", cfg.writers, 0, write)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("forget: %w", ferr)
	}
	during := rep.last()
	rep.forgets = forgetStall{
		perSecond: float64(forgets.Load()) / time.Since(start).Seconds(),
		p99Alone:  alone.Quantile(99), p99During: during.Quantile(99),
	}
	if !cfg.quiet {
		fmt.Fprintf(os.Stderr, "  forgets meanwhile: %.0f/s; others' write p99 %s alone, %s during them (%.2f×)\n",
			rep.forgets.perSecond, dur(rep.forgets.p99Alone), dur(rep.forgets.p99During), rep.forgets.ratio())
	}
	return nil
}

// forgetStall is what herkenForgets found.
type forgetStall struct {
	perSecond           float64
	p99Alone, p99During time.Duration
}

func (f forgetStall) ratio() float64 { return float64(f.p99During) / float64(max(f.p99Alone, 1)) }
