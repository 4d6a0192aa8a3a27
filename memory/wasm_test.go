//go:build !wasip1

package memory_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBuildsForWasip1 builds the package for the browser module's target
// and checks that neither Badger nor the phone-number metadata is in it.
func TestBuildsForWasip1(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for another target; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("HERKEN_REQUIRE_EXTERNAL") != "" {
			t.Fatal("the go command is required (HERKEN_REQUIRE_EXTERNAL is set) and is not on PATH")
		}
		t.Skip("skipping: no go command on PATH to build for wasip1")
	}
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")

	build := exec.Command(goTool, "build", "-o", filepath.Join(t.TempDir(), "memory.a"), ".")
	build.Env = env
	out, err := build.CombinedOutput()
	require.NoError(t, err, "GOOS=wasip1 GOARCH=wasm go build: %s", out)

	list := exec.Command(goTool, "list", "-deps", ".")
	list.Env = env
	out, err = list.CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := string(out)
	for _, banned := range []string{"github.com/dgraph-io/badger", "github.com/nyaruka/phonenumbers", "time/tzdata", "hashicorp/golang-lru"} {
		require.False(t, strings.Contains(deps, banned), "the wasm build depends on %s", banned)
	}
}
