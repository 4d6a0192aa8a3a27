package main

import (
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// csp is the shop's Content-Security-Policy: the plugin needs nothing more
// than 'wasm-unsafe-eval' for WebAssembly and its worker from 'self'.
const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

type shop struct {
	store  *memory.Store
	plugin *plugin.Handler
	agents *agents
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/herken/", http.StripPrefix("/herken", s.plugin))
	mux.Handle("GET /static/", http.FileServerFS(staticFS))
	mux.HandleFunc("GET /{$}", s.page("product"))
	mux.HandleFunc("GET /checkout", s.page("checkout"))
	mux.HandleFunc("POST /order", s.order)
	mux.HandleFunc("POST /review", s.review)
	mux.HandleFunc("GET /login", s.page("login"))
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /agent", s.agents.only(s.agent))
	mux.HandleFunc("GET /agent/login", s.agentLogin)
	mux.HandleFunc("POST /agent/login", s.agentLogin)
	mux.HandleFunc("POST /agent/logout", s.agentLogout)
	// The shop's own forms (sign-in, sign-out, the agents') come from its
	// own pages only.
	guarded := http.NewCrossOriginProtection().Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		guarded.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	User     string // the logged-in account, if any
	Identity string // a token proving it to the plugin
	Data     any
}

func (s *shop) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	v := view{User: user(r), Data: data}
	if v.User != "" {
		// Proves the login to the plugin: it links this browser to the
		// customer, so what the visitor gave anonymously joins them.
		if tok, err := s.plugin.IdentityToken(r, loginIdentifier(v.User)); err == nil {
			v.Identity = tok
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, name+".html", v); err != nil {
		http.Error(w, "page failed", http.StatusInternalServerError)
	}
}

func (s *shop) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.render(w, r, name, nil) }
}

// order takes the checkout. The answers themselves reach the customer
// memory through the plugin, which remembers them when the visitor chose so.
func (s *shop) order(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	item := ""
	if r.PostForm.Get("item") == "trail-jacket" {
		item = "Trail jacket"
	}
	s.render(w, r, "thanks", map[string]string{"Name": r.PostForm.Get("name"), "Item": item})
}

// review takes a product review. The demo keeps no reviews: the form is
// there to show a draft form, kept as the visitor types and ended when
// sent.
func (s *shop) review(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	s.render(w, r, "reviewed", nil)
}

// loginIdentifier is what a login proves: the email address a customer
// signs in with, or else the account name. A shop that has verified its
// customers' addresses proves them, so that an agent finds the customer by
// the address, and a customer whose cookies were cleared comes back to
// the same memory on every browser. This demo's sign-in has no password,
// so here it proves whatever is typed: a real shop proves an address only
// after its own login (a password, a link sent to it) has.
func loginIdentifier(login string) memory.Identifier {
	if strings.Contains(login, "@") {
		return memory.Email(login)
	}
	return memory.Account(login)
}

func user(r *http.Request) string {
	c, err := r.Cookie("shop_user")
	if err != nil {
		return ""
	}
	return c.Value
}

// login is the demo's login: any email address or account name, no
// password.
func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.FormValue("account"))
	if _, err := memory.Normalize(loginIdentifier(name), ""); err != nil || len(name) > 64 {
		s.render(w, r, "login", map[string]string{"Error": "choose another account name"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "shop_user", Value: name, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/checkout", http.StatusSeeOther)
}

// logout signs the customer out of the shop and detaches this browser
// from their memory: whoever uses it next is a stranger (the plugin's
// worker drops what it held on the next page).
func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	// The shop's own session ends whatever the plugin answers: a browser
	// with planted device cookies must still sign out.
	http.SetCookie(w, &http.Cookie{Name: "shop_user", Path: "/", MaxAge: -1})
	if err := s.plugin.Logout(w, r); err != nil {
		http.Error(w, "signed out, but this browser may still show your memory: clear this site's cookies", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
