//go:build !wasip1

package memory_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/herken/herken/memory"
)

// seed fills s with n customers that each have an email, a device, a few
// facts, an open issue and some contacts, and returns their emails.
func seed(b *testing.B, s *memory.Store, n int) []memory.Identifier {
	b.Helper()
	ctx := context.Background()
	emails := make([]memory.Identifier, n)
	for i := range n {
		emails[i] = memory.Email(fmt.Sprintf("customer%d@example.com", i))
		r, err := s.Recognize(ctx, emails[i].AsVerified(), memory.Device(fmt.Sprintf("device-%08d", i)).AsVerified())
		if err != nil {
			b.Fatal(err)
		}
		err = s.Remember(ctx, r.Customer,
			memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb},
			memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1", Channel: memory.ChannelWeb},
			memory.Fact{Key: "size", Value: "M", Channel: memory.ChannelStore})
		if err != nil {
			b.Fatal(err)
		}
		is, err := s.OpenIssue(ctx, r.Customer, "parcel late", memory.ChannelEmail)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.RecordContact(ctx, r.Customer, memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID}); err != nil {
			b.Fatal(err)
		}
	}
	return emails
}

func openBench(b *testing.B, opts memory.Options) *memory.Store {
	b.Helper()
	s, err := memory.Open(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkBriefFor measures recognize+brief by identifier: warm (served
// from the cache) and from disk (cache off, data in Badger).
func BenchmarkBriefFor(b *testing.B) {
	ctx := context.Background()
	const customers = 2000
	for _, bc := range []struct {
		name  string
		cache int
	}{{"warm", 65536}, {"disk", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openBench(b, memory.DefaultOptions(b.TempDir()).WithSyncWrites(false).WithCacheSize(bc.cache))
			emails := seed(b, s, customers)
			for _, e := range emails { // warm the cache
				if _, err := s.BriefFor(ctx, e, memory.BriefQuery{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := s.BriefFor(ctx, emails[i%customers], memory.BriefQuery{}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkBriefForParallel is the warm lookup from all cores.
func BenchmarkBriefForParallel(b *testing.B) {
	ctx := context.Background()
	const customers = 2000
	s := openBench(b, memory.InMemoryOptions())
	emails := seed(b, s, customers)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.BriefFor(ctx, emails[i%customers], memory.BriefQuery{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkLookupMiss measures the lookup of an identifier nobody has.
func BenchmarkLookupMiss(b *testing.B) {
	ctx := context.Background()
	s := openBench(b, memory.DefaultOptions(b.TempDir()).WithSyncWrites(false))
	seed(b, s, 1000)
	miss := memory.Email("nobody@example.com")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Lookup(ctx, miss); err == nil {
			b.Fatal("found")
		}
	}
}

// BenchmarkBriefForStranger measures the brief by an identifier nobody
// has, as a hostile page or a new visitor asks: asked again, and asked
// for the first time (each iteration a new identifier, whose making is in
// the figure).
func BenchmarkBriefForStranger(b *testing.B) {
	ctx := context.Background()
	s := openBench(b, memory.DefaultOptions(b.TempDir()).WithSyncWrites(false))
	seed(b, s, 1000)
	b.Run("again", func(b *testing.B) {
		miss := memory.Email("nobody@example.com")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.BriefFor(ctx, miss, memory.BriefQuery{}); err == nil {
				b.Fatal("found")
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.BriefFor(ctx, memory.Email("nobody"+strconv.Itoa(i)+"@example.com"), memory.BriefQuery{}); err == nil {
				b.Fatal("found")
			}
		}
	})
}

// BenchmarkRecordContact measures recording a contact, with sync writes
// off and on, from one goroutine and from many (group commit).
func BenchmarkRecordContact(b *testing.B) {
	ctx := context.Background()
	for _, sync := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			b.Run(fmt.Sprintf("sync=%v/parallel=%v", sync, parallel), func(b *testing.B) {
				s := openBench(b, memory.DefaultOptions(b.TempDir()).WithSyncWrites(sync))
				emails := seed(b, s, 256)
				ids := make([]memory.CustomerID, len(emails))
				for i, e := range emails {
					id, err := s.Lookup(ctx, e)
					if err != nil {
						b.Fatal(err)
					}
					ids[i] = id
				}
				c := memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomePositive, Summary: "asked about sizes"}
				b.ReportAllocs()
				b.ResetTimer()
				if !parallel {
					i := 0
					for b.Loop() {
						if _, err := s.RecordContact(ctx, ids[i%len(ids)], c); err != nil {
							b.Fatal(err)
						}
						i++
					}
					return
				}
				b.SetParallelism(16)
				var next atomicCounter
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.RecordContact(ctx, ids[next.add()%uint64(len(ids))], c); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

type atomicCounter struct{ n atomic.Uint64 }

func (c *atomicCounter) add() uint64 { return c.n.Add(1) }
