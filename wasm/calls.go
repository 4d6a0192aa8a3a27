//go:build wasip1

package main

import (
	"errors"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

var okNull = []byte("null")

// herken_load restores the visitor's memory from what herken_save gave.
//
//go:wasmexport herken_load
func herkenLoad(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		st, err := wire.DecodeLocalState(req)
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.Restore(st))
	})
}

// herken_save returns the visitor's memory to persist.
//
//go:wasmexport herken_save
func herkenSave(p, n uint32) uint64 {
	return call(p, n, func(b []byte, _ *wire.Value) ([]byte, *callError) {
		st := local.State()
		return wire.AppendLocalState(b, &st), nil
	})
}

// herken_recognize records identifiers the visitor typed, as claims, and
// returns the brief. {"identifiers":[{"kind":"email","value":"…"}]}
//
//go:wasmexport herken_recognize
func herkenRecognize(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		ids, err := wire.Identifiers(req, "identifiers")
		if err != nil {
			return nil, fromErr(err)
		}
		if len(ids) > 0 {
			if err := local.Claim(ids...); err != nil {
				return nil, fromErr(err)
			}
		}
		br := local.Brief(memory.BriefQuery{})
		return wire.AppendBrief(b, &br), nil
	})
}

// herken_brief returns the visitor's brief. {"purpose":"service"}
//
//go:wasmexport herken_brief
func herkenBrief(p, n uint32) uint64 {
	return callKept(p, n, "brief", func(b []byte, req *wire.Value) ([]byte, memory.BriefKey, *callError) {
		purpose, err := wire.Str(req, "purpose")
		if err != nil {
			return nil, memory.BriefKey{}, fromErr(err)
		}
		q := memory.BriefQuery{Purpose: memory.Purpose(purpose)}
		if q.Purpose != "" && q.Purpose != memory.PurposeService && q.Purpose != memory.PurposePersonalization &&
			q.Purpose != memory.PurposeMarketing && q.Purpose != memory.PurposeProfiling {
			return nil, memory.BriefKey{}, &callError{code: "invalid_input", msg: "unknown purpose"}
		}
		br, key := local.SharedBrief(q)
		return wire.AppendBrief(b, &br), key, nil
	})
}

// herken_prefill returns the values to fill form fields with.
// {"fields":["shipping.postcode"]} → {"shipping.postcode":"1011 AB"}
//
//go:wasmexport herken_prefill
func herkenPrefill(p, n uint32) uint64 {
	return callKept(p, n, "prefill", func(b []byte, req *wire.Value) ([]byte, memory.BriefKey, *callError) {
		keys, err := wire.Strings(req, "fields")
		if err != nil {
			return nil, memory.BriefKey{}, fromErr(err)
		}
		// As local.Prefill, from the brief it reads.
		br, key := local.SharedBrief(memory.BriefQuery{})
		w := &wire.Writer{B: b}
		w.BeginObject()
		for _, k := range keys {
			if v, ok := br.Fact(k); ok {
				w.Str(k, v)
			}
		}
		w.EndObject()
		return w.B, key, nil
	})
}

// herken_remember records answers. {"facts":[{"key":…,"value":…,"channel":"web"}]}
//
//go:wasmexport herken_remember
func herkenRemember(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		fs, err := wire.Facts(req, "facts")
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.Remember(fs...))
	})
}

// herken_forget_fact removes a fact. {"key":"shipping.postcode"}
//
//go:wasmexport herken_forget_fact
func herkenForgetFact(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		key, err := wire.Str(req, "key")
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.ForgetFact(key))
	})
}

// herken_consent records the visitor's consent. {"consent":{"purpose":…,"granted":true}}
//
//go:wasmexport herken_consent
func herkenConsent(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		c, err := wire.Consent(req, "consent")
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.RecordConsent(c))
	})
}

