//go:build wasip1

package main

import (
	"runtime"
	"runtime/metrics"
)

// The Go runtime frees garbage when a collection cycle ends, and in the
// module a cycle may never end. Its marking is done by mark assists, which
// a call's allocations pay, and by background workers, which run only when
// the call's goroutine waits, which no call does. When collecting seems to
// take much of the time, the runtime's CPU limiter stops the assists; a host
// whose clock jumps between readings (wazero's default clock adds 1 ms at
// every reading; a browser's performance.now can be as coarse) makes every
// cycle seem that costly. The cycle then stalls, nothing is freed, and every
// allocation grows the memory: 1 MiB buffers allocated and freed in a loop
// took it from 7 MiB to 3.6 GiB, and then it trapped.
//
// So after calls and frees (not every one: see checkEvery) the module looks
// at how much it has allocated since it last saw a cycle end, and past
// collectAfter (or its live heap, when that is larger) it collects itself: runtime.GC waits for the
// cycle to end, and while it waits the background workers run. When the
// runtime's own cycles end, as they do with a steady clock, this never
// collects.

// collectAfter is the least the module allocates between the end of one
// cycle and a collection of its own.
const collectAfter = 8 << 20

var gcStats = []metrics.Sample{
	{Name: "/gc/heap/allocs:bytes"},
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/gc/heap/live:bytes"},
}

// gcSeen is what collect saw when a cycle had last ended: the cycles done
// then and the bytes allocated by then.
var gcSeen struct{ cycles, allocs uint64 }

// Reading the runtime's statistics costs 4.5–8.5 µs in the module, more
// than the rest of a brief, so collect reads them once the calls since it
// last did have passed checkEvery bytes of inputs, answers and buffers
// (what a call allocates grows with them), or checkCalls calls.
const (
	checkEvery = 256 << 10
	checkCalls = 32
)

var sinceCheck struct{ bytes, calls int }

// collect collects garbage when the runtime's cycles have stalled; n is the
// bytes the call took and gave.
func collect(n int) {
	sinceCheck.bytes += n
	sinceCheck.calls++
	if sinceCheck.bytes < checkEvery && sinceCheck.calls < checkCalls {
		return
	}
	sinceCheck.bytes, sinceCheck.calls = 0, 0
	allocs, cycles, live := readGCStats()
	if cycles != gcSeen.cycles {
		gcSeen.cycles, gcSeen.allocs = cycles, allocs
		return
	}
	if allocs-gcSeen.allocs < max(collectAfter, live) {
		return
	}
	runtime.GC()
	allocs, cycles, _ = readGCStats()
	gcSeen.cycles, gcSeen.allocs = cycles, allocs
}

func readGCStats() (allocs, cycles, live uint64) {
	metrics.Read(gcStats)
	for _, s := range gcStats {
		if s.Value.Kind() != metrics.KindUint64 {
			return 0, 0, 0 // unknown to this runtime: never collect
		}
	}
	return gcStats[0].Value.Uint64(), gcStats[1].Value.Uint64(), gcStats[2].Value.Uint64()
}
