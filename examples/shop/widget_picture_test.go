package main

//go:generate go test -count=1 -run ^TestWidgetPicture$ . -args -pictures

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

var pictures = flag.Bool("pictures", false, "write the README's pictures of the widget (go generate ./examples/shop)")

// The pictures of the widget the README shows: the panel as it opens, and
// "what we remember about you".
const (
	widgetPicture = "pictures/widget.png"
	memoryPicture = "pictures/widget-memory.png"
)

// TestWidgetPicture takes the README's picture of the widget: open on the
// product page, for a customer who has asked a question and left a cart.
// With -pictures (go generate ./examples/shop) it writes it; otherwise it
// checks that one is committed, as a PNG of the widget's shape. Pixels are
// not compared: fonts differ between machines.
func TestWidgetPicture(t *testing.T) {
	base := startShop(t, t.TempDir())
	tab := newVisitor(t)
	do(t, tab, chromedp.EmulateViewport(900, 760), chromedp.Navigate(base+"/checkout"), ready(), fillCheckout("Herengracht 3", "ada@example.com"))
	var ok bool
	eval(t, tab, `herken.openIssue("My parcel did not arrive").then(() => herken.saveDraft("cart", "{}")).then(() => herken.sync())`, &ok)
	do(t, tab, chromedp.Navigate(base+"/"), ready(), openWidget(), panelHas("Continue where you left off (cart)"),
		chromedp.Evaluate(widgetRoot+`.activeElement && `+widgetRoot+`.activeElement.blur()`, nil))
	picture(t, tab, widgetPicture)
	do(t, tab, clickText("What we remember about you"), panelHas("Herengracht 3"),
		chromedp.Evaluate(widgetRoot+`.activeElement && `+widgetRoot+`.activeElement.blur()`, nil))
	picture(t, tab, memoryPicture)
}

// picture takes a picture of the open widget, panel and button, and writes
// it to path with -pictures; without, it checks the one committed there.
func picture(t *testing.T, tab context.Context, path string) {
	t.Helper()
	var box struct{ X, Y, W, H float64 }
	eval(t, tab, `(() => { const r = `+widgetRoot+`, p = r.querySelector(".p").getBoundingClientRect(), b = r.querySelector("button.b").getBoundingClientRect();
		const x = Math.min(p.left, b.left) - 12, y = p.top - 12;
		return {X: x, Y: y, W: Math.max(p.right, b.right) + 12 - x, H: b.bottom + 12 - y} })()`, &box)
	var shot []byte
	do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		shot, err = page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).
			WithClip(&page.Viewport{X: box.X, Y: box.Y, Width: box.W, Height: box.H, Scale: 1}).Do(ctx)
		return err
	}))
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 300)
	if *pictures {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, shot, 0o644))
		t.Logf("wrote %s: %dx%d, %d bytes", path, img.Bounds().Dx(), img.Bounds().Dy(), len(shot))
		return
	}
	committed, err := os.ReadFile(path)
	require.NoError(t, err, "the README's picture; make it with go generate ./examples/shop")
	old, err := png.Decode(bytes.NewReader(committed))
	require.NoError(t, err)
	require.Equal(t, img.Bounds().Dx(), old.Bounds().Dx(), "the widget changed its width: go generate ./examples/shop")
}
