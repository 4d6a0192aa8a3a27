// Command build builds the plugin's wasm module: go generate ./plugin runs
// it. It takes the output path, relative to the plugin folder, and writes
// the Go version beside it.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/herken/herken/plugin/internal/wasmbuild"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: build OUTPUT.wasm")
		os.Exit(2)
	}
	out, err := filepath.Abs(os.Args[1])
	if err == nil {
		var msg []byte
		msg, err = wasmbuild.Build(context.Background(), filepath.Join("..", "wasm"), out, "")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
	}
	if err == nil {
		err = compress(out)
	}
	if err == nil {
		version := strings.TrimSpace(runtime.Version())
		err = os.WriteFile(strings.TrimSuffix(out, ".wasm")+".go-version", []byte(version+"\n"), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

// compress writes out.gz and out.br beside the module.
func compress(out string) error {
	module, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	gz, br, err := wasmbuild.Compress(module)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out+".gz", gz, 0o644); err != nil {
		return err
	}
	return os.WriteFile(out+".br", br, 0o644)
}
