package plugin_test

import (
	"context"
	"testing"
	"time"

	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/wasmhost"
)

// BenchmarkWasm measures the module through wazero, with its compilation
// cache: compiling (from the cache), starting an instance, and the calls a
// page makes most.
func BenchmarkWasm(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	warm, err := wasmhost.NewRuntime(ctx, plugin.Module, dir) // fills the cache
	if err != nil {
		b.Fatal(err)
	}
	warm.Close(ctx)

	b.Run("compile-cached", func(b *testing.B) {
		for b.Loop() {
			rt, err := wasmhost.NewRuntime(ctx, plugin.Module, dir)
			if err != nil {
				b.Fatal(err)
			}
			rt.Close(ctx)
		}
	})
	rt, err := wasmhost.NewRuntime(ctx, plugin.Module, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(ctx)
	b.Run("instantiate", func(b *testing.B) {
		for b.Loop() {
			in, err := rt.Instance(ctx)
			if err != nil {
				b.Fatal(err)
			}
			in.Close(ctx)
		}
	})
	in, err := rt.Instance(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(ctx)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, step := range []struct{ name, req string }{
		{"configure", `{"now":"` + now + `"}`},
		{"remember", `{"facts":[{"key":"shipping.postcode","value":"1011 AB","channel":"web"},{"key":"shipping.street","value":"Keizersgracht 1","channel":"web"},{"key":"contact.name","value":"Ada","channel":"web"}]}`},
		{"open_issue", `{"subject":"parcel late","channel":"chat"}`},
	} {
		if _, err := in.Call(ctx, step.name, []byte(step.req)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, call, req string }{
		{"brief", "brief", ""},
		{"prefill", "prefill", `{"fields":["shipping.postcode","shipping.street","contact.name","order.size"]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := in.Raw(ctx, c.call, []byte(c.req)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
