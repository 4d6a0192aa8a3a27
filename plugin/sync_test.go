package plugin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/wire"
)

// syncProblem is a problem answer of the sync endpoint.
type syncProblem struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
	Change  uint64 `json:"change"`
	Applied uint64 `json:"applied"`
	Head    string `json:"head"`
}

// TestSyncConflictsAreAnsweredForRenumbering: two tabs of one browser
// numbered different changes alike on one base. The first is applied; the
// second is refused with 409 and the store's base, and changes nothing;
// renumbered after that base, it is applied. Sent again on its old base,
// the first is known and not applied twice.
func TestSyncConflictsAreAnsweredForRenumbering(t *testing.T) {
	e := newEnv(t, plugin.Options{})
	b := e.browser()
	contact := func(seq uint64, summary string) string {
		return string(wire.AppendChanges(nil, []memory.Event{{Seq: seq, Kind: memory.EventContactRecorded,
			Contact: &memory.Contact{Channel: memory.ChannelWeb, Outcome: memory.OutcomeNeutral, Summary: summary}}}))
	}
	first := `{"base":{"applied":0},"changes":` + contact(1, "from the first tab") + `}`
	var res syncAnswer
	b.post("sync", first, &res, http.StatusOK)
	require.Equal(t, uint64(1), res.Applied)

	var p syncProblem
	b.post("sync", `{"base":{"applied":0},"changes":`+contact(1, "from the second tab")+`}`, &p, http.StatusConflict)
	require.Equal(t, "conflict", p.Code, p.Detail)
	require.Equal(t, uint64(1), p.Applied)
	require.Len(t, p.Head, 22)

	// The refusal changed nothing; a session says where the device stands.
	var session struct {
		Applied uint64 `json:"applied"`
		Limits  struct {
			Changes int   `json:"changes"`
			Body    int64 `json:"body"`
		} `json:"limits"`
	}
	b.post("session", "", &session, http.StatusOK)
	require.Equal(t, uint64(1), session.Applied)
	require.Equal(t, 200, session.Limits.Changes)
	require.Equal(t, int64(64<<10), session.Limits.Body)

	renumbered := `{"base":{"applied":1,"head":"` + p.Head + `"},"changes":` + contact(2, "from the second tab") + `}`
	b.post("sync", renumbered, &res, http.StatusOK)
	require.Equal(t, uint64(2), res.Applied)
	b.post("sync", renumbered, &res, http.StatusOK)
	require.Equal(t, uint64(2), res.Applied, "sent again: known, not applied twice")
	// The first, sent again after the second: no longer known as applied
	// (only the last base is), so a conflict, never a skip.
	b.post("sync", first, &p, http.StatusConflict)

	customer := customerOf(t, e, b)
	exp, err := e.store.Export(context.Background(), customer)
	require.NoError(t, err)
	var summaries []string
	for _, ev := range exp.History {
		if ev.Kind == memory.EventContactRecorded {
			summaries = append(summaries, ev.Contact.Summary)
		}
	}
	require.Equal(t, []string{"from the first tab", "from the second tab"}, summaries)
}

// customerOf returns the customer of the browser's device.
func customerOf(t *testing.T, e *env, b *browser) memory.CustomerID {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	for _, c := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	id, err := e.h.Customer(req)
	require.NoError(t, err)
	return id
}

// TestSyncRefusesForgedBases: a base the store never gave is refused as
// bad input (422) or as a conflict (409); neither changes anything.
func TestSyncRefusesForgedBases(t *testing.T) {
	e := newEnv(t, plugin.Options{})
	b := e.browser()
	named := `[{"seq":5,"kind":"profile.named","name":"Mallory"}]`
	for _, c := range []struct {
		base   string
		status int
		code   string
	}{
		{`{"applied":4,"head":"not a head"}`, 422, "invalid"},
		{`{"applied":4,"head":"` + strings.Repeat("A", 5000) + `"}`, 422, "invalid"},
		{`{"applied":-1}`, 400, "bad_json"},
		{`{"applied":18446744073709551615}`, 422, "invalid"},
		{`{"applied":99999999999999999999}`, 400, "bad_json"},
		{`"base"`, 400, "bad_json"},
		{`{"applied":5}`, 422, "invalid"}, // the change is not after it
		{`{"applied":4}`, 409, "conflict"},
		{`{"applied":4,"head":"AAAAAAAAAAAAAAAAAAAAAA"}`, 409, "conflict"},
	} {
		var p syncProblem
		b.post("sync", `{"base":`+c.base+`,"changes":`+named+`}`, &p, c.status)
		require.Equal(t, c.code, p.Code, "%s: %s", c.base, p.Detail)
	}
	var res syncAnswer
	b.post("sync", `{"changes":[]}`, &res, http.StatusOK)
	require.Zero(t, res.Applied)
	require.Empty(t, res.Snapshot.Name)
}

// TestEveryChangeFitsAloneInASync: the largest change the browser's memory
// accepts, with every character of its longest field one that the
// module's JSON escapes at the greatest cost, fits in a sync with room to
// spare, so that the worker can always send a change alone.
func TestEveryChangeFitsAloneInASync(t *testing.T) {
	local := memory.NewLocal(nil, "")
	worst := strings.Repeat("<", 4096) // the longest field: a fact's value; six bytes each as JSON
	require.NoError(t, local.Remember(memory.Fact{Key: strings.Repeat("k", 64), Value: worst, Channel: memory.ChannelWeb}))
	_, err := local.RecordContact(memory.Contact{Channel: memory.ChannelWeb, Summary: strings.Repeat("<", 1024)})
	require.NoError(t, err)
	_, err = local.OpenIssue(strings.Repeat("<", 256), memory.ChannelChat)
	require.NoError(t, err)
	require.NoError(t, local.SetName(strings.Repeat("<", 256)))
	require.NoError(t, local.RecordConsent(memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, Source: strings.Repeat("<", 256)}))
	e := newEnv(t, plugin.Options{})
	b := e.browser()
	for _, c := range local.Pending() {
		body := `{"base":` + string(wire.AppendSyncBase(nil, local.Synced())) + `,"changes":` + string(wire.AppendChanges(nil, []memory.Event{c})) + `}`
		require.Less(t, len(body), 32<<10, "%s: half the default body limit", c.Kind)
		var res syncAnswer
		b.post("sync", body, &res, http.StatusOK)
		local.ApplySnapshot(res.Snapshot, res.Applied)
	}
}
