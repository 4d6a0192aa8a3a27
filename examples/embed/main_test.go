package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	s := out.String()
	for _, want := range []string{
		"Recognized ada.lovelace@example.com",
		"Second call about it: escalated=true (contacts about the issue: 2)",
		"name:         Ada Lovelace",
		"do not ask:   shipping.postcode = 1011 AB",
		"flags:        escalate=true",
		`"format": "herken.export/v1"`,
		"1 customer, 2 identifiers, 2 facts, 1 issue, 2 contacts",
		"memory: not found",
	} {
		require.Contains(t, s, want)
	}
}
