package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBenchReportsPeersThatAreNotThere(t *testing.T) {
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quick", "-quiet", "-customers", "200", "-duration", "50ms", "-writers", "2",
		"-only", "brief-warm,redis,postgres,browser", "-redis", "127.0.0.1:1", "-postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable",
		"-chromium", "/nonexistent/chromium"}, &buf)
	require.NoError(t, err)
	require.Contains(t, buf.String(), "not run: no Redis at 127.0.0.1:1")
	require.Contains(t, buf.String(), "not run: no PostgreSQL")
	require.Contains(t, buf.String(), "failed: start /nonexistent/chromium")
	require.True(t, strings.Contains(buf.String(), "recognize+brief, warm"))
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{{"-only", "nonsense"}, {"-customers", "0"}, {"-growth", "-growth-sizes", "x"}, {"extra"}} {
		var buf bytes.Buffer
		require.Error(t, bench(context.Background(), args, &buf), "%v", args)
	}
}

// TestGenerateIsDeterministic checks that a customer is a function of the
// seed and its index only: the same pair gives the same customer, and
// another seed or index another one (with the same email for the same
// index, the key every system looks customers up by).
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := generate(7, 42), generate(7, 42)
	require.Equal(t, a, b)
	require.Equal(t, emailOf(42), a.ids[0].Value)
	for i := range 50 {
		c := generate(7, i)
		require.Equal(t, c, generate(7, i), "customer %d", i)
		other := generate(8, i)
		require.NotEqual(t, c, other, "customer %d with another seed", i)
		require.Equal(t, c.ids[0], other.ids[0], "customer %d's email is its index's", i)
		require.NotEqual(t, c, generate(7, i+1), "customers %d and %d", i, i+1)
	}
	for i := range 200 {
		c := generate(1, i)
		require.GreaterOrEqual(t, len(c.ids), 1)
		require.LessOrEqual(t, len(c.ids), 4)
		require.LessOrEqual(t, len(c.issues), 3)
		require.LessOrEqual(t, len(c.contacts), 20)
	}
}

// TestBenchGrowthAlone checks that a run of the growth steps alone (no
// other scenario measured anything) writes its report and plots, and no
// empty latency plot: a log scale has none.
func TestBenchGrowthAlone(t *testing.T) {
	out := t.TempDir()
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quiet", "-only", "floor", "-no-peers", "-customers", "100", "-duration", "50ms",
		"-growth", "-growth-sizes", "200,300", "-out", out}, &buf)
	require.NoError(t, err, buf.String())
	require.Contains(t, buf.String(), "growth:      200 customers")
	require.Contains(t, buf.String(), "growth:      300 customers")
	for _, f := range []string{"report.md", "growth.png", "growth-disk.png"} {
		fi, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
		require.Positive(t, fi.Size(), f)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Growth")
	require.NotContains(t, string(md), "lookups.png")
}
