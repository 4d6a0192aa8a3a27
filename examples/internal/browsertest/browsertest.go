// Package browsertest starts headless Chromium for the examples' browser
// tests, one fresh profile a browser, and skips (or, in CI, fails) where
// Chromium is absent.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// Chromium returns the path of a headless-capable Chromium, or skips the
// test; with HERKEN_REQUIRE_EXTERNAL=1 (as in CI) a missing one fails it.
// Browser tests are skipped with -short.
func Chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test; skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
		t.Fatal("headless Chromium is required (HERKEN_REQUIRE_EXTERNAL is set): apt-get install -y chromium")
	}
	t.Skip("skipping browser test: no Chromium found; install it with apt-get install -y chromium")
	return ""
}

// NewProfile starts a headless Chromium with a fresh profile: no cookies,
// no storage, as a new visitor has. It stops when the test ends.
func NewProfile(t *testing.T) context.Context {
	t.Helper()
	exe := Chromium(t)
	dir, err := os.MkdirTemp("", "herken-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() {
		// Chromium's helpers may still be writing as they exit.
		for range 20 {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Run(ctx)) // start it
	return ctx
}

// Do runs actions with a time limit and fails the test on error.
func Do(t *testing.T, ctx context.Context, actions ...chromedp.Action) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Run(tctx, actions...))
}
