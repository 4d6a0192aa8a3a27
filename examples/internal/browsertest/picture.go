package browsertest

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// updatePictures makes Picture write the pictures the README shows:
//
//	go test ./examples/... -run Picture -update-pictures
var updatePictures = flag.Bool("update-pictures", false, "write the README's pictures from the browser tests")

// PictureWidth and PictureHeight are the window a picture is taken in, so
// that every picture is laid out alike whatever the machine's screen.
const (
	PictureWidth  = 1024
	PictureHeight = 720
)

// Sized sets tab's window to the pictures' size. Call it before the page
// loads, so that the page is laid out as it will be pictured.
func Sized(t *testing.T, tab context.Context) {
	t.Helper()
	Do(t, tab, emulation.SetDeviceMetricsOverride(PictureWidth, PictureHeight, 1, false))
}

// Picture takes a PNG of the part of the page that the JavaScript
// expression element evaluates to (an Element, inside a shadow root or
// not), with margin pixels around it, and checks that it is a picture of
// that size. With -update-pictures it also writes it to path, relative to
// the test's package: the README's pictures are made this way, from the
// pages the tests drive, so that they show what customers and agents see.
func Picture(t *testing.T, tab context.Context, element string, margin float64, path string) {
	t.Helper()
	var box struct{ X, Y, Width, Height float64 }
	Do(t, tab, chromedp.Evaluate(`(() => { const r = (`+element+`).getBoundingClientRect();
		return {X: r.x + scrollX, Y: r.y + scrollY, Width: r.width, Height: r.height}; })()`, &box))
	require.Positive(t, box.Width, "the element to picture has no width")
	require.Positive(t, box.Height, "the element to picture has no height")
	clip := &page.Viewport{X: max(box.X-margin, 0), Y: max(box.Y-margin, 0), Width: box.Width + 2*margin, Height: box.Height + 2*margin, Scale: 1}
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
	if !*updatePictures {
		return
	}
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("wrote %s (%d×%d, %d bytes)", path, size.X, size.Y, len(shot))
}
