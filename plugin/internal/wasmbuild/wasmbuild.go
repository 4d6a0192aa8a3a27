// Package wasmbuild builds the plugin's wasm module with pinned flags, for
// go generate and for the test that checks the committed module is what the
// source builds.
package wasmbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/andybalholm/brotli"
)

// Args are the arguments to go: -gcflags=all=-l (no inlining) makes the
// module larger raw but about 50 KB smaller with brotli; -s -w drop the
// symbol tables; -trimpath and -buildvcs=false keep paths and the checkout
// out of it, so that the same source and Go version give the same bytes.
func Args(out, pkg string) []string {
	return []string{"build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
		"-gcflags=all=-l", "-ldflags=-s -w", "-o", out, pkg}
}

// Env is the environment of the build.
func Env() []string {
	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWASM="}
	for _, kv := range os.Environ() {
		switch {
		case hasPrefix(kv, "GOOS="), hasPrefix(kv, "GOARCH="), hasPrefix(kv, "CGO_ENABLED="),
			hasPrefix(kv, "GOFLAGS="), hasPrefix(kv, "GOWASM="), hasPrefix(kv, "GOTOOLCHAIN="):
		default:
			env = append(env, kv)
		}
	}
	return env
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// Build builds the module in directory wasmDir (the repository's wasm
// folder) into out, and merges its data segments (MergeData). With toolchain (such as "go1.26.8") the go command
// builds with that Go version, fetching it if needed, so that the bytes
// match a module built with it.
func Build(ctx context.Context, wasmDir, out, toolchain string) ([]byte, error) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, Args(out, ".")...)
	cmd.Dir = wasmDir
	cmd.Env = Env()
	if toolchain != "" {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+toolchain)
	}
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return msg, err
	}
	module, err := os.ReadFile(out)
	if err != nil {
		return msg, err
	}
	if module, err = MergeData(module, MergeGap); err != nil {
		return msg, err
	}
	return msg, os.WriteFile(out, module, 0o644)
}

// MergeGap is the largest run of zeros between two data segments that
// Build fills in to merge them: 51 KB less brotli than the linker's
// segments (594,956 → 543,683 B), where larger gaps gained nothing more.
const MergeGap = 64

// Compress returns the module compressed with gzip and brotli at their best
// levels, as the handler serves them.
func Compress(module []byte) (gz, br []byte, err error) {
	var g bytes.Buffer
	zw, err := gzip.NewWriterLevel(&g, gzip.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	if _, err := zw.Write(module); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	bw := brotli.NewWriterLevel(&b, brotli.BestCompression)
	if _, err := bw.Write(module); err != nil {
		return nil, nil, err
	}
	if err := bw.Close(); err != nil {
		return nil, nil, err
	}
	return g.Bytes(), b.Bytes(), nil
}
