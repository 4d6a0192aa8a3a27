package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	xrate "golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// claimOracle is what the claims scenario found: the attacker's view of
// claims of held and free addresses through the plugin's handler.
type claimOracle struct {
	floor              time.Duration
	rounds             int
	heldP50, freeP50   time.Duration // time to the answer's first byte
	correct            int           // single requests the attacker's rule classified right
	sameBytes, atLimit bool
}

// claimScenarios plays the attacker who wants to learn whether an address
// is held: from a device whose own memory is large (so the answer is
// larger than any write buffer), it claims a held and a free address in
// random order, times each answer's first byte, and classifies each claim
// by the midpoint of the two medians, as the best simple rule. It also
// compares the answers' bytes, and those at the identifier limit. Half
// right is a coin toss.
func claimScenarios(ctx context.Context, cfg *config, rep *report) error {
	store, err := memory.Open(ctx, memory.InMemoryOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	// Every device of the attacker comes from 127.0.0.1, and each makes a
	// customer: the bound on new customers per address (NewCustomers, 60
	// an hour by default) would refuse them after the first 60, so it is
	// off here, as the request rate is; the claim floor stays as it ships.
	h, err := plugin.New(store, plugin.Options{Secret: []byte(rand.Text() + rand.Text()), Rate: xrate.Inf, Burst: 1, NewCustomers: -1})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if _, err := store.Recognize(ctx, memory.Email("held@example.com").AsVerified()); err != nil {
		return err
	}
	type device struct {
		c    *http.Client
		csrf string
		seq  int
	}
	post := func(d *device, path, body string) (time.Duration, string, int, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", d.csrf)
		start := time.Now()
		resp, err := d.c.Do(req)
		if err != nil {
			return 0, "", 0, err
		}
		first := time.Since(start)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return first, string(b), resp.StatusCode, err
	}
	newDevice := func(facts int) (*device, error) {
		jar, _ := cookiejar.New(nil)
		d := &device{c: &http.Client{Jar: jar}}
		_, body, _, err := post(d, "session", "")
		if err != nil {
			return nil, err
		}
		_, rest, ok := strings.Cut(body, `"csrf":"`)
		if !ok {
			return nil, fmt.Errorf("session: %s", body)
		}
		d.csrf, _, _ = strings.Cut(rest, `"`)
		var changes []string
		for i := range facts {
			d.seq++
			changes = append(changes, fmt.Sprintf(`{"seq":%d,"kind":"fact.remembered","fact":{"key":"note.n%d","value":%q,"purpose":"service","channel":"web"}}`,
				d.seq, i, strings.Repeat("x", 1000)))
		}
		if len(changes) > 0 {
			if _, body, status, err := post(d, "sync", `{"changes":[`+strings.Join(changes, ",")+`]}`); err != nil || status != 200 {
				return nil, fmt.Errorf("sync: %d %s %v", status, body, err)
			}
		}
		return d, nil
	}
	claim := func(d *device, addr string) (time.Duration, string, error) {
		d.seq++
		first, body, _, err := post(d, "sync", fmt.Sprintf(`{"changes":[{"seq":%d,"kind":"identifier.linked","identifier":{"kind":"email","value":%q}}]}`, d.seq, addr))
		return first, body, err
	}
	rounds := 100
	if cfg.duration < time.Second {
		rounds = 20
	}
	var held, free []time.Duration
	type sample struct {
		held bool
		t    time.Duration
	}
	var samples []sample
	same := true
	for i := range rounds {
		d, err := newDevice(40)
		if err != nil {
			return err
		}
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		var bodies []string
		for _, isHeld := range order {
			addr := fmt.Sprintf("free-%d-%d@example.com", i, time.Now().UnixNano())
			if isHeld {
				addr = "held@example.com"
			}
			first, body, err := claim(d, addr)
			if err != nil {
				return err
			}
			// The two claims' answers differ only in the applied seq.
			bodies = append(bodies, strings.Replace(body, fmt.Sprintf(`"applied":%d`, d.seq), `"applied":N`, 1))
			samples = append(samples, sample{isHeld, first})
			if isHeld {
				held = append(held, first)
			} else {
				free = append(free, first)
			}
		}
		same = same && bodies[0] == bodies[1]
	}
	med := func(ds []time.Duration) time.Duration { s := slices.Clone(ds); slices.Sort(s); return s[len(s)/2] }
	o := claimOracle{floor: 50 * time.Millisecond, rounds: rounds, heldP50: med(held), freeP50: med(free), sameBytes: same}
	mid := (o.heldP50 + o.freeP50) / 2
	for _, s := range samples {
		if (s.t < mid) == (o.heldP50 < o.freeP50) == s.held {
			o.correct++
		}
	}
	// At the identifier limit: the device's customer full of claims.
	atLimit := func(addr string) (string, error) {
		d, err := newDevice(0)
		if err != nil {
			return "", err
		}
		var changes []string
		for i := range memory.DefaultLimits().Identifiers - 1 {
			d.seq++
			changes = append(changes, fmt.Sprintf(`{"seq":%d,"kind":"identifier.linked","identifier":{"kind":"email","value":"fill%d@example.com"}}`, d.seq, i))
		}
		if _, body, status, err := post(d, "sync", `{"changes":[`+strings.Join(changes, ",")+`]}`); err != nil || status != 200 {
			return "", fmt.Errorf("sync: %d %s %v", status, body, err)
		}
		_, body, err := claim(d, addr)
		return body, err
	}
	a, err := atLimit("held@example.com")
	if err != nil {
		return err
	}
	b, err := atLimit("free-at-limit@example.com")
	if err != nil {
		return err
	}
	o.atLimit = a == b
	rep.claims = o
	if !cfg.quiet {
		fmt.Fprintln(os.Stderr, "  "+o.line())
	}
	return nil
}

func (o claimOracle) line() string {
	if o.rounds == 0 {
		return ""
	}
	return fmt.Sprintf("claims (floor %s, 40 KB memory): first byte p50 %s held, %s free; the attacker's rule right %d of %d (half is chance); same bytes: %v, at the identifier limit: %v",
		o.floor, dur(o.heldP50), dur(o.freeP50), o.correct, 2*o.rounds, o.sameBytes, o.atLimit)
}
