package plugin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// attack is what a bounded attack from one address did, and what the
// handler let through.
type attack struct {
	requests, refused, customers int
	facts                        int // facts the store took
}

// fillCustomers runs an attack from one address against srv: minted
// cookies, then up to n new devices each filling its customer's facts to
// the default limit, at the largest value and as many a sync as the
// default body bound takes. The handler's clock moves a second each time
// it refuses a request for its rate, as the attacker would wait; the
// bound on new customers is not waited for. It returns what was done.
func fillCustomers(t *testing.T, srv *httptest.Server, clock *stoppedClock, n int) attack {
	t.Helper()
	var a attack
	client := srv.Client()
	send := func(path, body, csrf string, cookies []*http.Cookie) (*http.Response, string) {
		for range 100 { // a second refills every bucket by one at least
			req, _ := http.NewRequest("POST", srv.URL+"/"+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Herken-CSRF", csrf)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body := readAll(resp)
			a.requests++
			if resp.StatusCode == http.StatusTooManyRequests && strings.Contains(body, "rate_limited") {
				a.refused++
				clock.Advance(time.Second)
				continue
			}
			return resp, body
		}
		t.Fatalf("%s: refused for its rate 100 times in a row", path)
		return nil, ""
	}
	for range 1000 {
		send("session", "", "", []*http.Cookie{{Name: "herken_device", Value: randomToken()}})
	}
	value := strings.Repeat("x", 4096)
	const perSync = 15 // 15 facts of 4 KiB fit in the default 64 KiB body
	limit := memory.DefaultLimits().Facts
	for range n {
		resp, body := send("session", "", "", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var sess struct{ CSRF string }
		mustJSON(t, body, &sess)
		cookies := resp.Cookies()
		created := false
		for seq := 1; seq <= limit; {
			var changes []string
			for ; seq <= limit && len(changes) < perSync; seq++ {
				changes = append(changes, fmt.Sprintf(`{"seq":%d,"kind":"fact.remembered","fact":{"key":"k.%d","value":"%s","purpose":"service","channel":"web"}}`, seq, seq, value))
			}
			resp, body := send("sync", `{"changes":[`+strings.Join(changes, ",")+`]}`, sess.CSRF, cookies)
			if resp.StatusCode == http.StatusConflict {
				// Numbered on the store's base, as a worker does after
				// a conflict (the test does not follow the chain).
				var base struct {
					Applied uint64 `json:"applied"`
					Head    string `json:"head"`
				}
				mustJSON(t, body, &base)
				resp, body = send("sync", fmt.Sprintf(`{"base":{"applied":%d,"head":%q},"changes":[`, base.Applied, base.Head)+
					strings.Join(changes, ",")+`]}`, sess.CSRF, cookies)
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				require.Contains(t, body, "new_customers")
				a.refused++
				break
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			created = true
			a.facts += len(changes)
		}
		if created {
			a.customers++
		}
	}
	return a
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// liveHeap returns the bytes of the Go heap in use by live objects, once
// the collector has run.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// settledHeap waits until the live heap has stopped shrinking, which it
// does as the storage engine gives back the buffers its table builders
// pooled (one every two seconds once idle), and returns it: five samples a
// second apart within 1 MiB of each other, or the last sample after a
// deadline.
func settledHeap(t *testing.T) uint64 {
	deadline := time.Now().Add(3 * time.Minute)
	last, steady := liveHeap(), 0
	for steady < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Second) // the engine's pool frees on a timer: nothing to wait on
		now := liveHeap()
		if d := int64(now) - int64(last); d < 1<<20 && d > -(1<<20) {
			steady++
		} else {
			steady = 0
		}
		last = now
	}
	return last
}

// TestBoundedAttackHeap runs a bounded attack from one address against a
// handler with its default options, over loopback, on a store on disk
// with its default caches: 1,000 requests with minted cookies, then 80 new
// devices each filling its customer to the fact limit (256 facts of 4 KiB,
// in syncs of 64 KiB, the default body bound), waiting whenever a rate
// bucket says so. Only 60 customers are created (the address's bound), and
// the live Go heap, once the storage engine is idle, grows by less than
// 48 MiB (about 1 MiB was measured): the profiles of customers that large
// are not cached. Without the bound in bytes, the profile cache kept every
// one of them, about 1.1 MiB each: 64 MiB more for the 60, and 127 MiB for
// the 120 that the devices made without the bound on new customers. The
// peak, while the engine writes, is logged: it is the engine's table
// builders (1.2 to 1.9 GiB here), which it gives back once idle; the
// process's peak resident memory (2.9 GiB here) stays under 4 GiB.
func TestBoundedAttackHeap(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes about a gigabyte: minutes under the race detector, and its bounds are not about races")
	}
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clock := newStoppedClock()
	h, err := plugin.New(s, plugin.Options{Secret: secret, Now: clock.Now})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	before := settledHeap(t)
	rssMeasured := resetPeakRSS()
	started := clock.Now()
	a := fillCustomers(t, srv, clock, 80)
	// The bucket refills one customer a minute of the clock, which the
	// attack moves on whenever a bucket says to wait.
	refilled := int(clock.Now().Sub(started) / time.Minute)
	peak := liveHeap()
	after := settledHeap(t)
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("%d requests (%d refused), %d customers (%d refilled in the clock's %s) with %d facts: live heap %.0f MiB before, %.0f MiB at the end of the attack, %.0f MiB once the engine was idle",
		a.requests, a.refused, a.customers, refilled, clock.Now().Sub(started), a.facts, mib(before), mib(peak), mib(after))
	if rssMeasured {
		// The process's peak resident memory over the attack: the
		// engine's write buffers dominate it (see the doc comment).
		peakRSS, rss := rssOf("VmHWM"), rssOf("VmRSS")
		t.Logf("resident memory: peak %.0f MiB during the attack, %.0f MiB after", mib(peakRSS), mib(rss))
		require.Less(t, peakRSS, uint64(4<<30), "the peak resident memory stays under 4 GiB")
	}
	require.LessOrEqual(t, a.customers, 60+refilled+1, "no more new customers than the address's bucket holds (and refilled: %d)", refilled)
	require.Less(t, int64(after)-int64(before), int64(48<<20), "the live heap grew by less than 48 MiB")
}

// resetPeakRSS resets the process's peak resident memory (Linux's VmHWM),
// and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil && rssOf("VmHWM") > 0
}

// rssOf reads a size in /proc/self/status, in bytes; 0 when unknown.
func rssOf(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
