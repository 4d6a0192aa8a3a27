package plugin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// stoppedClock is a clock for the handler's buckets that moves only when
// the test moves it, so that no bucket refills while a test counts.
type stoppedClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStoppedClock() *stoppedClock {
	return &stoppedClock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}
}

func (c *stoppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stoppedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSelfMadeCookiesShareTheAddressBucket sends 1,000 requests from one
// address, each with a cookie of its own making, as an attacker minting
// cookies to get a fresh rate bucket each time would. A cookie the
// handler did not sign is no device: every request draws on the
// address's bucket, and all but its burst are refused.
func TestSelfMadeCookiesShareTheAddressBucket(t *testing.T) {
	clock := newStoppedClock()
	e := newEnv(t, plugin.Options{Now: clock.Now}) // the default buckets
	const n = 1000
	refused := 0
	for i := range n {
		value := randomToken()
		if i%2 == 1 {
			value += "." + randomToken()[:22] // as if signed
		}
		resp, body := e.call("session", "", "", &http.Cookie{Name: "herken_device", Value: value})
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			refused++
			require.Contains(t, body, "rate_limited")
		default:
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	t.Logf("%d of %d requests with self-made cookies refused", refused, n)
	require.Equal(t, n-4*20, refused, "all but the address's burst (four times the device's 20) are refused")
	_, devices := e.h.Buckets()
	require.Zero(t, devices)

	// A device the handler signed has its own bucket too: past it, it is
	// refused while its address still has room.
	clock.Advance(time.Hour)
	b := e.browser()
	for range 20 {
		b.post("sync", `{"changes":[]}`, nil, http.StatusOK)
	}
	resp := b.post("sync", `{"changes":[]}`, nil, http.StatusTooManyRequests)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
}

// TestNewCustomersPerAddress creates customers from one address, each from
// a new device's first write, as an attacker growing the store would: past
// Options.NewCustomers in an hour, the write is refused with 429
// new_customers and creates nothing; other addresses are not held up, and
// an hour later the address may create more.
func TestNewCustomersPerAddress(t *testing.T) {
	clock := newStoppedClock()
	const limit = 3
	e := newEnv(t, plugin.Options{Now: clock.Now, Rate: rate.Inf, NewCustomers: limit})
	ctx := context.Background()
	for i := range limit {
		b := e.browser()
		if i%2 == 0 {
			b.post("sync", rememberStreet, nil, http.StatusOK)
		} else {
			b.post("drafts/cart", `{"data":"x"}`, nil, http.StatusOK)
		}
	}
	for _, path := range []string{"sync", "drafts/cart"} {
		b := e.browser()
		body := map[string]string{"sync": rememberStreet, "drafts/cart": `{"data":"x"}`}[path]
		var p struct{ Code, Detail string }
		resp := b.post(path, body, &p, http.StatusTooManyRequests)
		require.Equal(t, "new_customers", p.Code, p.Detail)
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.Positive(t, retry)
		require.LessOrEqual(t, retry, 3600)
		_, err = e.store.Lookup(ctx, e.h.DeviceIdentifier(cookie(t, b)))
		require.ErrorIs(t, err, memory.ErrNotFound, "%s: nothing was created", path)
		// A sync with nothing to keep creates nothing, and is answered.
		b.post("sync", `{"changes":[]}`, nil, http.StatusOK)
	}

	// Another client address has its own bucket.
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, withSession(t, e.h, "192.0.2.7:4242", rememberStreet))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

	clock.Advance(time.Hour)
	e.browser().post("sync", rememberStreet, nil, http.StatusOK)
}

// withSession makes a session for a browser at addr on h and returns a
// sync request of body from it.
func withSession(t *testing.T, h *plugin.Handler, addr, body string) *http.Request {
	t.Helper()
	req := httptest.NewRequest("POST", "/session", nil)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var sess struct{ CSRF string }
	mustJSON(t, rec.Body.String(), &sess)
	sync := httptest.NewRequest("POST", "/sync", strings.NewReader(body))
	sync.RemoteAddr = addr
	sync.Header.Set("Content-Type", "application/json")
	sync.Header.Set("X-Herken-CSRF", sess.CSRF)
	for _, c := range rec.Result().Cookies() {
		sync.AddCookie(c)
	}
	return sync
}

// TestClientAddress reads the client's address as the rate buckets see
// it: the peer's, unless the peer is a trusted proxy; then the rightmost
// address of X-Forwarded-For that is not a trusted proxy. What a client
// writes in X-Forwarded-For itself never chooses its bucket.
func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	e := newEnv(t, plugin.Options{TrustedProxies: proxies})
	plain := newEnv(t, plugin.Options{})
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
		untrusted  string // what a handler trusting no proxy says
	}{
		{"no proxy", "198.51.100.1:1000", nil, "198.51.100.1", "198.51.100.1"},
		{"a client's own header", "198.51.100.1:1000", []string{"203.0.113.9"}, "198.51.100.1", "198.51.100.1"},
		{"through a proxy", "10.0.0.2:1000", []string{"203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
		{"the client lies left of it", "10.0.0.2:1000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9", "10.0.0.2"},
		{"two proxies", "10.0.0.2:1000", []string{"1.2.3.4, 203.0.113.9, 10.1.1.1"}, "203.0.113.9", "10.0.0.2"},
		{"two header lines", "10.0.0.2:1000", []string{"1.2.3.4", "203.0.113.9, 10.1.1.1"}, "203.0.113.9", "10.0.0.2"},
		{"garbage before the client", "10.0.0.2:1000", []string{"203.0.113.9, junk"}, "10.0.0.2", "10.0.0.2"},
		{"only proxies", "10.0.0.2:1000", []string{"10.9.9.9"}, "10.9.9.9", "10.0.0.2"},
		{"IPv6 by its /64", "[2001:db8:1:2:3:4:5:6]:1000", nil, "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
		{"IPv6 through a proxy", "[fd00::1]:1000", []string{"2001:db8:aa:bb::1"}, "2001:db8:aa:bb::/64", "fd00::/64"},
		{"IPv4 in IPv6", "[::ffff:198.51.100.1]:1000", nil, "198.51.100.1", "198.51.100.1"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		require.Equal(t, tc.want, e.h.ClientKey(req), tc.name)
		require.Equal(t, tc.untrusted, plain.h.ClientKey(req), tc.name)
	}
}

// TestSpoofedForwardedForSharesTheBucket sends requests that each claim
// another client in X-Forwarded-For, straight to a handler that trusts no
// proxy: they all draw on the peer's bucket.
func TestSpoofedForwardedForSharesTheBucket(t *testing.T) {
	clock := newStoppedClock()
	e := newEnv(t, plugin.Options{Now: clock.Now, Rate: 1, Burst: 2}) // 8 for the address
	refused := 0
	for i := range 50 {
		req, _ := http.NewRequest("POST", e.srv.URL+"/session", nil)
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	require.Equal(t, 50-8, refused)
}
