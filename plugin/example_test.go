package plugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// exampleShop is a shop's server with the plugin mounted under /herken/,
// a page that proves the signed-in customer to the plugin, and a sign-out;
// close it with the returned function.
func exampleShop() (shop *httptest.Server, h *plugin.Handler, closeAll func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "herken-example-")
	if err != nil {
		log.Fatal(err)
	}
	store, err := memory.Open(ctx, memory.InMemoryOptions())
	if err != nil {
		log.Fatal(err)
	}
	secrets, err := plugin.LoadSecrets(filepath.Join(dir, "plugin.secrets"))
	if err != nil {
		log.Fatal(err)
	}
	h, err = plugin.New(store, plugin.Options{Secret: secrets.Secret, PreviousSecrets: secrets.Previous})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", h))
	// The shop's page for a signed-in customer: the token goes on the
	// plugin's script tag.
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		token, err := h.IdentityToken(r, memory.Account("cust-42"))
		if err != nil {
			http.Error(w, "no device cookie yet", http.StatusConflict)
			return
		}
		fmt.Fprintf(w, `<script src="/herken/herken.js" data-identity=%q defer></script>`, token)
	})
	// The shop's sign-out.
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := h.Logout(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	shop = httptest.NewServer(mux)
	return shop, h, func() { shop.Close(); store.Close(); os.RemoveAll(dir) }
}

// exampleBrowser is what the plugin's worker does in a browser: a cookie
// jar, and the CSRF token of its session.
type exampleBrowser struct {
	base string
	c    *http.Client
	csrf string
}

func (b *exampleBrowser) post(path, body string) map[string]any {
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herken-CSRF", b.csrf)
	resp, err := b.c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if csrf, ok := out["csrf"].(string); ok {
		b.csrf = csrf
	}
	return out
}

func newExampleBrowser(base string) *exampleBrowser {
	jar, _ := cookiejar.New(nil)
	b := &exampleBrowser{base: base, c: &http.Client{Jar: jar}}
	b.post("/herken/session", "") // the plugin's first call: the device cookie
	return b
}

// New, and the handler mounted on the shop's server under /herken/.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "herken-example-")
	defer os.RemoveAll(dir)

	store, err := memory.Open(ctx, memory.DefaultOptions(filepath.Join(dir, "memory")))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// The secret signs the plugin's cookies and tokens: the same across
	// restarts, made on first use.
	secrets, err := plugin.LoadSecrets(filepath.Join(dir, "plugin.secrets"))
	if err != nil {
		log.Fatal(err)
	}
	h, err := plugin.New(store, plugin.Options{Secret: secrets.Secret, PreviousSecrets: secrets.Previous})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", h))

	// The page's <script src="/herken/herken.js" defer></script>:
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/herken/herken.js", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output: 200 text/javascript; charset=utf-8
}

// IdentityToken proves a signed-in customer to the plugin: the shop's page
// carries the token on the script tag, and the plugin sends it to the
// handler as it starts (herken.identify does the same for a page that
// learns of the sign-in later). The browser is then that customer's.
func ExampleHandler_IdentityToken() {
	shop, h, closeAll := exampleShop()
	defer closeAll()
	browser := newExampleBrowser(shop.URL)

	// The shop renders the signed-in customer's page.
	resp, err := browser.c.Get(shop.URL + "/account")
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, token, _ := strings.Cut(string(page), `data-identity="`)
	token, _, _ = strings.Cut(token, `"`)

	// What the plugin does with it.
	answer := browser.post("/herken/identify", `{"token":"`+token+`"}`)
	snapshot := answer["snapshot"].(map[string]any)
	fmt.Println(snapshot["identifiers"])

	// The shop's server finds the customer of the browser.
	req, _ := http.NewRequest("GET", shop.URL, nil)
	for _, c := range browser.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	_, err = h.Customer(req)
	fmt.Println("the browser's customer:", err == nil)
	// Output:
	// [map[kind:account value:cust-42 verified:true]]
	// the browser's customer: true
}

// Logout from the shop's own sign-out: the browser gets a new device
// cookie and is a stranger from then on; the customer keeps their memory.
func ExampleHandler_Logout() {
	shop, h, closeAll := exampleShop()
	defer closeAll()
	browser := newExampleBrowser(shop.URL)
	resp, err := browser.c.Get(shop.URL + "/account")
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, token, _ := strings.Cut(string(page), `data-identity="`)
	token, _, _ = strings.Cut(token, `"`)
	browser.post("/herken/identify", `{"token":"`+token+`"}`)

	resp, err = browser.c.Post(shop.URL+"/logout", "", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", shop.URL, nil)
	for _, c := range browser.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	_, err = h.Customer(req)
	fmt.Println("the browser's customer:", errors.Is(err, memory.ErrNotFound))
	// Output: the browser's customer: true
}

// LoadSecrets keeps the handler's secrets in a file; RotateSecrets and
// DropPreviousSecrets rotate them. Restart the handlers with what they
// return.
func ExampleLoadSecrets() {
	dir, _ := os.MkdirTemp("", "herken-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "plugin.secrets")

	s, err := plugin.LoadSecrets(path) // made on first use
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("current:", len(s.Secret), "bytes, previous:", len(s.Previous))

	// A rotation: the new secret signs; what the old one signed still
	// verifies, as long as it is kept.
	if s, err = plugin.RotateSecrets(path); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after the rotation, previous:", len(s.Previous))

	// Later, the old one is dropped: its devices start as strangers.
	if s, err = plugin.DropPreviousSecrets(path, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Println("after dropping, previous:", len(s.Previous))

	h, err := plugin.New(memoryStoreForExample(), plugin.Options{Secret: s.Secret, PreviousSecrets: s.Previous})
	fmt.Println(h != nil, err)
	// Output:
	// current: 32 bytes, previous: 0
	// after the rotation, previous: 1
	// after dropping, previous: 0
	// true <nil>
}

func memoryStoreForExample() *memory.Store {
	s, err := memory.Open(context.Background(), memory.InMemoryOptions())
	if err != nil {
		log.Fatal(err)
	}
	return s
}