// herken_open_issue opens an issue and returns it. {"subject":…,"channel":"chat"}
//
//go:wasmexport herken_open_issue
func herkenOpenIssue(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		subject, err := wire.Str(req, "subject")
		if err != nil {
			return nil, fromErr(err)
		}
		ch, err := wire.Str(req, "channel")
		if err != nil {
			return nil, fromErr(err)
		}
		if _, err := local.OpenIssue(subject, memory.Channel(ch)); err != nil {
			return nil, fromErr(err)
		}
		br := local.Brief(memory.BriefQuery{})
		return wire.AppendBrief(b, &br), nil
	})
}

// herken_contact records the visitor's contact and returns whether its
// issue is escalated. {"contact":{"channel":"chat","issue":…,"summary":…}}
//
//go:wasmexport herken_contact
func herkenContact(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		c, err := wire.Contact(req, "contact")
		if err != nil {
			return nil, fromErr(err)
		}
		res, err := local.RecordContact(c)
		if err != nil {
			return nil, fromErr(err)
		}
		w := &wire.Writer{B: b}
		w.BeginObject()
		w.BoolMember("escalated", res.Escalated)
		w.EndObject()
		return w.B, nil
	})
}

// herken_pending returns the changes to send to the server.
//
//go:wasmexport herken_pending
func herkenPending(p, n uint32) uint64 {
	return call(p, n, func(b []byte, _ *wire.Value) ([]byte, *callError) {
		return wire.AppendChanges(b, local.Pending()), nil
	})
}

// herken_apply takes the server's answer to a sync.
// {"snapshot":{…},"applied":7}; without "applied" (a session's answer) the
// pending changes stay as they are.
//
//go:wasmexport herken_apply
func herkenApply(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		snap, err := wire.DecodeSnapshot(req.Get("snapshot"))
		if err != nil {
			return nil, fromErr(err)
		}
		applied, err := wire.Uint(req, "applied")
		if err != nil {
			return nil, fromErr(err)
		}
		local.ApplySnapshot(snap, applied)
		return append(b, okNull...), nil
	})
}

// herken_synced returns the base the pending changes are numbered after,
// to send with them. → {"applied":7,"head":"…"}
//
//go:wasmexport herken_synced
func herkenSynced(p, n uint32) uint64 {
	return call(p, n, func(b []byte, _ *wire.Value) ([]byte, *callError) {
		return wire.AppendSyncBase(b, local.Synced()), nil
	})
}

// herken_renumber numbers the pending changes after the server's base, from
// its answer to a sync that conflicted. {"applied":9,"head":"…"}
//
//go:wasmexport herken_renumber
func herkenRenumber(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		base, err := wire.DecodeSyncBase(req)
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.Renumber(base))
	})
}

// herken_drop drops the pending change the server refused. {"seq":8}
//
//go:wasmexport herken_drop
func herkenDrop(p, n uint32) uint64 {
	return call(p, n, func(b []byte, req *wire.Value) ([]byte, *callError) {
		seq, err := wire.Uint(req, "seq")
		if err != nil {
			return nil, fromErr(err)
		}
		return append(b, okNull...), fromErr(local.Drop(seq))
	})
}

// herken_snapshot returns what the visitor's memory holds: "what we
// remember about you".
//
//go:wasmexport herken_snapshot
func herkenSnapshot(p, n uint32) uint64 {
	return call(p, n, func(b []byte, _ *wire.Value) ([]byte, *callError) {
		s := local.Snapshot()
		return wire.AppendSnapshot(b, &s), nil
	})
}

// errorCode names the kind of an error for the host.
func errorCode(err error) string {
	switch {
	case errors.Is(err, memory.ErrInvalidIdentifier):
		return "invalid_identifier"
	case errors.Is(err, memory.ErrInvalidInput):
		return "invalid_input"
	case errors.Is(err, memory.ErrLimit):
		return "limit"
	case errors.Is(err, memory.ErrNotFound):
		return "not_found"
	case errors.Is(err, wire.ErrSyntax):
		return "bad_json"
	case errors.Is(err, wire.ErrShape):
		return "bad_request"
	}
	return "error"
}
