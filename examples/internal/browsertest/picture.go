package browsertest

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// pictures makes Picture write the pictures the README shows, where a test
// takes one:
//
//	go generate ./examples/shop ./examples/helpdesk
//
// runs each package's picture tests with -pictures.
var pictures = flag.Bool("pictures", false, "write the README's pictures from the browser tests (go generate ./examples/...)")

// ElementBox is a JavaScript expression for the box of the element the
// expression element evaluates to (inside a shadow root or not), with
// margin pixels around it: a box for Picture.
func ElementBox(element string, margin int) string {
	m := strconv.Itoa(margin)
	return `(() => { const r = (` + element + `).getBoundingClientRect();
		return {x: r.x - ` + m + `, y: r.y - ` + m + `, width: r.width + 2 * ` + m + `, height: r.height + 2 * ` + m + `}; })()`
}

// Picture takes a PNG of the part of the page that the JavaScript
// expression box evaluates to ({x, y, width, height}, in the window's
// pixels, as getBoundingClientRect gives them; see ElementBox), and checks
// that it is a picture of that size. The README's pictures are made this
// way, from the pages the tests drive, so that they show what customers
// and agents see. With -pictures it writes it to path, relative to the
// test's package; without, it checks that the picture committed there is
// one of the same width, so that a change of layout that the README's
// picture no longer shows fails until the pictures are taken again
// (pixels are not compared: fonts differ between machines).
func Picture(t *testing.T, tab context.Context, box string, path string) {
	t.Helper()
	var b struct{ X, Y, Width, Height float64 }
	Do(t, tab, chromedp.Evaluate(box, &b))
	require.Positive(t, b.Width, "the part of the page to picture has no width")
	require.Positive(t, b.Height, "the part of the page to picture has no height")
	var sx, sy float64
	Do(t, tab, chromedp.Evaluate(`scrollX`, &sx), chromedp.Evaluate(`scrollY`, &sy))
	clip := &page.Viewport{X: max(b.X+sx, 0), Y: max(b.Y+sy, 0), Width: b.Width, Height: b.Height, Scale: 1}
	var shot []byte
	Do(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		shot, err = page.CaptureScreenshot().WithFormat(page.CaptureScreenshotFormatPng).WithClip(clip).WithCaptureBeyondViewport(true).Do(ctx)
		return err
	}))
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err, "the picture is not a PNG")
	size := img.Bounds().Size()
	require.InDelta(t, clip.Width, float64(size.X), 2, "the picture's width")
	require.InDelta(t, clip.Height, float64(size.Y), 2, "the picture's height")
	if *pictures {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, shot, 0o644))
		t.Logf("wrote %s (%d×%d, %d bytes)", path, size.X, size.Y, len(shot))
		return
	}
	committed, err := os.ReadFile(path)
	if os.IsNotExist(err) && filepath.IsAbs(path) {
		return // a picture for no README: the test's own
	}
	require.NoError(t, err, "the README's picture %s; take it with go generate", path)
	old, err := png.Decode(bytes.NewReader(committed))
	require.NoError(t, err, "the committed %s is not a PNG", path)
	require.InDelta(t, size.X, old.Bounds().Dx(), 2, "the layout of %s changed: take the pictures again with go generate", path)
}
