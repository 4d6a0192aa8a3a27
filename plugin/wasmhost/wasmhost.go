// Package wasmhost runs the plugin's wasm module in Go with wazero, the way
// a browser runs it through the plugin's script: for tests, for the
// benchmark, and for servers that want the browser's answers.
//
// A Runtime compiles the module once and is safe for concurrent use. An
// Instance is one visitor's memory and is not safe for concurrent use.
package wasmhost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Runtime holds the compiled module.
type Runtime struct {
	r        wazero.Runtime
	compiled wazero.CompiledModule
}

// NewRuntime compiles module. With cacheDir, compiled code is kept there
// and reused by later runtimes (wazero's compilation cache).
func NewRuntime(ctx context.Context, module []byte, cacheDir string) (*Runtime, error) {
	cfg := wazero.NewRuntimeConfig()
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache: %w", err)
		}
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("wasmhost: wasi: %w", err)
	}
	compiled, err := r.CompileModule(ctx, module)
	if err != nil {
		r.Close(ctx)
		return nil, fmt.Errorf("wasmhost: compile: %w", err)
	}
	return &Runtime{r: r, compiled: compiled}, nil
}

// Close frees the runtime and every instance.
func (rt *Runtime) Close(ctx context.Context) error { return rt.r.Close(ctx) }

// Instance is one instantiated module: one visitor's memory.
type Instance struct {
	mod   api.Module
	alloc api.Function
	free  api.Function
	// calls holds the exports called so far: looking one up costs more
	// than a call that answers from what the module keeps.
	calls map[string]api.Function
	stack [2]uint64 // the parameters and results of the call in progress
}

// Instance starts a new instance; it runs the Go runtime's start.
func (rt *Runtime) Instance(ctx context.Context) (*Instance, error) {
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: many instances may run side by side
		WithStartFunctions("_initialize").
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	mod, err := rt.r.InstantiateModule(ctx, rt.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("wasmhost: instantiate: %w", err)
	}
	in := &Instance{mod: mod, alloc: mod.ExportedFunction("herken_alloc"), free: mod.ExportedFunction("herken_free"),
		calls: map[string]api.Function{}}
	if in.alloc == nil || in.free == nil {
		mod.Close(ctx)
		return nil, errors.New("wasmhost: the module lacks herken_alloc or herken_free")
	}
	return in, nil
}

// Close frees the instance.
func (in *Instance) Close(ctx context.Context) error { return in.mod.Close(ctx) }

// CallError is an error the module answered with.
type CallError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CallError) Error() string { return "wasm: " + e.Code + ": " + e.Message }

// Call calls the export herken_<name> with req (JSON, or nil) and returns
// the JSON of its answer, or a *CallError.
func (in *Instance) Call(ctx context.Context, name string, req []byte) (json.RawMessage, error) {
	out, err := in.Raw(ctx, name, req)
	if err != nil {
		return nil, err
	}
	var res struct {
		OK    json.RawMessage `json:"ok"`
		Error *CallError      `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("wasmhost: %s answered %q: %w", name, out, err)
	}
	if res.Error != nil {
		return nil, res.Error
	}
	return res.OK, nil
}

// Raw calls herken_<name> with req and returns the module's whole answer.
func (in *Instance) Raw(ctx context.Context, name string, req []byte) ([]byte, error) {
	f, ok := in.calls[name]
	if !ok {
		if f = in.mod.ExportedFunction("herken_" + name); f == nil {
			return nil, fmt.Errorf("wasmhost: no export herken_%s", name)
		}
		in.calls[name] = f
	}
	var p uint32
	if len(req) > 0 {
		in.stack[0] = uint64(len(req))
		if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
			return nil, fmt.Errorf("wasmhost: alloc: %w", err)
		}
		p = uint32(in.stack[0])
		if p == 0 || !in.mod.Memory().Write(p, req) {
			return nil, errors.New("wasmhost: the module refused an input buffer")
		}
	}
	return in.CallAt(ctx, f, p, uint32(len(req)))
}

// CallAt calls f with a raw address and length, as a misbehaving host might,
// and returns the module's answer.
func (in *Instance) CallAt(ctx context.Context, f api.Function, p, n uint32) ([]byte, error) {
	in.stack[0], in.stack[1] = uint64(p), uint64(n)
	if err := f.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, fmt.Errorf("wasmhost: call: %w", err)
	}
	op, on := uint32(in.stack[0]>>32), uint32(in.stack[0])
	out, ok := in.mod.Memory().Read(op, on)
	if !ok {
		return nil, errors.New("wasmhost: the answer lies outside memory")
	}
	out = append([]byte(nil), out...)
	in.stack[0] = uint64(op)
	if err := in.free.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, fmt.Errorf("wasmhost: free: %w", err)
	}
	return out, nil
}

// Export returns one of the module's herken_ exports, for tests that call
// it directly, or nil. Others are not given: _initialize, which Instance ran
// and which traps when run again (ABI.md), least of all.
func (in *Instance) Export(name string) api.Function {
	if !strings.HasPrefix(name, "herken_") {
		return nil
	}
	return in.mod.ExportedFunction(name)
}

// Memory returns the instance's memory, for tests that watch its size.
func (in *Instance) Memory() api.Memory { return in.mod.Memory() }
