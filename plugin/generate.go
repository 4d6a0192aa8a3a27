package plugin

// Builds assets/herken.wasm from ../wasm with pinned flags; see
// internal/wasmbuild. The result is committed, so that go run works from a
// fresh clone; TestCommittedWasmIsWhatTheSourceBuilds checks it.
//go:generate go run ./internal/wasmbuild/build assets/herken.wasm
