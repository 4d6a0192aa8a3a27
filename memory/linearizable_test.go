//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// The model of one customer, known by one verified address: who holds the
// address (nobody at first) and the value of one fact.
type linState struct {
	id    memory.CustomerID
	value string
}

type linOp int

const (
	opRecognize linOp = iota // Recognize(address) → customer
	opRemember               // Remember(customer, fact = value)
	opBrief                  // BriefFor(address) → fact value, or not found
)

type linInput struct {
	op    linOp
	cust  int
	id    memory.CustomerID // for opRemember: whom the caller recognized
	value string            // for opRemember
}

type linOutput struct {
	id    memory.CustomerID // opRecognize
	found bool              // opBrief
	value string            // opBrief
	err   error
}

var customerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range history {
			c := op.Input.(linInput).cust
			by[c] = append(by[c], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(linState), input.(linInput), output.(linOutput)
		if out.err != nil {
			return false, s
		}
		switch in.op {
		case opRecognize:
			if s.id == "" {
				return out.id != "", linState{id: out.id, value: s.value}
			}
			return out.id == s.id, s
		case opRemember:
			return in.id == s.id, linState{id: s.id, value: in.value}
		default:
			if s.id == "" {
				return !out.found, s
			}
			return out.found && out.value == s.value, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch in.op {
		case opRecognize:
			return fmt.Sprintf("recognize(%d) → %s %v", in.cust, out.id, out.err)
		case opRemember:
			return fmt.Sprintf("remember(%s, %q) → %v", in.id, in.value, out.err)
		}
		return fmt.Sprintf("brief(%d) → %v %q %v", in.cust, out.found, out.value, out.err)
	},
}

// TestLinearizable runs recognize, remember and brief on a few customers
// from many goroutines, records when each call began and returned, and
// checks with porcupine that the history is linearizable: every answer is
// one some order of the calls, consistent with real time, would give. The
// first recognitions race to create each customer; the cache, small or
// large, must never answer from before a write that finished.
func TestLinearizable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache int
	}{{"cache", 1 << 20}, {"tiny cache", 2}, {"no cache", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := memory.Open(ctx, memory.DefaultOptions(t.TempDir()).WithCacheSize(tc.cache))
			require.NoError(t, err)
			defer s.Close()

			history := linHistory(t, []*memory.Store{s}, 0)

			requireLinearizable(t, history)
		})
	}
}

// TestLinearizableAcrossInstances is TestLinearizable on two instances of
// one PostgreSQL store, each goroutine calling one of them, with the
// staleness bound modelled: a brief may answer from as long as FeedBound
// before it was called (its call is taken to begin FeedBound earlier), and
// nothing older. Recognitions and writes are as strict as in one process.
func TestLinearizableAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dsn := postgres(t).NewDatabase(t)
	var stores []*memory.Store
	for range 2 {
		s, err := memory.Open(ctx, memory.PostgresOptions(dsn))
		require.NoError(t, err)
		defer s.Close()
		stores = append(stores, s)
	}
	requireLinearizable(t, linHistory(t, stores, memory.FeedBound))
}

const linCustomers, linGoroutines, linPerGoroutine = 4, 8, 150

// linHistory runs the calls of the linearizability tests, goroutine g on
// stores[g%len(stores)], and returns their history; briefs are taken to
// begin stale earlier than they were called.
func linHistory(t *testing.T, stores []*memory.Store, stale time.Duration) []porcupine.Operation {
	ctx := context.Background()
	const customers, goroutines, perGoroutine = linCustomers, linGoroutines, linPerGoroutine
	address := func(c int) memory.Identifier {
		return memory.Email(fmt.Sprintf("lin-%d@example.com", c)).AsVerified()
	}
	start := time.Now()
	var (
		mu      sync.Mutex
		history []porcupine.Operation
	)
	var wg sync.WaitGroup
	for g := range goroutines {
		s := stores[g%len(stores)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			known := map[int]memory.CustomerID{}
			var ops []porcupine.Operation
			call := func(in linInput, fn func() linOutput) linOutput {
				begin := time.Since(start).Nanoseconds()
				if in.op == opBrief {
					begin -= stale.Nanoseconds()
				}
				out := fn()
				ops = append(ops, porcupine.Operation{ClientId: g, Input: in, Call: begin, Output: out, Return: time.Since(start).Nanoseconds()})
				return out
			}
			for i := range perGoroutine {
				c := rng.IntN(customers)
				brief := func() {
					call(linInput{op: opBrief, cust: c}, func() linOutput {
						b, err := s.BriefFor(ctx, address(c), memory.BriefQuery{})
						if errors.Is(err, memory.ErrNotFound) {
							return linOutput{}
						}
						v, _ := b.Fact("size")
						return linOutput{found: true, value: v, err: err}
					})
				}
				switch id, ok := known[c]; {
				case !ok && rng.IntN(2) == 0:
					// Perhaps no one's yet: what the store remembers of
					// an identifier of no one must not outlive its link.
					brief()
				case !ok || rng.IntN(4) == 0:
					out := call(linInput{op: opRecognize, cust: c}, func() linOutput {
						r, err := s.Recognize(ctx, address(c))
						return linOutput{id: r.Customer, err: err}
					})
					known[c] = out.id
				case rng.IntN(2) == 0:
					v := fmt.Sprintf("g%d-%d", g, i)
					call(linInput{op: opRemember, cust: c, id: id, value: v}, func() linOutput {
						return linOutput{err: s.Remember(ctx, id, memory.Fact{Key: "size", Value: v})}
					})
				default:
					brief()
				}
			}
			mu.Lock()
			history = append(history, ops...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return history
}

// requireLinearizable checks a history with porcupine, and keeps a picture
// of one that is not, for a person to open.
func requireLinearizable(t *testing.T, history []porcupine.Operation) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(customerModel, history, time.Minute)
	if res != porcupine.Ok {
		dumpIllegal(t, history)
	}
	if res != porcupine.Ok {
		f, err := os.CreateTemp("", "herken-history-*.html")
		require.NoError(t, err)
		require.NoError(t, porcupine.Visualize(customerModel, info, f))
		f.Close()
		t.Fatalf("the history of %d calls is %v; see %s", len(history), res, f.Name())
	}
	t.Logf("%d calls on %d customers from %d goroutines: linearizable", len(history), linCustomers, linGoroutines)
}

func dumpIllegal(t *testing.T, history []porcupine.Operation) {
	for _, part := range customerModel.Partition(history) {
		if porcupine.CheckOperations(customerModel, part) {
			continue
		}
		sort.Slice(part, func(i, j int) bool { return part[i].Call < part[j].Call })
		for _, op := range part {
			t.Logf("%8d %8d g%d %s", op.Call/1000, op.Return/1000, op.ClientId, customerModel.DescribeOperation(op.Input, op.Output))
		}
		return
	}
}
