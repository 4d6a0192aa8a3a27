package plugin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

// problem is an error answered as application/problem+json (RFC 9457).
type problem struct {
	status int
	code   string // a short name, such as "rate_limited"
	detail string
	change uint64 // the refused change of a sync, if any
	// base is, for a sync that conflicted, the store's base for the
	// device: its own changes' Seq and head, which the device renumbers
	// its pending changes after.
	base *memory.SyncBase
}

func (p *problem) Error() string { return p.code + ": " + p.detail }

func writeProblem(w http.ResponseWriter, p *problem) {
	out := &wire.Writer{}
	out.BeginObject()
	out.Str("type", "about:blank")
	out.Str("title", http.StatusText(p.status))
	out.IntMember("status", int64(p.status))
	out.Str("detail", p.detail)
	out.Str("code", p.code)
	if p.change != 0 {
		out.UintMember("change", p.change)
	}
	if p.base != nil {
		out.UintMember("applied", p.base.Applied)
		out.StrOmit("head", p.base.Head)
	}
	out.EndObject()
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(out.B)))
	w.WriteHeader(p.status)
	_, _ = w.Write(out.B)
}

// problemOf maps an error of the store to a problem a browser may see.
func problemOf(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	var ce *memory.ChangeError
	change := uint64(0)
	if errors.As(err, &ce) {
		change = ce.Seq
	}
	var conflict *memory.ConflictError
	if errors.As(err, &conflict) {
		return &problem{status: http.StatusConflict, code: "conflict", base: &conflict.Base,
			detail: "the store has applied other changes from this device since the base given: number the changes after applied and send them again"}
	}
	switch {
	case errors.Is(err, memory.ErrInvalidIdentifier), errors.Is(err, memory.ErrInvalidInput):
		return &problem{status: http.StatusUnprocessableEntity, code: "invalid", detail: err.Error(), change: change}
	case errors.Is(err, memory.ErrLimit):
		return &problem{status: http.StatusUnprocessableEntity, code: "limit", detail: err.Error(), change: change}
	case errors.Is(err, memory.ErrNotFound):
		return &problem{status: http.StatusNotFound, code: "not_found", detail: "not found", change: change}
	case errors.Is(err, wire.ErrSyntax), errors.Is(err, wire.ErrShape):
		return &problem{status: http.StatusBadRequest, code: "bad_json", detail: err.Error()}
	case errors.Is(err, memory.ErrBusy):
		return &problem{status: http.StatusServiceUnavailable, code: "busy", detail: "try again"}
	}
	return &problem{status: http.StatusInternalServerError, code: "internal", detail: "the server failed; nothing was changed"}
}
