//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Programs the harness can run, as names for Require.
const (
	PostgreSQL = "postgresql"
	Patroni    = "patroni"
	Etcd       = "etcd"
)

// aptInstall is the command that installs every program the harness runs on
// Debian and Ubuntu.
const aptInstall = "apt-get install -y postgresql patroni etcd-server"

// requireEnv names the environment variable that turns a missing program
// from a skip into a failure, as CI sets it.
const requireEnv = "HERKEN_REQUIRE_EXTERNAL"

// Require skips the test when a program the harness needs is missing, with a
// message saying how to install it; what lists PostgreSQL, Patroni or Etcd
// and defaults to PostgreSQL. When HERKEN_REQUIRE_EXTERNAL is set, as in CI,
// a missing program fails the test instead.
func Require(t testing.TB, what ...string) {
	t.Helper()
	if err := lookup(what...); err != nil {
		if os.Getenv(requireEnv) != "" {
			t.Fatalf("%v (%s is set); install it with %s", err, requireEnv, aptInstall)
		}
		t.Skipf("skipping: %v; install it with %s", err, aptInstall)
	}
}

// lookup returns an error naming the first program of what that is missing.
func lookup(what ...string) error {
	if len(what) == 0 {
		what = []string{PostgreSQL}
	}
	for _, w := range what {
		var err error
		switch w {
		case PostgreSQL:
			_, err = pgBinDir()
		case Patroni:
			_, err = exec.LookPath("patroni")
		case Etcd:
			_, err = exec.LookPath("etcd")
		default:
			return fmt.Errorf("pgtest: unknown program %q", w)
		}
		if err != nil {
			return fmt.Errorf("%s not found", w)
		}
	}
	return nil
}

// pgBinDir finds PostgreSQL's server programs: the directory of initdb on
// the PATH, after symbolic links (which may name initdb alone, not its
// fellow programs), else Debian's /usr/lib/postgresql/<major>/bin, newest
// major first.
func pgBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return "", fmt.Errorf("pgtest: initdb not found")
	}
	// Glob sorts by name, so 9.6 would come after 15; the directories are
	// few, so pick the highest major by number.
	best, bestMajor := "", -1
	for _, p := range m {
		var major int
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(p))), "%d", &major); err == nil && major > bestMajor {
			best, bestMajor = p, major
		}
	}
	if best == "" {
		best = m[len(m)-1]
	}
	return filepath.Dir(best), nil
}
