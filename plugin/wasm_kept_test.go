package plugin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWasmKeptAnswersFollowTheMemory: the module keeps the answers of
// brief and prefill while their brief holds. A write changes them at once,
// time changes them when a fact expires, and another input gets its own.
func TestWasmKeptAnswersFollowTheMemory(t *testing.T) {
	in := instance(t)
	fields := `{"fields":["shipping.postcode","order.size"]}`
	call(t, in, "remember", `{"facts":[{"key":"shipping.postcode","value":"1011 AB","channel":"web"}]}`)
	first := string(call(t, in, "brief", nil))
	require.Contains(t, first, "1011 AB")
	require.Equal(t, first, string(call(t, in, "brief", nil)), "the same brief, kept")
	require.JSONEq(t, `{"shipping.postcode":"1011 AB"}`, string(call(t, in, "prefill", fields)))
	require.JSONEq(t, `{}`, string(call(t, in, "prefill", `{"fields":["order.size"]}`)), "another input, its own answer")

	// A write: the next answers are new.
	expires := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	call(t, in, "remember", `{"facts":[{"key":"order.size","value":"M","channel":"web","expires":"`+expires+`"}]}`)
	require.Contains(t, string(call(t, in, "brief", nil)), `"M"`)
	require.JSONEq(t, `{"shipping.postcode":"1011 AB","order.size":"M"}`, string(call(t, in, "prefill", fields)))
	call(t, in, "forget_fact", `{"key":"shipping.postcode"}`)
	require.NotContains(t, string(call(t, in, "brief", nil)), "1011 AB")
	require.JSONEq(t, `{"order.size":"M"}`, string(call(t, in, "prefill", fields)))

	// Time alone: the fact expires and the kept answers with it.
	require.Eventually(t, func() bool {
		return !strings.Contains(string(call(t, in, "brief", nil)), `"M"`)
	}, 20*time.Second, 10*time.Millisecond)
	require.JSONEq(t, `{}`, string(call(t, in, "prefill", fields)))

	// Errors are not kept, and bad input still gets its error.
	for range 2 {
		_, err := in.Call(context.Background(), "brief", []byte(`{"purpose":"nonsense"}`))
		require.ErrorContains(t, err, "unknown purpose")
		_, err = in.Call(context.Background(), "prefill", []byte(`{"fields":`))
		require.ErrorContains(t, err, "bad_json")
	}
	var b map[string]any
	require.NoError(t, json.Unmarshal(call(t, in, "brief", `{"purpose":"marketing"}`), &b))
}
