//go:build unix

package plugin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/pgtest"
	"github.com/herken/herken/plugin"
)

// newEnvOn is newEnv on a store of the test's.
func newEnvOn(t *testing.T, s *memory.Store, opts plugin.Options) *env {
	t.Helper()
	opts.Secret = secret
	h, err := plugin.New(s, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, store: s, h: h, srv: srv}
}

// TestInstancesShareTokensAndBuckets serves one shop from two instances,
// each a handler on its own Store of one PostgreSQL database, as two
// processes behind a load balancer: an identity token used on one is
// refused on the other, and a client address's bucket holds for both
// together, whichever instance each request reaches.
func TestInstancesShareTokensAndBuckets(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewServer(t).NewDatabase(t)
	var envs []*env
	for range 2 {
		s, err := memory.Open(ctx, memory.PostgresOptions(dsn))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		// Buckets that refill an hour a request: nothing refills while the
		// test counts.
		envs = append(envs, newEnvOn(t, s, plugin.Options{Rate: rate.Every(time.Hour), Burst: 5, NewCustomers: -1}))
	}
	a, b := envs[0], envs[1]

	// One browser, its requests reaching either instance.
	ba := a.browser()
	bb := &browser{e: b, c: ba.c, csrf: ba.csrf}
	token := plugin.SignIdentity(secret, memory.Account("ada"), cookie(t, ba), time.Now().Add(time.Minute))
	var res syncAnswer
	ba.post("identify", `{"token":"`+token+`"}`, &res, http.StatusOK)
	bb.post("identify", `{"token":"`+token+`"}`, nil, http.StatusForbidden)

	// Requests with cookies of the client's own making draw on the
	// address's bucket (4 × the device's burst, 20), on both instances.
	const n = 60
	refused := 0
	for i := range n {
		resp, body := envs[i%2].call("session", "", "", &http.Cookie{Name: "herken_device", Value: randomToken()})
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			refused++
			require.Contains(t, body, "rate_limited")
		default:
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	// The browser above took 3 from it already (session, and an identify
	// on each instance).
	require.Equal(t, n-(20-3), refused, "the address's burst, across both instances")
}
