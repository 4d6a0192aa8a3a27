package main

import (
	"context"
	"os"
	"time"

	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/wasmhost"
)

// wasmScenarios measures the plugin's module in wazero, with wazero's
// compilation cache: compiling and starting it, and the calls a page makes.
func wasmScenarios(ctx context.Context, cfg *config, rep *report) error {
	rep.wasmRaw, rep.wasmGzip, rep.wasmBrotli = len(plugin.Module), len(plugin.ModuleGzip()), len(plugin.ModuleBrotli())
	cache, err := os.MkdirTemp("", "herken-bench-wazero-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)

	first := &result{Name: "wasm compile, empty cache", System: "wasm", Op: "compile", Workers: 1, Hist: newHist()}
	t0 := time.Now()
	rt, err := wasmhost.NewRuntime(ctx, plugin.Module, cache)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	_ = first.Hist.RecordValue(int64(took))
	first.Ops, first.Elapsed = 1, took
	rep.add(first)
	rt.Close(ctx)

	if err := cfg.measureN(rep, "wasm compile, from the cache", "wasm", "compile-cached", 1, 20, func(int, int64) error {
		rt, err := wasmhost.NewRuntime(ctx, plugin.Module, cache)
		if err != nil {
			return err
		}
		return rt.Close(ctx)
	}); err != nil {
		return err
	}
	rt, err = wasmhost.NewRuntime(ctx, plugin.Module, cache)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	if err := cfg.measureN(rep, "wasm instantiate (Go runtime start)", "wasm", "instantiate", 1, 50, func(int, int64) error {
		in, err := rt.Instance(ctx)
		if err != nil {
			return err
		}
		return in.Close(ctx)
	}); err != nil {
		return err
	}
	in, err := rt.Instance(ctx)
	if err != nil {
		return err
	}
	defer in.Close(ctx)
	c := generate(cfg.seed, 0)
	profile := `{"facts":[`
	for k, f := range c.facts {
		if k > 0 {
			profile += ","
		}
		profile += `{"key":"` + f.Key + `","value":"` + f.Value + `","channel":"web"}`
	}
	profile += `]}`
	for _, step := range [][2]string{
		{"remember", profile},
		{"open_issue", `{"subject":"parcel late","channel":"chat"}`},
	} {
		if _, err := in.Call(ctx, step[0], []byte(step[1])); err != nil {
			return err
		}
	}
	if err := cfg.measure(rep, "wasm brief", "wasm", "brief", 1, 0, func(int, int64) error {
		_, err := in.Raw(ctx, "brief", nil)
		return err
	}); err != nil {
		return err
	}
	return cfg.measure(rep, "wasm prefill of 4 fields", "wasm", "prefill", 1, 0, func(int, int64) error {
		_, err := in.Raw(ctx, "prefill", []byte(`{"fields":["shipping.street","shipping.postcode","shipping.city","order.size"]}`))
		return err
	})
}
