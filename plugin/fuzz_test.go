package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// FuzzSyncRequest sends arbitrary bodies to the sync endpoint from one
// device with a valid session. Every answer must be a success or a problem
// the browser caused (4xx, never 5xx), the device must never see another
// customer's memory, and that customer must stay as it was.
func FuzzSyncRequest(f *testing.F) {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(f, err)
	f.Cleanup(func() { s.Close() })
	h, err := plugin.New(s, plugin.Options{Secret: secret, Rate: rate.Inf, MaxBody: 16 << 10})
	require.NoError(f, err)

	// Another customer, with a verified address and a fact, whom the
	// device must never reach.
	grace, err := s.Recognize(ctx, memory.Email("grace@example.com").AsVerified())
	require.NoError(f, err)
	require.NoError(f, s.Remember(ctx, grace.Customer, memory.Fact{Key: "shipping.street", Value: "Prinsengracht 263"}))
	graceBefore, err := s.Export(ctx, grace.Customer)
	require.NoError(f, err)

	// The device's session: its cookie and CSRF token.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/session", nil))
	require.Equal(f, http.StatusOK, rec.Code, rec.Body.String())
	var sess struct{ CSRF string }
	require.NoError(f, json.Unmarshal(rec.Body.Bytes(), &sess))
	cookies := rec.Result().Cookies()
	require.NotEmpty(f, cookies)

	for _, seed := range []string{
		`{"changes":[]}`,
		`{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.postcode","value":"1011 AB","purpose":"service","channel":"web"}}]}`,
		`{"changes":[{"seq":2,"kind":"identifier.linked","identifier":{"kind":"email","value":"grace@example.com"}}]}`,
		`{"changes":[{"seq":3,"kind":"identifier.linked","identifier":{"kind":"phone","value":"+31 20 555 0100"}}]}`,
		`{"changes":[{"seq":4,"kind":"preference.set","key":"language","value":"nl"}]}`,
		`{"changes":[{"seq":5,"kind":"consent.recorded","consent":{"purpose":"marketing","channel":"email","granted":true}}]}`,
		`{"changes":[{"seq":6,"kind":"fact.forgotten","key":"shipping.postcode"}]}`,
		`{"changes":[{"seq":7,"kind":"name.set","name":"Ada"}]}`,
		`{"changes":[{"seq":8,"kind":"signal.recorded","signal":{"kind":"view","key":"sku-1"}}]}`,
		`{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"k","value":"\u00e9\ud83d\ude00"}}],"extra":[1,{"a":null}]}`,
		strings.Repeat("[", 64),
		`{"changes":[{"seq":18446744073709551615,"kind":"x"}]}`,
		`{"base":{"applied":1,"head":"AAAAAAAAAAAAAAAAAAAAAA"},"changes":[{"seq":2,"kind":"preference.set","key":"language","value":"de"}]}`,
		`{"base":{"applied":18446744073709551614},"changes":[{"seq":18446744073709551615,"kind":"profile.named","name":"x"}]}`,
		`{"base":{"head":7},"changes":[]}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/sync", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", sess.CSRF)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		switch {
		case rec.Code == http.StatusOK:
			var res syncAnswer
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res), "%s", rec.Body)
			require.NotContains(t, rec.Body.String(), "Prinsengracht", "another customer's memory was shown")
		case rec.Code >= 400 && rec.Code < 500:
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			var p struct{ Detail, Code string }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), "%s", rec.Body)
			require.NotEmpty(t, p.Detail)
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}

		got, err := s.Export(ctx, grace.Customer)
		require.NoError(t, err)
		got.Exported = graceBefore.Exported
		require.Equal(t, graceBefore, got, "another customer was changed")
	})
}
