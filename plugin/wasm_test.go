package plugin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/internal/wasmbuild"
	"github.com/herken/herken/plugin/wasmhost"
	"github.com/herken/herken/plugin/wire"
)

var wasmCache = filepath.Join(os.TempDir(), "herken-wazero-cache")

func instance(t testing.TB) *wasmhost.Instance {
	t.Helper()
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, plugin.Module, wasmCache)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close(ctx) })
	in, err := rt.Instance(ctx)
	require.NoError(t, err)
	return in
}

func call(t testing.TB, in *wasmhost.Instance, name string, req any) json.RawMessage {
	t.Helper()
	var b []byte
	switch r := req.(type) {
	case nil:
	case []byte:
		b = r
	case string:
		b = []byte(r)
	default:
		var err error
		b, err = json.Marshal(req)
		require.NoError(t, err)
	}
	out, err := in.Call(context.Background(), name, b)
	require.NoError(t, err, "herken_%s", name)
	return out
}

// TestWasmAnswersAsTheNativePackage drives the committed module and a
// native memory.Local with the same steps, and the server with what they
// sync, and compares every answer.
func TestWasmAnswersAsTheNativePackage(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	native := memory.NewLocal(clock, "NL")
	in := instance(t)
	call(t, in, "configure", map[string]string{"region": "NL", "now": now.Format(time.RFC3339Nano)})

	same := func(step string, got json.RawMessage, want []byte) {
		t.Helper()
		require.JSONEq(t, string(want), string(got), step)
	}
	brief := func() []byte { b := native.Brief(memory.BriefQuery{}); return wire.AppendBrief(nil, &b) }
	snapshot := func() []byte { s := native.Snapshot(); return wire.AppendSnapshot(nil, &s) }

	facts := []memory.Fact{
		{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb},
		{Key: "shoe.size", Value: "38", Purpose: memory.PurposePersonalization},
	}
	require.NoError(t, native.Remember(facts...))
	call(t, in, "remember", map[string]any{"facts": facts})
	require.NoError(t, native.Claim(memory.Email("Ada@Example.com")))
	same("recognize", call(t, in, "recognize", `{"identifiers":[{"kind":"email","value":"Ada@Example.com"}]}`), brief())
	is, err := native.OpenIssue("parcel late", memory.ChannelChat)
	require.NoError(t, err)
	call(t, in, "open_issue", map[string]string{"subject": "parcel late", "channel": "chat"})
	res, err := native.RecordContact(memory.Contact{Channel: memory.ChannelChat, Issue: is.ID, Summary: "again"})
	require.NoError(t, err)
	out := call(t, in, "contact", map[string]any{"contact": memory.Contact{Channel: memory.ChannelChat, Issue: is.ID, Summary: "again"}})
	same("contact", out, []byte(`{"escalated":`+boolJSON(res.Escalated)+`}`))
	same("brief", call(t, in, "brief", nil), brief())
	same("prefill", call(t, in, "prefill", `{"fields":["shipping.postcode","shoe.size","none"]}`),
		wire.AppendStrings(nil, []string{"shipping.postcode", "shoe.size", "none"}, native.Prefill([]string{"shipping.postcode", "shoe.size", "none"})))
	same("pending", call(t, in, "pending", nil), wire.AppendChanges(nil, native.Pending()))
	same("snapshot", call(t, in, "snapshot", nil), snapshot())

	// Sync what the browser holds with the server, and apply its answer to both.
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithClock(clock))
	require.NoError(t, err)
	defer s.Close()
	dev := memory.Device("browser-device-token").AsVerified()
	_, err = s.Recognize(ctx, dev)
	require.NoError(t, err)
	require.NoError(t, s.RecordConsent(ctx, mustLookup(t, s, dev), memory.Consent{Purpose: memory.PurposePersonalization, Granted: true}))
	var pending []memory.Event
	v, err := wire.Parse(call(t, in, "pending", nil))
	require.NoError(t, err)
	pending, err = wire.DecodeChanges(v)
	require.NoError(t, err)
	same("synced", call(t, in, "synced", nil), wire.AppendSyncBase(nil, native.Synced()))
	synced, err := s.Sync(ctx, dev, native.Synced(), pending)
	require.NoError(t, err)
	native.ApplySnapshot(synced.Snapshot, synced.Applied)
	answer := `{"snapshot":` + string(wire.AppendSnapshot(nil, &synced.Snapshot)) + `,"applied":` + jsonNumber(synced.Applied) + `}`
	call(t, in, "apply", answer)
	// The module followed the store's chain over what it sent, as JSON.
	same("synced after sync", call(t, in, "synced", nil), wire.AppendSyncBase(nil, synced.SyncBase))
	same("brief after sync", call(t, in, "brief", nil), brief())
	same("personalization brief", call(t, in, "brief", `{"purpose":"personalization"}`), func() []byte {
		b := native.Brief(memory.BriefQuery{Purpose: memory.PurposePersonalization})
		return wire.AppendBrief(nil, &b)
	}())
	same("pending after sync", call(t, in, "pending", nil), wire.AppendChanges(nil, native.Pending()))
	same("snapshot after sync", call(t, in, "snapshot", nil), snapshot())

	// Saved and loaded in a new instance, as after a page load.
	state := call(t, in, "save", nil)
	st := native.State()
	same("save", state, wire.AppendLocalState(nil, &st))
	again := instance(t)
	call(t, again, "configure", map[string]string{"now": now.Format(time.RFC3339Nano)})
	call(t, again, "load", []byte(state))
	same("brief after load", call(t, again, "brief", nil), brief())

	// Another copy of the memory syncs first: the store refuses this one's
	// base, and the module renumbers its changes after the store's.
	_, err = native.RecordContact(memory.Contact{Channel: memory.ChannelChat, Summary: "from this tab"})
	require.NoError(t, err)
	call(t, in, "contact", map[string]any{"contact": memory.Contact{Channel: memory.ChannelChat, Summary: "from this tab"}})
	other := memory.NewLocal(clock, "")
	require.NoError(t, other.Restore(st))
	_, err = other.RecordContact(memory.Contact{Channel: memory.ChannelChat, Summary: "from another tab"})
	require.NoError(t, err)
	_, err = s.Sync(ctx, dev, other.Synced(), other.Pending())
	require.NoError(t, err)
	_, err = s.Sync(ctx, dev, native.Synced(), native.Pending())
	var conflict *memory.ConflictError
	require.ErrorAs(t, err, &conflict)
	require.NoError(t, native.Renumber(conflict.Base))
	call(t, in, "renumber", wire.AppendSyncBase(nil, conflict.Base))
	same("pending after renumber", call(t, in, "pending", nil), wire.AppendChanges(nil, native.Pending()))
	same("synced after renumber", call(t, in, "synced", nil), wire.AppendSyncBase(nil, conflict.Base))
	synced, err = s.Sync(ctx, dev, native.Synced(), native.Pending())
	require.NoError(t, err, "renumbered, the change is applied")

	// A change the server refused is dropped; a session's answer keeps the base.
	last := native.Pending()[0].Seq
	require.NoError(t, native.Drop(last))
	call(t, in, "drop", map[string]uint64{"seq": last})
	same("pending after drop", call(t, in, "pending", nil), wire.AppendChanges(nil, native.Pending()))
	native.ApplySnapshot(synced.Snapshot, 0)
	call(t, in, "apply", `{"snapshot":`+string(wire.AppendSnapshot(nil, &synced.Snapshot))+`}`)
	same("synced after a session", call(t, in, "synced", nil), wire.AppendSyncBase(nil, conflict.Base))
	same("snapshot after a session", call(t, in, "snapshot", nil), snapshot())
}

