//go:build unix

package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// external finds a program from Debian's packages, or skips the test;
// with HERKEN_REQUIRE_EXTERNAL set (as in CI) a missing one fails it.
func external(t *testing.T, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		if m, _ := filepath.Glob(n); len(m) > 0 {
			return m[len(m)-1]
		}
	}
	if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
		t.Fatalf("%s is required (HERKEN_REQUIRE_EXTERNAL is set): apt-get install -y %s", names[0], pkg)
	}
	t.Skipf("skipping: %s not found; install it with apt-get install -y %s", names[0], pkg)
	return ""
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis runs a Redis server on loopback for the test.
func startRedis(t *testing.T) string {
	exe := external(t, "redis-server", "redis-server")
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + port
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	waitFor(t, "redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	return addr
}

// startPostgres runs a PostgreSQL server on loopback for the test, as the
// postgres user when the test runs as root (PostgreSQL refuses root).
func startPostgres(t *testing.T) string {
	initdb := external(t, "postgresql", "initdb", "/usr/lib/postgresql/*/bin/initdb")
	bin := filepath.Dir(initdb)
	dir, err := os.MkdirTemp("", "herken-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	as := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal("running as root needs the postgres user to start PostgreSQL: ", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Fatal(err)
		}
		as = func(name string, args ...string) *exec.Cmd {
			return exec.Command(runuser, append([]string{"-u", "postgres", "--", name}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := as(initdb, "-D", data, "--auth=trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := strconv.Itoa(freePort(t))
	cmd := as(filepath.Join(bin, "postgres"), "-D", data, "-p", port, "-k", dir, "-c", "listen_addresses=127.0.0.1")
	// Its own process group: runuser does not pass signals on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	dsn := "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
	waitFor(t, "postgres", func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	return dsn
}

func waitFor(t *testing.T, what string, ping func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ping(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBenchAgainstPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark; skipped with -short")
	}
	redisAddr, pg := startRedis(t), startPostgres(t)
	out := t.TempDir()
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quick", "-quiet", "-customers", "1500", "-duration", "150ms", "-writers", "8",
		"-hot", "500", "-no-browser", "-redis", redisAddr, "-postgres", pg, "-out", out, "-growth", "-growth-sizes", "300,600"}, &buf)
	require.NoError(t, err, buf.String())
	text := buf.String()
	for _, want := range []string{
		"recognize+brief, warm", "recognize+brief, cold", "lookup of an unknown email",
		"record-contact, sync writes on", "remember-fact, sync writes off", "store open",
		"redis recognize+brief", "postgres recognize+brief", "postgres record-contact, sync writes on",
		"wasm brief", "wasm compile", "herken against the alternatives", "per customer", "wasm module:",
		"growth:      300 customers", "growth:      600 customers",
		"redis GET (floor)", "postgres SELECT 1 (floor)", "× its floor",
		"redis's code path", "EVALSHA", "postgres's code path", "load average",
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "not run")
	require.NotContains(t, text, "failed:")
	for _, f := range []string{"report.md", "lookups.png", "writes.png", "growth.png", "growth-disk.png", "ratios.png", "results.json"} {
		fi, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
		require.Positive(t, fi.Size(), f)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Machine")
	require.Contains(t, string(md), "## Headline")
	require.Contains(t, string(md), "| recognize+brief, warm (p50) |")
	require.Contains(t, string(md), "| round-trip floor: GET / SELECT 1 (p50) | - |")
	require.Contains(t, string(md), "![herken's speed over each peer's](ratios.png)")
	t.Log("\n" + text)
}

// TestBenchFloorAlone checks that -only floor measures the peers' round
// trips and nothing else: no store is loaded, no peer filled.
func TestBenchFloorAlone(t *testing.T) {
	redisAddr, pg := startRedis(t), startPostgres(t)
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quiet", "-only", "floor", "-duration", "100ms", "-redis", redisAddr, "-postgres", pg}, &buf)
	require.NoError(t, err, buf.String())
	text := buf.String()
	for _, want := range []string{"redis PING (floor)", "redis GET (floor)", "postgres SELECT 1 (floor)"} {
		require.Contains(t, text, want)
	}
	for _, not := range []string{"recognize+brief", "record-contact", "not run", "failed:", "loading"} {
		require.NotContains(t, text, not)
	}
}
