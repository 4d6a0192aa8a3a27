package plugin_test

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// claimTimes claims, each from a fresh device, an address someone else
// holds (known) and one nobody holds (unknown), interleaved in random
// order, n times each. It returns the times each sync took and the
// answers' bodies.
func claimTimes(t *testing.T, e *env, n int, known func(i int) string) (knownT, unknownT []time.Duration, bodies map[string]int) {
	t.Helper()
	bodies = map[string]int{}
	claim := func(addr string) time.Duration {
		b := e.browser()
		body := `{"changes":[{"seq":1,"kind":"identifier.linked","identifier":{"kind":"email","value":"` + addr + `"}}]}`
		req, _ := http.NewRequest("POST", e.srv.URL+"/sync", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", b.csrf)
		start := time.Now()
		resp, err := b.c.Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		took := time.Since(start)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
		bodies[string(got)]++
		return took
	}
	for i := range n {
		if rand.IntN(2) == 0 {
			knownT = append(knownT, claim(known(i)))
			unknownT = append(unknownT, claim(fmt.Sprintf("new-%d-%d@example.com", time.Now().UnixNano(), i)))
		} else {
			unknownT = append(unknownT, claim(fmt.Sprintf("new-%d-%d@example.com", time.Now().UnixNano(), i)))
			knownT = append(knownT, claim(known(i)))
		}
	}
	return knownT, unknownT, bodies
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestClaimsDoNotRevealWhoIsKnown claims addresses that other customers
// hold, verified or only claimed, and addresses nobody holds. The answers
// must be the same byte for byte, and the time they take must not tell
// them apart: the handler answers claims no sooner than its ClaimFloor,
// which hides the store's extra work for a new address.
func TestClaimsDoNotRevealWhoIsKnown(t *testing.T) {
	ctx := context.Background()
	const floor = 20 * time.Millisecond
	const n = 25
	e := newEnv(t, plugin.Options{Rate: rate.Inf, ClaimFloor: floor})
	grace, err := e.store.Recognize(ctx, memory.Email("grace@example.com").AsVerified())
	require.NoError(t, err)
	other, err := e.store.Recognize(ctx, memory.Device("other-device").AsVerified(), memory.Email("claimed@example.com"))
	require.NoError(t, err)
	known := func(i int) string { return []string{"grace@example.com", "claimed@example.com"}[i%2] }

	knownT, unknownT, bodies := claimTimes(t, e, n, known)
	require.Len(t, bodies, 1, "the answers differ: %v", bodies)
	mk, mu := median(knownT), median(unknownT)
	diff := (mk - mu).Abs()
	t.Logf("with a floor of %v: median known %v, unknown %v, difference %v (%d claims each)", floor, mk, mu, diff, n)
	// Every answer waits for the floor, known or not; how close the two
	// medians come is logged, not asserted: on a loaded machine any call
	// can take longer than the floor, and a unit test holds no timing
	// threshold.
	for _, d := range append(knownT, unknownT...) {
		require.GreaterOrEqual(t, d, floor, "an answer came before the floor")
	}

	// The claims did what they should: new addresses are the claimants',
	// the others stay with their holders.
	for addr, holder := range map[string]memory.CustomerID{"grace@example.com": grace.Customer, "claimed@example.com": other.Customer} {
		id, err := e.store.Lookup(ctx, memory.Email(addr))
		require.NoError(t, err)
		require.Equal(t, holder, id, addr)
	}

	// What the floor hides, for the record: the same claims without it.
	bare := newEnv(t, plugin.Options{Rate: rate.Inf, ClaimFloor: -1})
	_, err = bare.store.Recognize(ctx, memory.Email("grace@example.com").AsVerified())
	require.NoError(t, err)
	knownT, unknownT, _ = claimTimes(t, bare, n, func(int) string { return "grace@example.com" })
	t.Logf("without a floor: median known %v, unknown %v", median(knownT), median(unknownT))
}

// TestForgedDeviceCookies presents device cookies the handler never gave
// out: a guessed one of the shape earlier releases gave out, one altered
// from a real one, the real one's random part with another MAC or none,
// and malformed ones. None sees the real device's memory; every one is
// replaced by a new device, as the handler did not sign it; a CSRF token is
// good only with the cookie it was given for.
func TestForgedDeviceCookies(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	owner := e.browser()
	owner.post("sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.street","value":"Keizersgracht 1","purpose":"service","channel":"web"}}]}`, nil, http.StatusOK)
	real := cookie(t, owner)

	raw := make([]byte, 32)
	_, _ = crand.Read(raw)
	guessed := base64.RawURLEncoding.EncodeToString(raw)
	altered := []byte(real)
	if altered[0] == 'A' {
		altered[0] = 'B'
	} else {
		altered[0] = 'A'
	}
	session := func(value string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/session", nil)
		req.AddCookie(&http.Cookie{Name: "herken_device", Value: value})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		return resp, string(body)
	}
	for name, value := range map[string]string{
		"guessed":   guessed,
		"altered":   string(altered),
		"too short": real[:20],
		"too long":  real + "AAAA",
		"mac cut":   real[:len(real)-4],
		"no mac":    strings.SplitN(real, ".", 2)[0] + ".",
		"other mac": strings.SplitN(real, ".", 2)[0] + "." + guessed[:22],
		"not b64":   strings.Repeat("*", len(real)),
		"path":      "../../etc/passwd",
		"empty":     "",
	} {
		resp, body := session(value)
		require.NotContains(t, body, "Keizersgracht", name)
		renewed := false
		for _, c := range resp.Cookies() {
			renewed = renewed || c.Name == "herken_device" && c.Value != value
		}
		require.True(t, renewed, "%s: a cookie the handler did not sign is replaced", name)
	}

	// The owner's CSRF token does not work with another cookie.
	req, _ := http.NewRequest("POST", e.srv.URL+"/sync", strings.NewReader(`{"changes":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herken-CSRF", owner.csrf)
	req.AddCookie(&http.Cookie{Name: "herken_device", Value: guessed})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	// And the owner still has the memory.
	var res syncAnswer
	owner.post("sync", `{"changes":[]}`, &res, http.StatusOK)
	require.Equal(t, "Keizersgracht 1", res.Snapshot.Facts[0].Value)
}
