package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startDesk runs the help desk without simulated contacts on a free
// loopback port and returns its base URL.
func startDesk(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out := &syncBuffer{}
	args = append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-simulate=false"}, args...)
	go func() { done <- run(ctx, args, out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("help desk did not start: %v\n%s", err, out)
	}
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + addr
}

func post(t *testing.T, url, body string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	return resp.StatusCode
}

func TestOneCustomerAcrossChannels(t *testing.T) {
	base := startDesk(t)
	var first, second inboxItem
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"Ada@Example.com"}],"subject":"Broken zipper"}`, &first))
	require.Equal(t, 200, post(t, base+"/api/contacts", `{"channel":"phone","from":[{"kind":"phone","value":"06 12345678"}],"subject":"broken zipper"}`, &second))
	require.Equal(t, first.Customer, second.Customer, "the caller is the emailer")
	require.Equal(t, "Ada Lovelace", second.Name)
	require.False(t, first.Escalated)
	require.True(t, second.Escalated, "the second contact about it escalates")

	var v view
	resp, err := http.Get(base + "/api/customers/" + string(first.Customer))
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	require.True(t, v.Brief.Escalate)
	require.NotNil(t, v.Influence)
	require.Equal(t, 4, v.Influence.Score)
	require.Len(t, v.Customer.Contacts, 2)

	var bad map[string]string
	require.Equal(t, 422, post(t, base+"/api/contacts", `{"channel":"email","from":[{"kind":"email","value":"null"}],"subject":"x"}`, &bad))
	require.Contains(t, bad["error"], "placeholder")
	require.Equal(t, 422, post(t, base+"/api/contacts", `{"channel":"email","from":[],"subject":"x"}`, &bad))
	require.Equal(t, 400, post(t, base+"/api/contacts", `{"nonsense":1}`, &bad))
	require.Equal(t, 404, post(t, base+"/api/customers/aaaaaaaaaaaaaaaaaaaaaaaaaa/forget", `{}`, &bad))
}

func TestSimulationRuns(t *testing.T) {
	base := startDesk(t, "-simulate", "-every", "20ms")
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/api/inbox")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var items []inboxItem
		_ = json.NewDecoder(resp.Body).Decode(&items)
		escalated := false
		for _, it := range items {
			escalated = escalated || it.Escalated
		}
		return len(items) >= 8 && escalated
	}, 10e9, 50e6)
}
