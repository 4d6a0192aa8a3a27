package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	xrate "golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// The browser measurement: the plugin as a shop's visitor meets it, in
// headless Chromium, on a checkout page served from loopback. Each visitor
// has a browser context of their own (no cookies, storage or cache: a
// first visit), gives their address, and comes back in the same context (a
// return visit, the form filled from what the plugin keeps). Each load
// yields the time from the plugin's start to its first brief, from the
// navigation's start to that brief, and the page's main-thread tasks of
// 50 ms or more, as the long-task API reports them.

// browserPage is the checkout form of the demo shop, without the shop.
const browserPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title></head>
<body><h1>Checkout</h1>
<form method="post" action="/order">
<label>Name <input name="name" data-herken-fact="contact.name"></label>
<label>Street <input name="street" data-herken-fact="shipping.street"></label>
<label>Postcode <input name="postcode" data-herken-fact="shipping.postcode"></label>
<label>City <input name="city" data-herken-fact="shipping.city"></label>
<label>Size <input name="size" data-herken-fact="order.size"></label>
<label><input type="checkbox" data-herken-remember> Remember my details</label>
<button type="submit">Place order</button>
</form>
<script src="/herken/herken.js" defer></script>
</body></html>`

// longTaskWatch runs in every page before its own scripts.
const longTaskWatch = `window.longTasks = [];
window.longTaskObserver = new PerformanceObserver((l) => { for (const e of l.getEntries()) longTasks.push(e.duration) });
longTaskObserver.observe({type: "longtask", buffered: true});`

// loadTimes reads a loaded page's marks and long tasks (those the observer
// has not been told of yet included).
var loadTimes = `((browserPhases) => {
	const at = (n) => performance.getEntriesByName(n)[0].startTime;
	for (const e of longTaskObserver.takeRecords()) longTasks.push(e.duration);
	const phases = {};
	for (const n of browserPhases) { const e = performance.getEntriesByName("herken:" + n)[0]; if (e) phases[n] = e.startTime - at("herken:start"); }
	return {start: at("herken:start"), ready: at("herken:ready"), long: longTasks, phases};
})(` + phaseList() + `)`

func phaseList() string {
	b, _ := json.Marshal(browserPhases)
	return string(b)
}

// browserPhases are the steps of the plugin's start that it marks on the
// page's timeline (herken.js, herken-worker.js): the worker running, the
// module downloaded, compiled and instantiated, the Go runtime started, the
// saved memory read, the session's answer applied, the start answered, the
// form filled.
var browserPhases = []string{"worker", "module", "init", "state", "session", "started", "filled"}

const browserLoadTimeout = 30 * time.Second // bounds a hang, not a goal

var browserOps = []struct{ op, name string }{
	{"brief-first-visit", "browser, first visit: plugin start to first brief"},
	{"page-first-visit", "browser, first visit: navigation to first brief"},
	{"brief-return-visit", "browser, return visit: plugin start to first brief"},
	{"page-return-visit", "browser, return visit: navigation to first brief"},
}

func findChromium(path string) string {
	if path != "" {
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func browserScenarios(ctx context.Context, cfg *config, rep *report) {
	skip := func(why string) {
		for _, o := range browserOps {
			rep.add(&result{Name: o.name, System: "browser", Op: o.op, Skipped: why})
		}
	}
	exe := findChromium(cfg.chromium)
	if exe == "" {
		skip("not run: no Chromium (apt-get install -y chromium, or -chromium PATH)")
		return
	}
	if err := browserRun(ctx, cfg, exe, rep); err != nil {
		skip("failed: " + err.Error())
	}
}

func browserRun(ctx context.Context, cfg *config, exe string, rep *report) error {
	base, stopShop, err := browserShop(ctx)
	if err != nil {
		return err
	}
	defer stopShop()
	bctx, stopBrowser, err := startChromium(exe)
	if err != nil {
		return err
	}
	defer stopBrowser()
	if err := chromedp.Run(bctx, chromedp.ActionFunc(func(ctx context.Context) error {
		_, product, _, _, _, err := browser.GetVersion().Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		rep.browser = product
		return err
	})); err != nil {
		return err
	}

	results := map[string]*result{}
	for _, o := range browserOps {
		results[o.op] = &result{Name: o.name, System: "browser", Op: o.op, Workers: 1, Hist: newHist()}
	}
	record := func(visit string, m pageTimes) {
		for _, x := range []struct {
			op string
			ms float64
		}{{"brief-" + visit, m.Ready - m.Start}, {"page-" + visit, m.Ready}} {
			res := results[x.op]
			d := time.Duration(x.ms * float64(time.Millisecond))
			_ = res.Hist.RecordValue(int64(d))
			res.Ops++
		}
		rep.browserLoads++
		if rep.browserPhases == nil {
			rep.browserPhases, rep.browserBriefs = map[string][]float64{}, map[string][]float64{}
		}
		rep.browserBriefs[visit] = append(rep.browserBriefs[visit], m.Ready-m.Start)
		for _, n := range browserPhases {
			if at, ok := m.Phases[n]; ok {
				rep.browserPhases[visit+" "+n] = append(rep.browserPhases[visit+" "+n], at)
			}
		}
		longest := 0.0
		for _, l := range m.Long {
			longest = max(longest, l)
		}
		if longest > 0 {
			rep.browserLongLoads++
			rep.browserLongest = max(rep.browserLongest, time.Duration(longest*float64(time.Millisecond)))
		}
	}
	bar := cfg.bar(cfg.visitors, "browser: visitors")
	t0 := time.Now()
	for k := range cfg.visitors {
		if err := ctx.Err(); err != nil {
			return err
		}
		first, again, err := browserVisit(bctx, base, generate(cfg.seed, k))
		if err != nil {
			return fmt.Errorf("visitor %d: %w", k, err)
		}
		record("first-visit", first)
		record("return-visit", again)
		_ = bar.Add(1)
	}
	_ = bar.Finish()
	for _, o := range browserOps {
		res := results[o.op]
		res.Elapsed = time.Since(t0) // throughput: visitors a second, one at a time
		rep.add(res)
		if !cfg.quiet {
			fmt.Fprintf(os.Stderr, "  %-58s %10s  p50 %9s  p99 %9s\n", res.Name, "", dur(res.Quantile(50)), dur(res.Quantile(99)))
		}
	}
	return nil
}

type pageTimes struct {
	Start  float64            `json:"start"` // ms since the navigation's start
	Ready  float64            `json:"ready"`
	Long   []float64          `json:"long"`   // ms
	Phases map[string]float64 `json:"phases"` // ms since Start, by browserPhases
}

// browserVisit is one visitor: a first visit in a new browser context,
// where they give their address, and a return visit.
func browserVisit(bctx context.Context, base string, c customer) (first, again pageTimes, err error) {
	tab, closeTab, err := newVisitorTab(bctx)
	if err != nil {
		return first, again, err
	}
	defer closeTab()
	load := func(out *pageTimes) chromedp.Action {
		return chromedp.Tasks{
			chromedp.Navigate(base + "/"),
			chromedp.Poll(`performance.getEntriesByName("herken:ready").length > 0`, nil),
			chromedp.Evaluate(loadTimes, out),
		}
	}
	var facts []map[string]string
	for _, f := range c.facts {
		facts = append(facts, map[string]string{"key": f.Key, "value": f.Value})
	}
	facts = append(facts, map[string]string{"key": "contact.name", "value": c.name})
	js, _ := json.Marshal(facts)
	var synced bool
	tctx, cancel := context.WithTimeout(tab, browserLoadTimeout)
	defer cancel()
	err = chromedp.Run(tctx,
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := page.AddScriptToEvaluateOnNewDocument(longTaskWatch).Do(ctx)
			return err
		}),
		load(&first),
		chromedp.Evaluate(`herken.remember(`+string(js)+`).then(() => herken.sync())`, &synced,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		load(&again),
		chromedp.Poll(`document.querySelector("input[name=street]").value !== ""`, nil),
	)
	if err == nil && !synced {
		err = errors.New("the visitor's memory did not reach the server")
	}
	return first, again, err
}

// browserShop serves the checkout page and the plugin on loopback, with a
// store of its own.
func browserShop(ctx context.Context) (string, func(), error) {
	dir, err := os.MkdirTemp("", "herken-bench-browser-")
	if err != nil {
		return "", nil, err
	}
	store, err := memory.Open(ctx, memory.DefaultOptions(dir).WithDefaultRegion("NL"))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	cleanup := func() { store.Close(); os.RemoveAll(dir) }
	// Every visitor comes from 127.0.0.1: a shop's limit per address
	// would slow the visitors, not the plugin.
	h, err := plugin.New(store, plugin.Options{Secret: []byte(rand.Text() + rand.Text()), Rate: xrate.Inf, Burst: 1})
	if err != nil {
		cleanup()
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", h))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(browserPage))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cleanup()
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close(); cleanup() }, nil
}

// startChromium runs a headless Chromium with a temporary profile.
func startChromium(exe string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "herken-bench-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(alloc)
	// chromedp.Cancel closes Chromium gracefully, but where it never
	// started, Cancel and cancel would both wait for its exit and the
	// second would wait for ever.
	started := false
	stop := func() {
		if started {
			tctx, tcancel := context.WithTimeout(bctx, 10*time.Second)
			_ = chromedp.Cancel(tctx)
			tcancel()
		}
		cancel()
		cancelAlloc()
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // helpers may still write as they exit
		}
	}
	done := make(chan error, 1)
	go func() { done <- chromedp.Run(bctx) }() // its context is the browser's lifetime
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		err = errors.New("chromium did not start within a minute")
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("start %s: %w", exe, err)
	}
	started = true
	return bctx, stop, nil
}

// newVisitorTab opens a tab in a new browser context, in a window of its
// own: headless Chromium opens no tab in a browser context without one.
func newVisitorTab(bctx context.Context) (context.Context, func(), error) {
	var id target.ID
	var bc cdp.BrowserContextID
	tctx, tcancel := context.WithTimeout(bctx, browserLoadTimeout)
	defer tcancel()
	onBrowser := func(fn func(b context.Context) error) error {
		return chromedp.Run(tctx, chromedp.ActionFunc(func(ctx context.Context) error {
			return fn(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		}))
	}
	err := onBrowser(func(b context.Context) error {
		var err error
		if bc, err = target.CreateBrowserContext().WithDisposeOnDetach(true).Do(b); err != nil {
			return err
		}
		id, err = target.CreateTarget("about:blank").WithBrowserContextID(bc).WithNewWindow(true).Do(b)
		return err
	})
	dispose := func() {
		if bc == "" {
			return
		}
		dctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Run(dctx, chromedp.ActionFunc(func(ctx context.Context) error {
			return target.DisposeBrowserContext(bc).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		}))
	}
	if err != nil {
		dispose()
		return nil, nil, err
	}
	tab, cancel := chromedp.NewContext(bctx, chromedp.WithTargetID(id))
	attached := make(chan error, 1)
	go func() { attached <- chromedp.Run(tab) }() // its context is the tab's lifetime
	select {
	case err = <-attached:
	case <-time.After(browserLoadTimeout):
		err = errors.New("no answer from the new tab")
	}
	closeTab := func() { cancel(); dispose() }
	if err != nil {
		closeTab()
		return nil, nil, err
	}
	return tab, closeTab, nil
}

// browserLine describes the long tasks seen, for the report.
func (r *report) browserLine() string {
	if r.browserLoads == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "browser: %d page loads in headless %s; main-thread tasks of 50 ms or more: ", r.browserLoads, r.browser)
	if r.browserLongLoads == 0 {
		b.WriteString("none")
	} else {
		fmt.Fprintf(&b, "in %d loads, the longest %s", r.browserLongLoads, dur(r.browserLongest))
	}
	for _, visit := range []string{"first-visit", "return-visit"} {
		var parts []string
		for _, n := range browserPhases {
			if at := r.browserPhases[visit+" "+n]; len(at) > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f", n, median(at)))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "\nbrowser, %s: the plugin's start, p50 ms after it began: %s, first brief %.0f",
				strings.ReplaceAll(visit, "-", " "), strings.Join(parts, ", "), median(r.browserBriefs[visit]))
		}
	}
	return b.String()
}

// median returns the median of xs, which it sorts.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}
