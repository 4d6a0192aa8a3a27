package plugin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/herken/herken/plugin"
)

// hosts are the clocks the module meets: wazero's default, which adds 1 ms
// at every reading and so makes the runtime's garbage collection look
// costly, as a coarse browser clock can; and the system's, as wasmhost
// gives it.
var hosts = map[string]func(wazero.ModuleConfig) wazero.ModuleConfig{
	"jumping clock": func(c wazero.ModuleConfig) wazero.ModuleConfig { return c },
	"system clock": func(c wazero.ModuleConfig) wazero.ModuleConfig {
		return c.WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	},
}

// rawModule instantiates the committed module with cfg, as a host other
// than wasmhost would.
func rawModule(t *testing.T, cfg func(wazero.ModuleConfig) wazero.ModuleConfig) api.Module {
	t.Helper()
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(wasmCache)
	require.NoError(t, err)
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	t.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, plugin.Module,
		cfg(wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithRandSource(rand.Reader)))
	require.NoError(t, err)
	return mod
}

// rawCall calls herken_<name> with req in a buffer of its own and frees the
// answer, which it returns.
func rawCall(t *testing.T, mod api.Module, name string, req []byte) []byte {
	t.Helper()
	ctx := context.Background()
	var p uint64
	if len(req) > 0 {
		r, err := mod.ExportedFunction("herken_alloc").Call(ctx, uint64(len(req)))
		require.NoError(t, err)
		require.NotZero(t, r[0], "an input of %d bytes", len(req))
		p = r[0]
		require.True(t, mod.Memory().Write(uint32(p), req))
	}
	r, err := mod.ExportedFunction("herken_"+name).Call(ctx, p, uint64(len(req)))
	require.NoError(t, err, "herken_%s trapped", name)
	out, ok := mod.Memory().Read(uint32(r[0]>>32), uint32(r[0]))
	require.True(t, ok)
	out = bytes.Clone(out)
	_, err = mod.ExportedFunction("herken_free").Call(ctx, r[0]>>32)
	require.NoError(t, err)
	return out
}

// TestWasmMemoryStaysFlatWhenBuffersAreFreed allocates 1 MiB buffers and
// frees them, and calls with 1 MiB inputs, in a loop: the module's memory
// must stay within a small bound of what it was after the first rounds. It
// grew by about a MiB a round under a clock that jumps (to 3.6 GiB, then
// it trapped), because the runtime's collection cycles stalled.
func TestWasmMemoryStaysFlatWhenBuffersAreFreed(t *testing.T) {
	const rounds, warmup, slack = 600, 50, 48 << 20
	ctx := context.Background()
	brief := append([]byte(`{"purpose":"service"}`), bytes.Repeat([]byte(" "), 1<<20-21)...)
	for name, cfg := range hosts {
		t.Run(name, func(t *testing.T) {
			mod := rawModule(t, cfg)
			alloc, free := mod.ExportedFunction("herken_alloc"), mod.ExportedFunction("herken_free")
			var after uint32
			for i := range rounds {
				r, err := alloc.Call(ctx, 1<<20)
				require.NoError(t, err, "round %d", i)
				require.NotZero(t, r[0], "round %d", i)
				_, err = free.Call(ctx, r[0])
				require.NoError(t, err)
				if i%10 == 0 {
					require.Contains(t, string(rawCall(t, mod, "brief", brief)), `"ok"`)
				}
				if i == warmup {
					after = mod.Memory().Size()
				}
				if i > warmup {
					require.LessOrEqual(t, mod.Memory().Size(), after+slack,
						"round %d: the memory grew from %d MiB to %d MiB", i, after>>20, mod.Memory().Size()>>20)
				}
			}
			t.Logf("%d MiB after %d rounds, %d MiB after %d", after>>20, warmup, mod.Memory().Size()>>20, rounds)
		})
	}
}

// TestWasmAllocRefusesInsteadOfTrapping holds input buffers without using
// them until herken_alloc answers 0, which it must do long before the
// module's memory is full (it trapped at 4,086 MiB), then frees them and
// allocates again. A host that never frees answers gets a refusal from the
// calls too, and the memory stops growing.
func TestWasmAllocRefusesInsteadOfTrapping(t *testing.T) {
	ctx := context.Background()
	mod := rawModule(t, hosts["system clock"])
	alloc, free := mod.ExportedFunction("herken_alloc"), mod.ExportedFunction("herken_free")
	var held []uint64
	for len(held) < 4096 {
		r, err := alloc.Call(ctx, 1<<20)
		require.NoError(t, err, "herken_alloc trapped after %d MiB", len(held))
		if r[0] == 0 {
			break
		}
		held = append(held, r[0])
	}
	require.Less(t, len(held), 4096, "herken_alloc never refused")
	require.Less(t, mod.Memory().Size(), uint32(512<<20), "refused only once the memory was %d MiB", mod.Memory().Size()>>20)
	r, err := alloc.Call(ctx, 1<<20)
	require.NoError(t, err)
	require.Zero(t, r[0], "the largest input is refused too while the buffers are held")
	require.Contains(t, string(rawCall(t, mod, "brief", nil)), `"ok"`, "calls without input still answer")
	for _, p := range held {
		_, err := free.Call(ctx, p)
		require.NoError(t, err)
	}
	r, err = alloc.Call(ctx, 1<<20)
	require.NoError(t, err)
	require.NotZero(t, r[0], "freed, the largest input is taken again")
	_, err = free.Call(ctx, r[0])
	require.NoError(t, err)
	// A memory of a MiB, so that its snapshots are large answers.
	for i := range 4 {
		var facts []map[string]string
		for j := range 64 {
			facts = append(facts, map[string]string{"key": fmt.Sprintf("k%d", i*64+j), "value": strings.Repeat("x", 4096), "purpose": "service"})
		}
		req, err := json.Marshal(map[string]any{"facts": facts})
		require.NoError(t, err)
		require.Contains(t, string(rawCall(t, mod, "remember", req)), `"ok"`)
	}

	// Answers never freed: the calls refuse, change nothing, and the memory
	// stops growing.
	f := mod.ExportedFunction("herken_snapshot")
	var size uint32
	refused := 0
	for i := 0; i < 1000 && refused < 100; i++ {
		r, err := f.Call(ctx, 0, 0)
		require.NoError(t, err, "herken_snapshot trapped after %d answers held", i)
		out, ok := mod.Memory().Read(uint32(r[0]>>32), uint32(r[0]))
		require.True(t, ok)
		if bytes.HasPrefix(out, []byte(`{"ok":`)) {
			continue
		}
		var res struct{ Error struct{ Code string } }
		require.NoError(t, json.Unmarshal(out, &res), "%.300s", out)
		require.Equal(t, "limit", res.Error.Code)
		if refused == 0 {
			size = mod.Memory().Size()
		}
		refused++
	}
	require.Equal(t, 100, refused, "the calls never refused")
	require.Equal(t, size, mod.Memory().Size(), "refusals grow nothing")
}

// TestWasmHostStartsTheModuleOnce: the module's _initialize traps when run
// twice (the Go runtime starts once), so wasmhost, which runs it, gives no
// way to run it again.
func TestWasmHostStartsTheModuleOnce(t *testing.T) {
	in := instance(t)
	require.True(t, in.Export("_initialize") == nil, "wasmhost gives _initialize")
	require.True(t, in.Export("herken_brief") != nil)
	call(t, in, "brief", nil)
}
