// Package browsertest runs the examples' browser tests in headless Chromium,
// and skips them (or, in CI, fails them) where Chromium is absent.
//
// A test binary starts one Chromium, the first time a test asks for it, and
// stops it when its tests have run: call Main from the package's TestMain.
// Each test gets a tab in a browser context of its own, which shares no
// cookies, storage, IndexedDB, service workers or cache with any other: a
// new visitor, as a fresh profile would be, without a browser start a test.
// Contexts are in memory only; a test about what survives a browser restart
// needs a Chromium of its own, with its own profile folder.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Limits on what should take a fraction of them, kept generous for a loaded
// machine: they bound a hang, they are not speed goals.
const (
	startTimeout = time.Minute      // Chromium's start
	tabTimeout   = 30 * time.Second // a new browser context and its tab; Do's actions
	stopTimeout  = 10 * time.Second // Chromium's graceful close
)

// shared is the test binary's Chromium.
var shared struct {
	main atomic.Bool // Main runs the tests, so the browser will be stopped

	once sync.Once // starts the browser and sets the fields below
	ctx  context.Context
	stop func()
	err  error
}

// Main runs the package's tests, then stops the Chromium they shared, if
// any test started it. Call it from TestMain:
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
func Main(m *testing.M) {
	shared.main.Store(true)
	m.Run() // TestMain returning makes the test binary exit with m.Run's code
	// Through the Once, so that this sees what a test's start wrote, and so
	// that nothing starts a browser after this.
	shared.once.Do(func() { shared.err = errors.New("browsertest: the tests have ended") })
	if shared.stop != nil {
		shared.stop()
	}
}

// Chromium returns the path of a headless-capable Chromium, or skips the
// test; with HERKEN_REQUIRE_EXTERNAL=1 (as in CI) a missing one fails it.
// Browser tests are skipped with -short.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	if p := lookChromium(); p != "" {
		return p
	}
	if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
		t.Fatal("headless Chromium is required (HERKEN_REQUIRE_EXTERNAL is set): apt-get install -y chromium")
	}
	t.Skip("skipping browser test: no Chromium found; install it with apt-get install -y chromium")
	return ""
}

func lookChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// NewContext returns a tab of the shared Chromium in a new browser context:
// no cookies, no localStorage, no IndexedDB, no service workers, as a new
// visitor has. The tab and its browser context are closed when the test
// ends.
func NewContext(t *testing.T) context.Context {
	t.Helper()
	exe := Chromium(t)
	if !shared.main.Load() {
		t.Fatal("browsertest: call browsertest.Main from the package's TestMain, so that the shared Chromium is stopped")
	}
	shared.once.Do(func() { shared.ctx, shared.stop, shared.err = start(exe) })
	require.NoError(t, shared.err, "start Chromium")

	var bc cdp.BrowserContextID
	tctx, tcancel := context.WithTimeout(shared.ctx, tabTimeout)
	defer tcancel()
	err := chromedp.Run(tctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		bc, err = target.CreateBrowserContext().WithDisposeOnDetach(true).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		return err
	}))
	if bc != "" {
		t.Cleanup(func() { dispose(bc) })
	}
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	return openTab(t, bc)
}

// NewTab returns another tab in the browser context of tab, a context from
// NewContext: the same visitor in a second tab, sharing cookies, storage and
// IndexedDB with the first. It is closed with its browser context.
func NewTab(t *testing.T, tab context.Context) context.Context {
	t.Helper()
	var bc cdp.BrowserContextID
	err := within(tabTimeout, func() error {
		return chromedp.Run(tab, chromedp.ActionFunc(func(ctx context.Context) error {
			c := chromedp.FromContext(ctx)
			info, err := target.GetTargetInfo().WithTargetID(c.Target.TargetID).Do(cdp.WithExecutor(ctx, c.Browser))
			if err == nil {
				bc = info.BrowserContextID
			}
			return err
		}))
	})
	if err != nil {
		t.Fatalf("the tab's browser context: %v", err)
	}
	return openTab(t, bc)
}

// openTab opens a tab, in a window of its own, in browser context bc.
func openTab(t *testing.T, bc cdp.BrowserContextID) context.Context {
	t.Helper()
	// chromedp's WithNewBrowserContext opens its tab without a window, which
	// Chromium's headless mode refuses in a context that has none ("Failed
	// to open new tab - no browser is open"): open it in a new window.
	var id target.ID
	tctx, tcancel := context.WithTimeout(shared.ctx, tabTimeout)
	defer tcancel()
	err := chromedp.Run(tctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		id, err = target.CreateTarget("about:blank").WithBrowserContextID(bc).WithNewWindow(true).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		return err
	}))
	if err != nil {
		t.Fatalf("new tab: %v", err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	// The context of a tab's first Run is the tab's lifetime: it cannot
	// carry the deadline, so the deadline is kept here.
	if err := within(tabTimeout, func() error { return chromedp.Run(ctx) }); err != nil {
		t.Fatalf("attach to the new tab: %v", err)
	}
	return ctx
}

// dispose closes a browser context and every tab in it.
func dispose(id cdp.BrowserContextID) {
	ctx, cancel := context.WithTimeout(shared.ctx, stopTimeout)
	defer cancel()
	_ = chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		return target.DisposeBrowserContext(id).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
	}))
}

// start runs Chromium with a temporary profile folder, removed when stop
// returns.
func start(exe string) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "herken-chromium-")
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
	ctx, cancel := chromedp.NewContext(alloc)
	// chromedp.Cancel closes Chromium gracefully, but where it never
	// started, Cancel and cancel would both wait for its exit and the
	// second would wait for ever.
	started := false
	stop := func() {
		if started {
			tctx, tcancel := context.WithTimeout(ctx, stopTimeout)
			_ = chromedp.Cancel(tctx) // closes Chromium and waits for it to exit
			tcancel()
		}
		cancel()
		cancelAlloc()
		removeAll(dir)
	}
	if err := within(startTimeout, func() error { return chromedp.Run(ctx) }); err != nil {
		stop()
		return nil, nil, err
	}
	started = true
	return ctx, stop, nil
}

// within runs fn and returns its error, or an error when it has not
// returned after d; the caller then cancels what fn waits on.
func within(d time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("no answer from Chromium within %s", d)
	}
}

// removeAll removes Chromium's profile folder; its helper processes may
// still be writing there for a moment after the browser exits.
func removeAll(dir string) {
	deadline := time.Now().Add(stopTimeout)
	for os.RemoveAll(dir) != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// Do runs actions with a time limit and fails the test on error.
func Do(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, tabTimeout)
	defer cancel()
	require.NoError(t, chromedp.Run(tctx, actions...))
}