func mustLookup(t *testing.T, s *memory.Store, id memory.Identifier) memory.CustomerID {
	c, err := s.Lookup(context.Background(), id)
	require.NoError(t, err)
	return c
}

func boolJSON(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestWasmRefusesBadInputWithoutTrapping(t *testing.T) {
	ctx := context.Background()
	in := instance(t)
	for _, tt := range []struct{ name, req, code string }{
		{"remember", `{"facts":[{"key":"Bad Key","value":"x"}]}`, "invalid_input"},
		{"remember", `{"facts":"nope"}`, "bad_request"},
		{"remember", `{"facts":[`, "bad_json"},
		{"recognize", `{"identifiers":[{"kind":"email","value":"null"}]}`, "invalid_identifier"},
		{"contact", `{"contact":{"channel":"chat","issue":"nope"}}`, "not_found"},
		{"contact", `{"contact":{"channel":"chat","outcome":"negative"}}`, "invalid_input"},
		{"load", `{"pending":[{"seq":1,"kind":"signal.recorded"}]}`, "invalid_input"},
		{"brief", `{"purpose":"spam"}`, "invalid_input"},
		{"apply", `{"snapshot":{"name":7}}`, "bad_request"},
		{"apply", `{"snapshot":{},"applied":"1"}`, "bad_request"},
		{"renumber", `{"applied":1,"head":"forged"}`, "invalid_input"},
		{"renumber", `{"applied":18446744073709551615}`, "invalid_input"},
		{"renumber", `{"applied":-1}`, "bad_request"},
		{"drop", `{"seq":12345}`, "not_found"},
		{"load", `{"synced":{"applied":5},"pending":[{"seq":3,"kind":"profile.named","name":"x"}]}`, "invalid_input"},
		{"configure", `{"now":"yesterday"}`, "invalid_input"},
		{"prefill", strings.Repeat("[", 100), "bad_json"},
	} {
		_, err := in.Call(ctx, tt.name, []byte(tt.req))
		var ce *wasmhost.CallError
		require.ErrorAs(t, err, &ce, tt.name+" "+tt.req)
		require.Equal(t, tt.code, ce.Code, tt.name+" "+tt.req)
	}
	// Pointers and lengths that are not the module's buffers.
	f := in.Export("herken_brief")
	for _, pn := range [][2]uint32{{1, 10}, {0xfffffff0, 100}, {8, 0}, {0, 5}} {
		out, err := in.CallAt(ctx, f, pn[0], pn[1])
		require.NoError(t, err, "no trap for %v", pn)
		require.Contains(t, string(out), `"bad_pointer"`, "%v", pn)
	}
	alloc := in.Export("herken_alloc")
	r, err := alloc.Call(ctx, 4)
	require.NoError(t, err)
	out, err := in.CallAt(ctx, f, uint32(r[0]), 1<<20)
	require.NoError(t, err)
	require.Contains(t, string(out), `"bad_length"`)
	r, err = alloc.Call(ctx, 1<<30)
	require.NoError(t, err)
	require.Zero(t, r[0], "a huge buffer is refused")
	// Still working.
	call(t, in, "brief", nil)
}

func FuzzWasmABI(f *testing.F) {
	names := []string{"load", "recognize", "brief", "prefill", "remember", "forget_fact", "consent", "open_issue", "contact", "apply", "configure", "renumber", "drop"}
	f.Add(uint8(0), []byte(`{"base":{},"pending":[]}`))
	f.Add(uint8(4), []byte(`{"facts":[{"key":"a","value":"b"}]}`))
	f.Add(uint8(9), []byte(`{"snapshot":{"facts":[{"key":"a","value":"b","at":"2026-01-01T00:00:00Z"}]},"applied":3}`))
	f.Add(uint8(8), []byte(`{"contact":{"channel":"chat"}}`))
	f.Add(uint8(11), []byte(`{"applied":3,"head":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add(uint8(12), []byte(`{"seq":1}`))
	rt, err := wasmhost.NewRuntime(context.Background(), plugin.Module, wasmCache)
	require.NoError(f, err)
	in, err := rt.Instance(context.Background())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, which uint8, req []byte) {
		if len(req) == 0 || len(req) > 1<<16 {
			return
		}
		out, err := in.Raw(context.Background(), names[int(which)%len(names)], req)
		require.NoError(t, err, "the module trapped")
		var res map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &res), "%s", out)
		_, ok := res["ok"]
		_, bad := res["error"]
		require.True(t, ok != bad, "%s", out)
	})
}

// TestCommittedWasmIsWhatTheSourceBuilds rebuilds the module with the pinned
// flags and compares it with the committed one, and checks the committed
// compressed forms and the size goal.
func TestCommittedWasmIsWhatTheSourceBuilds(t *testing.T) {
	br, err := io.ReadAll(brotli.NewReader(bytes.NewReader(plugin.ModuleBrotli())))
	require.NoError(t, err)
	require.Equal(t, plugin.Module, br, "assets/herken.wasm.br is not herken.wasm")
	zr, err := gzip.NewReader(bytes.NewReader(plugin.ModuleGzip()))
	require.NoError(t, err)
	gz, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, plugin.Module, gz, "assets/herken.wasm.gz is not herken.wasm")
	t.Logf("module: %d bytes raw, %d gzip, %d brotli", len(plugin.Module), len(plugin.ModuleGzip()), len(plugin.ModuleBrotli()))
	require.LessOrEqual(t, len(plugin.ModuleBrotli()), 600_000, "the size goal: at most 600 KB brotli")

	if testing.Short() {
		t.Skip("rebuilding the module; skipped with -short")
	}
	version, err := os.ReadFile("assets/herken.go-version")
	require.NoError(t, err)
	// Built with the Go version the committed module was built with: the go
	// command fetches it when this one differs.
	out := filepath.Join(t.TempDir(), "herken.wasm")
	msg, err := wasmbuild.Build(context.Background(), filepath.Join("..", "wasm"), out, strings.TrimSpace(string(version)))
	if err != nil && os.Getenv("HERKEN_REQUIRE_EXTERNAL") == "" && strings.Contains(string(msg), "toolchain") {
		t.Skipf("cannot get %s to rebuild the module: %s", strings.TrimSpace(string(version)), msg)
	}
	require.NoError(t, err, "%s", msg)
	built, err := os.ReadFile(out)
	require.NoError(t, err)
	require.True(t, bytes.Equal(plugin.Module, built),
		"the committed assets/herken.wasm is not what the source builds: run go generate ./plugin and commit the result")
}

// TestWasmImportsOnlyWhatTheWorkerProvides: the browser runs the module
// with the WASI shim in herken-worker.js, which has only the calls Go's
// runtime made when it was written. A module that imports one more (fmt
// pulls in os, and os imports fd_close) fails to instantiate in every
// browser while wazero, a full WASI, runs it happily.
func TestWasmImportsOnlyWhatTheWorkerProvides(t *testing.T) {
	worker, err := os.ReadFile(filepath.Join("assets", "herken-worker.js"))
	require.NoError(t, err)
	body := string(worker)
	start := strings.Index(body, "const wasi = {")
	require.GreaterOrEqual(t, start, 0, "the worker's WASI shim")
	body = body[start:]
	body = body[:strings.Index(body, "\n};")]
	provided := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z_]+): `).FindAllStringSubmatch(body, -1) {
		provided[m[1]] = true
	}
	require.Contains(t, provided, "fd_write")

	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	m, err := rt.CompileModule(ctx, plugin.Module)
	require.NoError(t, err)
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		require.Equal(t, "wasi_snapshot_preview1", mod, name)
		require.True(t, provided[name], "the module imports %s, which herken-worker.js does not provide", name)
	}
}
