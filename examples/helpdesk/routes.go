package main

import (
	"embed"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/herken/herken/memory"
)

//go:embed static
var static embed.FS

const csp = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

func (d *desk) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "static/index.html")
	})
	mux.Handle("GET /static/", http.FileServerFS(static))
	mux.HandleFunc("GET /api/inbox", d.getInbox)
	mux.HandleFunc("GET /api/activity", d.getActivity)
	mux.HandleFunc("POST /api/contacts", d.postContact)
	mux.HandleFunc("GET /api/customers/{id}", d.getCustomer)
	mux.HandleFunc("POST /api/customers/{id}/issues/{issue}/resolve", d.resolve)
	mux.HandleFunc("POST /api/customers/{id}/outcome", d.outcome)
	mux.HandleFunc("POST /api/customers/{id}/unmerge", d.unmerge)
	mux.HandleFunc("POST /api/customers/{id}/forget", d.forget)
	mux.HandleFunc("GET /api/feed", d.feed)
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := cop.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &badRequest{"the request is not the JSON expected: " + err.Error()}
	}
	return nil
}

type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func fail(w http.ResponseWriter, err error) {
	var br *badRequest
	if errors.As(err, &br) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": br.msg})
		return
	}
	writeError(w, err)
}

// getInbox answers a page of the inbox: ?show=all|escalated|at-risk|waiting,
// ?after= the cursor of the page before, ?limit= its size.
func (d *desk) getInbox(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			fail(w, &badRequest{"limit must be a number"})
			return
		}
		limit = n
	}
	page, err := d.inbox(r.Context(), r.URL.Query().Get("show"), r.URL.Query().Get("after"), limit)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// getActivity answers the feed's recent lines, rebuilt from the store.
func (d *desk) getActivity(w http.ResponseWriter, r *http.Request) {
	items, err := d.recentActivity(r.Context(), 40)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, items)
}

// postContact takes a contact added by hand.
func (d *desk) postContact(w http.ResponseWriter, r *http.Request) {
	var in contactIn
	if err := readJSON(r, &in); err != nil {
		fail(w, err)
		return
	}
	if in.Channel == "" {
		in.Channel = memory.ChannelPhone
	}
	in.From = dropEmpty(in.From)
	item, err := d.receive(r.Context(), in)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, item)
}

func dropEmpty(ids []memory.Identifier) []memory.Identifier {
	out := ids[:0]
	for _, id := range ids {
		if strings.TrimSpace(id.Value) != "" {
			out = append(out, id)
		}
	}
	return out
}

func (d *desk) getCustomer(w http.ResponseWriter, r *http.Request) {
	v, err := d.view(r.Context(), memory.CustomerID(r.PathValue("id")))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (d *desk) resolve(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Resolution string `json:"resolution"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, err)
		return
	}
	id := memory.CustomerID(r.PathValue("id"))
	if err := d.store.ResolveIssue(r.Context(), id, memory.IssueID(r.PathValue("issue")), in.Resolution); err != nil {
		fail(w, err)
		return
	}
	d.getCustomer(w, r)
}

// outcome records how the current contact went.
func (d *desk) outcome(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Channel memory.Channel `json:"channel"`
		Issue   memory.IssueID `json:"issue"`
		Outcome memory.Outcome `json:"outcome"`
		Summary string         `json:"summary"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, err)
		return
	}
	_, err := d.store.RecordContact(r.Context(), memory.CustomerID(r.PathValue("id")),
		memory.Contact{Channel: in.Channel, Issue: in.Issue, Outcome: in.Outcome, Summary: in.Summary})
	if err != nil {
		fail(w, err)
		return
	}
	d.getCustomer(w, r)
}

// unmerge undoes the merge of the absorbed customer named in the body.
func (d *desk) unmerge(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Absorbed memory.CustomerID `json:"absorbed"`
	}
	if err := readJSON(r, &in); err != nil {
		fail(w, err)
		return
	}
	if err := d.store.Unmerge(r.Context(), in.Absorbed); err != nil {
		fail(w, err)
		return
	}
	d.getCustomer(w, r)
}

func (d *desk) forget(w http.ResponseWriter, r *http.Request) {
	receipt, err := d.store.Forget(r.Context(), memory.CustomerID(r.PathValue("id")))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, receipt)
}

// feed streams the live feed as Server-Sent Events.
func (d *desk) feed(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan feedItem, 64)
	d.mu.Lock()
	d.feeds[ch] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if _, ok := d.feeds[ch]; ok {
			delete(d.feeds, ch)
		}
		d.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(": connected\n\n"))
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case f, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(f)
			_, _ = w.Write(append(append([]byte("data: "), b...), '\n', '\n'))
			flusher.Flush()
		}
	}
}
