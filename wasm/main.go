//go:build wasip1

// Command wasm is the plugin's WebAssembly module: one visitor's memory
// (memory.Local) behind a small ABI, built for GOOS=wasip1 with
// -buildmode=c-shared. Browsers load it through the plugin's script; Go
// loads it with wazero. ABI.md describes the calls.
package main

import (
	"time"
	"unsafe"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

// maxInput bounds one input buffer: the largest input, a saved state of a
// customer at the limits the handler allows, with all the changes a Local
// memory keeps (see wire.MaxInput).
const maxInput = wire.MaxInput

// maxHeld bounds the bytes of the buffers handed to the host and not yet
// freed, inputs and answers, so that a host that never frees them meets a
// refusal instead of a trap: two of the largest inputs, and room for the
// answers of a few calls.
const maxHeld = 2*maxInput + 8<<20

// buffers holds every buffer handed to the host, by address, so that the
// garbage collector keeps it and every address the host passes back can be
// checked; held is the bytes they hold. The module is single-threaded: no
// lock.
var (
	buffers = map[uint32][]byte{}
	held    int
)

// local is the visitor's memory; herken_configure replaces it.
var local = memory.NewLocal(nil, "")

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// herken_alloc returns the address of a new buffer of size bytes for an
// input, or 0 when size is out of range or the buffers held would pass
// maxHeld. The module's memory only grows where the Go runtime asks it to:
// a refusal here is what stands between a greedy host and a trap.
//
//go:wasmexport herken_alloc
func herkenAlloc(size uint32) uint32 {
	if size == 0 || size > maxInput || held+int(size) > maxHeld {
		return 0
	}
	collect()
	b := make([]byte, size)
	return hold(b)
}

// hold hands b to the host.
func hold(b []byte) uint32 {
	p := addr(b)
	buffers[p] = b
	held += len(b)
	return p
}

// release forgets the buffer at p, if any, and returns it.
func release(p uint32) ([]byte, bool) {
	b, ok := buffers[p]
	if ok {
		delete(buffers, p)
		held -= len(b)
	}
	return b, ok
}

// herken_free frees a buffer from herken_alloc or a call's output. Unknown
// addresses are ignored.
//
//go:wasmexport herken_free
func herkenFree(p uint32) {
	release(p)
	collect()
}

// input returns the bytes at (p, n), which must lie in a buffer from
// herken_alloc, starting at its start, and frees that buffer. (0, 0) is empty.
func input(p, n uint32) ([]byte, *callError) {
	if p == 0 && n == 0 {
		return nil, nil
	}
	b, ok := release(p)
	if !ok {
		return nil, &callError{code: "bad_pointer", msg: "input is not a buffer from herken_alloc"}
	}
	if uint64(n) > uint64(len(b)) {
		return nil, &callError{code: "bad_length", msg: "input length exceeds its buffer"}
	}
	return b[:n], nil
}

// output hands b to the host as one i64: address in the high half, length
// in the low half.
func output(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(hold(b))<<32 | uint64(len(b))
}

// heldAnswer is the answer of every call while the host holds maxHeld bytes
// of buffers: a fixed one, which is no buffer of the host's (freeing it
// does nothing), so that a host that never frees answers does not grow the
// memory with calls either.
var heldAnswer = []byte(`{"error":{"code":"limit","message":"the host holds too many buffers; free the answers"}}`)

type callError struct{ code, msg string }

// call runs fn on the parsed input and encodes its answer as
// {"ok":…} or {"error":{"code":…,"message":…}}. No input makes it trap.
func call(p, n uint32, fn func(req *wire.Value) ([]byte, *callError)) (out uint64) {
	defer func() {
		if r := recover(); r != nil {
			out = output(errorJSON(&callError{code: "internal", msg: "the module failed on this input"}))
		}
		collect()
	}()
	in, cerr := input(p, n)
	if held > maxHeld {
		return uint64(addr(heldAnswer))<<32 | uint64(len(heldAnswer))
	}
	if cerr != nil {
		return output(errorJSON(cerr))
	}
	var req *wire.Value
	if len(in) > 0 {
		v, err := wire.Parse(in)
		if err != nil {
			return output(errorJSON(&callError{code: "bad_json", msg: err.Error()}))
		}
		req = v
	}
	ok, cerr := fn(req)
	if cerr != nil {
		return output(errorJSON(cerr))
	}
	res := make([]byte, 0, len(ok)+8)
	res = append(res, `{"ok":`...)
	res = append(res, ok...)
	return output(append(res, '}'))
}

func errorJSON(e *callError) []byte {
	w := &wire.Writer{}
	w.BeginObject()
	w.Key("error")
	w.BeginObject()
	w.Str("code", e.code)
	w.Str("message", e.msg)
	w.EndObject()
	w.EndObject()
	return w.B
}

// fromErr turns an error of the memory package into a call error.
func fromErr(err error) *callError {
	if err == nil {
		return nil
	}
	return &callError{code: errorCode(err), msg: err.Error()}
}

func main() {}

// herken_configure starts an empty memory with settings:
// {"region":"NL","now":"2026-11-02T10:00:00Z"}. Region reads phone numbers
// without a country code (in the browser build only international numbers
// are read, so it is kept for the server); now fixes the clock, for tests
// and replays.
//
//go:wasmexport herken_configure
func herkenConfigure(p, n uint32) uint64 {
	return call(p, n, func(req *wire.Value) ([]byte, *callError) {
		region, err := wire.Str(req, "region")
		if err != nil {
			return nil, fromErr(err)
		}
		at, err := wire.Str(req, "now")
		if err != nil {
			return nil, fromErr(err)
		}
		clock := time.Now
		if at != "" {
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return nil, &callError{code: "invalid_input", msg: "now is not an RFC 3339 time"}
			}
			clock = func() time.Time { return t }
		}
		local = memory.NewLocal(clock, region)
		return []byte("null"), nil
	})
}
