package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// startShop runs the shop on a free loopback port with its data in dir and
// returns its base URL; it stops when the test ends.
func startShop(t *testing.T, dir string) string {
	t.Helper()
	base, _ := startStoppableShop(t, dir)
	return base
}

// startStoppableShop is startShop that also returns a function stopping the
// shop before the test ends.
func startStoppableShop(t *testing.T, dir string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir}, out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("shop did not start: %v\n%s", err, out)
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	require.Contains(t, out.String(), dir, "the data folder is printed at start")
	return "http://" + addr, stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestShopServesItsPages(t *testing.T) {
	base := startShop(t, t.TempDir())
	for _, path := range []string{"/", "/checkout", "/login", "/agent", "/agent?q=nobody@example.com", "/static/shop.css", "/herken/herken.js"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		if strings.HasPrefix(path, "/agent") || path == "/" || path == "/checkout" {
			require.Contains(t, resp.Header.Get("Content-Security-Policy"), "'wasm-unsafe-eval'")
			require.Contains(t, string(body), `src="/herken/herken.js"`, path)
		}
	}
	resp, err := http.Get(base + "/agent?q=nobody@example.com")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), "no customer found")
}

func TestShopKeepsItsSecretAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	a, err := loadSecret(dir + "/s")
	require.NoError(t, err)
	b, err := loadSecret(dir + "/s")
	require.NoError(t, err)
	require.Equal(t, a, b)
	fi, err := os.Stat(dir + "/s")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
