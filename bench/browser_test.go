//go:build unix

package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchMeasuresThePluginInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Chromium; skipped with -short")
	}
	exe := external(t, "chromium", "chromium", "chromium-browser", "google-chrome")
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quiet", "-only", "browser", "-visitors", "2", "-chromium", exe}, &buf)
	require.NoError(t, err, buf.String())
	text := buf.String()
	for _, o := range browserOps {
		require.Contains(t, text, o.name)
	}
	require.Contains(t, text, "browser: 4 page loads in headless ")
	require.Contains(t, text, "main-thread tasks of 50 ms or more: ")
	require.NotContains(t, text, "not run")
	require.NotContains(t, text, "failed:")
	t.Log("\n" + text)
}
