package plugin

import (
	_ "embed"
)

// Module is the plugin's wasm module, built from ../wasm by go generate.
//
//go:embed assets/herken.wasm
var Module []byte

// The module compressed, as served to browsers that accept it.
var (
	//go:embed assets/herken.wasm.br
	moduleBrotli []byte
	//go:embed assets/herken.wasm.gz
	moduleGzip []byte
)

// ModuleGzip returns the module compressed with gzip, as served.
func ModuleGzip() []byte { return moduleGzip }

// ModuleBrotli returns the module compressed with brotli, as served.
func ModuleBrotli() []byte { return moduleBrotli }
