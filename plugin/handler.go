package plugin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
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

// Options configures a Handler. Only Secret is required.
type Options struct {
	// Secret keys the identity tokens, the CSRF tokens and the hashes of
	// device tokens: at least 32 random bytes, kept on the server, the same
	// across restarts (or every device becomes a stranger).
	Secret []byte
	// AllowedOrigins are the other origins (such as "https://shop.example")
	// whose pages may call the sync API; default none, so CORS stays closed.
	AllowedOrigins []string
	// CookieName is the device cookie's name; default "herken_device".
	CookieName string
	// SecureCookie marks the cookie Secure even without TLS at this server
	// (behind a TLS proxy); with TLS it is always Secure.
	SecureCookie bool
	// MaxBody bounds a request body; default 64 KiB. A sync of one change
	// needs at most 32 KiB (a 4 KiB fact, every character escaped): below
	// that, the largest changes cannot be sent, and the worker drops them.
	MaxBody int64
	// Rate and Burst bound each device's requests; default 5 per second
	// with bursts of 20. Requests without a device are bounded per address.
	Rate  rate.Limit
	Burst int
	// ClaimFloor is the least time a sync that claims an email address or
	// phone number takes to answer, so that its timing does not tell
	// whether someone else holds that identifier (the answer itself never
	// does); default 50ms, negative for none. Claims are rare, typed once
	// by a customer, and answered to the plugin's worker, never a page.
	ClaimFloor time.Duration
	// Logger receives the server errors the answers do not detail; default
	// none.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the plugin: its script, worker and wasm module, and the
// sync API, for one memory.Store. It is safe for concurrent use.
type Handler struct {
	store   *memory.Store
	opts    Options
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	origins map[string]bool
	assets  *assets

	mu       sync.Mutex // guards limiters and used
	limiters *simplelru.LRU[string, *rate.Limiter]
	used     *simplelru.LRU[string, time.Time] // identity token nonces, until expiry
}

// Limits of the sync API.
const (
	maxChanges  = 200 // changes in one sync
	maxDraft    = 256 << 10
	deviceBytes = 32 // random bytes in a device token
	tokenHeader = "X-Herken-CSRF"
)

// New returns a Handler for store.
func New(store *memory.Store, opts Options) (*Handler, error) {
	if len(opts.Secret) < 32 {
		return nil, errors.New("plugin: Options.Secret must hold at least 32 bytes")
	}
	if opts.CookieName == "" {
		opts.CookieName = "herken_device"
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.Rate <= 0 {
		opts.Rate, opts.Burst = 5, 20
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClaimFloor == 0 {
		opts.ClaimFloor = 50 * time.Millisecond
	}
	h := &Handler{store: store, opts: opts, origins: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	for _, o := range opts.AllowedOrigins {
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return nil, errors.New("plugin: allowed origin " + o + ": " + err.Error())
		}
		h.origins[o] = true
	}
	var err error
	if h.limiters, err = simplelru.NewLRU[string, *rate.Limiter](100_000, nil); err != nil {
		return nil, err
	}
	if h.used, err = simplelru.NewLRU[string, time.Time](100_000, nil); err != nil {
		return nil, err
	}
	if h.assets, err = newAssets(); err != nil {
		return nil, err
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /herken.js", h.assets.serve("herken.js"))
	h.mux.HandleFunc("GET /herken-worker.js", h.assets.serve("herken-worker.js"))
	h.mux.HandleFunc("GET /herken.wasm", h.assets.serve("herken.wasm"))
	h.mux.HandleFunc("POST /session", h.api(h.session, false))
	h.mux.HandleFunc("POST /sync", h.api(h.sync, true))
	h.mux.HandleFunc("POST /identify", h.api(h.identify, true))
	h.mux.HandleFunc("POST /export", h.api(h.export, true))
	h.mux.HandleFunc("POST /forget", h.api(h.forget, true))
	h.mux.HandleFunc("POST /drafts/{name}", h.api(h.saveDraft, true))
	h.mux.HandleFunc("GET /drafts/{name}", h.api(h.loadDraft, true))
	return h, nil
}

// ServeHTTP serves the plugin's paths: mount it under a prefix with
// http.StripPrefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cors answers only the allowed origins; never "*".
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" || !h.origins[origin] {
		return
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions {
		hd.Set("Access-Control-Allow-Methods", "GET, POST")
		hd.Set("Access-Control-Allow-Headers", "Content-Type, "+tokenHeader)
		hd.Set("Access-Control-Max-Age", "600")
	}
}

// call is one API request, after the checks every request passes.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	device string // the cookie's token; "" before the first session
	body   []byte
}

// api wraps an API endpoint: cross-origin protection, rate limit, body
// limit, CSRF token (when csrf), and problem answers.
func (h *Handler) api(fn func(c *call) error, csrf bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := h.cop.Check(r); err != nil {
			writeProblem(w, &problem{status: http.StatusForbidden, code: "cross_origin", detail: "cross-origin request refused"})
			return
		}
		c := &call{w: w, r: r, device: h.deviceToken(r)}
		key := "d:" + c.device
		if c.device == "" {
			key = "a:" + clientAddr(r)
		}
		if !h.allow(key) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, &problem{status: http.StatusTooManyRequests, code: "rate_limited", detail: "too many requests from this device; slow down"})
			return
		}
		if csrf && (c.device == "" || !hmac.Equal([]byte(r.Header.Get(tokenHeader)), []byte(h.csrfToken(c.device)))) {
			writeProblem(w, &problem{status: http.StatusForbidden, code: "csrf", detail: "missing or wrong " + tokenHeader + " header; call session first"})
			return
		}
		if r.Method == http.MethodPost {
			if ct := r.Header.Get("Content-Type"); r.ContentLength != 0 && !strings.HasPrefix(ct, "application/json") {
				writeProblem(w, &problem{status: http.StatusUnsupportedMediaType, code: "content_type", detail: "send application/json"})
				return
			}
			limit := h.opts.MaxBody
			if strings.HasPrefix(r.URL.Path, "/drafts/") {
				limit = maxDraft*4/3 + 1024 // base64 in JSON
			}
			body, err := readBody(w, r, limit)
			if err != nil {
				writeProblem(w, &problem{status: http.StatusRequestEntityTooLarge, code: "too_large", detail: "the body is larger than " + itoa(limit) + " bytes"})
				return
			}
			c.body = body
		}
		if err := fn(c); err != nil {
			p := problemOf(err)
			if p.status >= 500 && h.opts.Logger != nil {
				h.opts.Logger.Error("herken plugin", "path", r.URL.Path, "err", err)
			}
			writeProblem(w, p)
		}
	}
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// allow takes one request from key's bucket.
func (h *Handler) allow(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.limiters.Get(key)
	if !ok {
		l = rate.NewLimiter(h.opts.Rate, h.opts.Burst)
		h.limiters.Add(key, l)
	}
	return l.AllowN(h.opts.Now(), 1)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// deviceToken returns the device cookie's token if it is well formed.
func (h *Handler) deviceToken(r *http.Request) string {
	ck, err := r.Cookie(h.opts.CookieName)
	if err != nil {
		return ""
	}
	raw, err := b64.DecodeString(ck.Value)
	if err != nil || len(raw) != deviceBytes {
		return ""
	}
	return ck.Value
}

// newDevice makes a device token and sets its cookie.
func (h *Handler) newDevice(c *call) {
	raw := make([]byte, deviceBytes)
	_, _ = rand.Read(raw)
	c.device = b64.EncodeToString(raw)
	http.SetCookie(c.w, &http.Cookie{
		Name: h.opts.CookieName, Value: c.device, Path: "/", MaxAge: 400 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.r.TLS != nil || h.opts.SecureCookie,
	})
}

// deviceID is the identifier the store keeps for a device token: a keyed
// hash, so that the store never holds what the cookie holds.
func (h *Handler) deviceID(token string) memory.Identifier {
	return memory.Device("d1." + b64.EncodeToString(h.mac("device", token)[:24])).AsVerified()
}

func (h *Handler) csrfToken(device string) string { return b64.EncodeToString(h.mac("csrf", device)) }

func (h *Handler) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, h.opts.Secret)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
