package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
)

// agents guards the agent pages: an agent signs in with the shop's agent
// password (printed when the demo starts) and gets a signed cookie for
// agentSession. A customer's session never reaches these pages.
type agents struct {
	password string
	key      []byte // signs the agents' cookies
	now      func() time.Time
	mu       sync.Mutex
	tries    *simplelru.LRU[string, *rate.Limiter] // failed password attempts, per client address
}

const (
	agentCookie  = "shop_agent"
	agentSession = 12 * time.Hour
)

func newAgents(password string, secret []byte) *agents {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("herken demo shop agents"))
	tries, _ := simplelru.NewLRU[string, *rate.Limiter](4096, nil)
	return &agents{password: password, key: m.Sum(nil), now: time.Now, tries: tries}
}

// limiter is the bucket of failed attempts of r's client address: one
// address guessing cannot lock agents at other addresses out.
func (a *agents) limiter(r *http.Request) *rate.Limiter {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.tries.Get(host)
	if !ok {
		l = rate.NewLimiter(1, 5)
		a.tries.Add(host, l)
	}
	return l
}

func (a *agents) sign(expiry int64) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(strconv.FormatInt(expiry, 10)))
	return strconv.FormatInt(expiry, 10) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn reports whether r carries a valid agent cookie.
func (a *agents) signedIn(r *http.Request) bool {
	c, err := r.Cookie(agentCookie)
	if err != nil || len(c.Value) > 128 {
		return false
	}
	exp, _, ok := strings.Cut(c.Value, ".")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || a.now().Unix() >= n {
		return false
	}
	return hmac.Equal([]byte(c.Value), []byte(a.sign(n)))
}

// only lets agents through to h; anyone else is sent to sign in.
func (a *agents) only(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.signedIn(r) {
			http.Redirect(w, r, "/agent/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	}
}

// agentLogin shows the agents' sign-in form and takes it.
func (s *shop) agentLogin(w http.ResponseWriter, r *http.Request) {
	a := s.agents
	if r.Method != http.MethodPost {
		s.render(w, r, "agent-login", nil)
		return
	}
	tries := a.limiter(r)
	if tries.Tokens() < 1 {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		s.render(w, r, "agent-login", map[string]string{"Error": "too many attempts; wait a moment"})
		return
	}
	given := r.FormValue("password")
	if subtle.ConstantTimeCompare([]byte(given), []byte(a.password)) != 1 {
		tries.Allow() // a failure takes from the bucket
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, "agent-login", map[string]string{"Error": "wrong password"})
		return
	}
	exp := a.now().Add(agentSession).Unix()
	http.SetCookie(w, &http.Cookie{Name: agentCookie, Value: a.sign(exp), Path: "/agent", MaxAge: int(agentSession / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/agent", http.StatusSeeOther)
}

func (s *shop) agentLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: agentCookie, Path: "/agent", MaxAge: -1})
	http.Redirect(w, r, "/agent/login", http.StatusSeeOther)
}

// agentView is the agent page: the server-side brief, internal flags included.
type agentView struct {
	Query     string
	Error     string
	Brief     *memory.Brief
	Influence *memory.Influence
	Customer  *memory.Customer
}

// agent shows a customer found by email, phone or account, or, without a
// query, the customer of this browser.
func (s *shop) agent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := agentView{Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	var id memory.CustomerID
	var err error
	switch {
	case v.Query == "":
		id, err = s.plugin.Customer(r)
	case strings.Contains(v.Query, "@"):
		id, err = s.store.Lookup(ctx, memory.Email(v.Query))
	case strings.HasPrefix(v.Query, "+") || strings.HasPrefix(v.Query, "0"):
		id, err = s.store.Lookup(ctx, memory.Phone(v.Query))
	default:
		id, err = s.store.Lookup(ctx, memory.Account(v.Query))
	}
	if err == nil {
		var b memory.Brief
		if b, err = s.store.Brief(ctx, id, memory.BriefQuery{}); err == nil {
			v.Brief = &b
			if in, err := s.store.Influence(ctx, id); err == nil {
				v.Influence = &in
			}
			v.Customer, err = s.store.Customer(ctx, id)
		}
	}
	switch {
	case errors.Is(err, memory.ErrNotFound):
		v.Error = "no customer found"
	case err != nil:
		v.Error = err.Error()
	}
	s.render(w, r, "agent", v)
}
