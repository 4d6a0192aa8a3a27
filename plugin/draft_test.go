package plugin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/herken/herken/plugin"
)

// TestDraftEnds: a draft saved through the handler is deleted by DELETE
// /drafts/NAME (a draft form was sent); a second delete, a name the store
// refuses, and a delete without the CSRF token answer problems and change
// nothing.
func TestDraftEnds(t *testing.T) {
	e := newEnv(t, plugin.Options{})
	b := e.browser()
	del := func(name, csrf string, status int) {
		t.Helper()
		req, _ := http.NewRequest("DELETE", e.srv.URL+"/drafts/"+name, nil)
		if csrf != "" {
			req.Header.Set("X-Herken-CSRF", csrf)
		}
		b.do(req, nil, status)
	}
	b.post("drafts/review", `{"data":"{\"text\":\"warm\"}"}`, nil, http.StatusOK)
	b.post("drafts/cart", `{"data":"x"}`, nil, http.StatusOK)

	del("review", "", http.StatusForbidden)
	del("Review%20Me", b.csrf, http.StatusUnprocessableEntity)
	get := func(name string, status int) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.srv.URL+"/drafts/"+name, nil)
		req.Header.Set("X-Herken-CSRF", b.csrf)
		b.do(req, nil, status)
	}
	get("review", http.StatusOK)

	del("review", b.csrf, http.StatusOK)
	get("review", http.StatusNotFound)
	del("review", b.csrf, http.StatusNotFound)
	get("cart", http.StatusOK)

	// A browser the store does not know has nothing to delete.
	stranger := e.browser()
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/drafts/cart", strings.NewReader(""))
	req.Header.Set("X-Herken-CSRF", stranger.csrf)
	stranger.do(req, nil, http.StatusNotFound)
	get("cart", http.StatusOK)
}
