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

// slots and buffers hold every buffer handed to the host, by address, so
// that the garbage collector keeps it and every address the host passes
// back can be checked; held is the bytes they hold. A host holds a buffer
// or two at a time: they take a slot, found by a scan (a map's insert and
// delete cost 1.1-1.7 µs in the module, more than the rest of a kept
// brief), and buffers takes the rest. The module is single-threaded: no
// lock.
var (
	slots   [8]heldBuffer
	buffers = map[uint32][]byte{}
	held    int
)

// heldBuffer is a slot of a buffer the host holds; p is 0 in a free slot.
type heldBuffer struct {
	p uint32
	b []byte
}

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
	collect(int(size))
	if b := spareIn; cap(b) >= int(size) {
		spareIn = nil
		b = b[:size]
		clear(b)
		return hold(b)
	}
	return hold(make([]byte, size))
}

// keepSpare is the largest buffer kept for reuse. A call reuses the input
// buffer of the call before it for its own input, and an answer freed for
// its answer: a brief then allocates no buffer of its own, and in the
// module each allocation of a few KiB costs microseconds.
const keepSpare = 64 << 10

// spareIn is the input buffer of the last call, for the next herken_alloc;
// spareOut is the answer or input buffer the host freed last, for the next
// answer. Neither is held: the host has no address of them.
var spareIn, spareOut []byte

// spare returns b's whole buffer for reuse, or nil when it is too large to
// keep.
func spare(b []byte) []byte {
	if cap(b) > keepSpare {
		return nil
	}
	return b[:0]
}

// hold hands b to the host.
func hold(b []byte) uint32 {
	p := addr(b)
	held += len(b)
	for i := range slots {
		if slots[i].p == 0 {
			slots[i] = heldBuffer{p, b}
			return p
		}
	}
	buffers[p] = b
	return p
}

// release forgets the buffer at p, if any, and returns it.
func release(p uint32) ([]byte, bool) {
	if p == 0 {
		return nil, false
	}
	for i := range slots {
		if slots[i].p == p {
			b := slots[i].b
			slots[i] = heldBuffer{}
			held -= len(b)
			return b, true
		}
	}
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
	if b, ok := release(p); ok && cap(b) > cap(spareOut) {
		spareOut = spare(b)
	}
	collect(0)
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
// {"ok":…} or {"error":{"code":…,"message":…}}; fn appends the answer's
// value to b, which holds {"ok": already. No input makes it trap.
func call(p, n uint32, fn func(b []byte, req *wire.Value) ([]byte, *callError)) uint64 {
	return run(p, n, "", func(b []byte, req *wire.Value) ([]byte, memory.BriefKey, *callError) {
		b, cerr := fn(b, req)
		return b, memory.BriefKey{}, cerr
	})
}

// callKept is call for a call named name whose answer follows from its
// input and a brief alone: fn returns the key of that brief, and while the
// brief holds (memory.Local.Holds) the same input gets the same answer
// without running fn again.
func callKept(p, n uint32, name string, fn func(b []byte, req *wire.Value) ([]byte, memory.BriefKey, *callError)) uint64 {
	return run(p, n, name, fn)
}

func run(p, n uint32, name string, fn func(b []byte, req *wire.Value) ([]byte, memory.BriefKey, *callError)) (out uint64) {
	defer func() {
		if r := recover(); r != nil {
			out = output(errorJSON(&callError{code: "internal", msg: "the module failed on this input"}))
		}
		collect(int(n) + int(uint32(out)))
	}()
	in, cerr := input(p, n)
	if held > maxHeld {
		return uint64(addr(heldAnswer))<<32 | uint64(len(heldAnswer))
	}
	if cerr != nil {
		return output(errorJSON(cerr))
	}
	b := append(spareOut, `{"ok":`...)
	spareOut = nil
	if name != "" {
		if k := findKept(name, in); k != nil {
			reuseInput(in)
			return output(append(append(b, k.answer...), '}'))
		}
	}
	var req *wire.Value
	if len(in) > 0 {
		v, err := wire.Parse(in)
		if err != nil {
			spareOut = spare(b)
			return output(errorJSON(&callError{code: "bad_json", msg: err.Error()}))
		}
		req = v
	}
	start := len(b)
	b, key, cerr := fn(b, req)
	if cerr != nil {
		spareOut = spare(b)
		return output(errorJSON(cerr))
	}
	if name != "" {
		keep(name, in, key, b[start:])
	}
	reuseInput(in)
	return output(append(b, '}'))
}

// reuseInput keeps the buffer of a call's input for the next one: the
// parsed values hold copies of its bytes.
func reuseInput(in []byte) {
	if cap(in) > cap(spareIn) {
		spareIn = spare(in)
	}
}

// keptAnswer is the answer of a call that follows from its input and a
// brief, kept while the brief holds.
type keptAnswer struct {
	name, input string
	key         memory.BriefKey
	answer      []byte // the value of {"ok":…}
}

// Answers kept: a page asks the brief for one purpose or two, and prefills
// a form or two. Inputs and answers past these sizes are not kept.
const (
	keptAnswers   = 4
	keptInputMax  = 4 << 10
	keptAnswerMax = 64 << 10
)

var (
	kept     [keptAnswers]keptAnswer
	keptNext int
)

// findKept returns the answer kept for the call name with input in, if its
// brief still holds.
func findKept(name string, in []byte) *keptAnswer {
	for i := range kept {
		k := &kept[i]
		if k.name == name && k.input == string(in) {
			if local.Holds(k.key) {
				return k
			}
			*k = keptAnswer{}
			return nil
		}
	}
	return nil
}

// keep keeps answer as the answer of the call name to input in, for as long
// as the brief of key holds.
func keep(name string, in []byte, key memory.BriefKey, answer []byte) {
	if key == (memory.BriefKey{}) || len(in) > keptInputMax || len(answer) > keptAnswerMax {
		return
	}
	slot := &kept[keptNext%keptAnswers]
	for i := range kept {
		if kept[i].name == name && kept[i].input == string(in) || kept[i].name == "" {
			slot = &kept[i]
			break
		}
	}
	if slot == &kept[keptNext%keptAnswers] {
		keptNext++
	}
	*slot = keptAnswer{name: name, input: string(in), key: key, answer: append(slot.answer[:0], answer...)}
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
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
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
		return append(b, "null"...), nil
	})
}
