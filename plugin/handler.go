package plugin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin/wire"
)

// Options configures a Handler. Only Secret is required.
type Options struct {
	// Secret keys the device tokens, the identity tokens, the CSRF tokens
	// and the hashes of device tokens: at least 32 random bytes, kept on
	// the server, the same across restarts and on every instance (or every
	// device becomes a stranger). LoadSecrets keeps it in a file, made on
	// first use.
	Secret []byte
	// PreviousSecrets are secrets Secret replaced (see RotateSecrets),
	// newest first, each of at least 32 bytes. Nothing is signed with them
	// any more, but what they signed still verifies: a device whose token
	// one of them signed keeps its token and its memory, and an identity
	// token or a page's CSRF token signed before the rotation still works.
	// Once one is dropped (DropPreviousSecrets), its devices are strangers:
	// they get a new device and no state, and a customer who signs in again
	// gets their memory back on the new one. Default none.
	PreviousSecrets [][]byte
	// AllowedOrigins are the other origins (such as "https://shop.example")
	// whose pages may call the sync API; default none, so CORS stays closed.
	AllowedOrigins []string
	// CookieName is the device cookie's name; default "herken_device".
	// Where the page is served over HTTPS (the request came over TLS, or
	// SecureCookie is set) the cookie is Secure and named with the
	// __Host- prefix, "__Host-herken_device", which no other host, not
	// even a subdomain, can set; over plain http (development on
	// localhost) it has the name as given. It must not start with "__".
	CookieName string
	// SecureCookie marks the cookie Secure, and names it with the __Host-
	// prefix, even without TLS at this server (behind a TLS proxy); with
	// TLS it is always so.
	SecureCookie bool
	// MaxBody bounds a request body; default 64 KiB. A sync of one change
	// needs at most 32 KiB (a 4 KiB fact, every character escaped): below
	// that, the largest changes cannot be sent, and the worker drops them.
	MaxBody int64
	// Rate and Burst bound each device's requests; default 5 per second
	// with bursts of 20. Only devices whose tokens this handler signed
	// have a bucket: a cookie it did not make is no device.
	Rate  rate.Limit
	Burst int
	// AddressRate and AddressBurst bound the requests from each client
	// address, all its devices and requests without one together (an IPv6
	// address counts as its /64); default four times Rate and Burst. A
	// request is refused when either its device's or its address's bucket
	// is empty.
	AddressRate  rate.Limit
	AddressBurst int
	// NewCustomers bounds the customers that requests from one client
	// address create, in the browser's first writes: a bucket of
	// NewCustomers, refilled over an hour. Past it, a sync or draft that
	// would create one is answered 429 "new_customers", with Retry-After,
	// and creates nothing; the browser keeps its changes and sends them
	// later. Default 60; negative for no bound.
	NewCustomers int
	// TrustedProxies are the reverse proxies in front of this server
	// (such as netip.MustParsePrefix("10.0.0.0/8")). Only when a request's
	// peer is one of them is X-Forwarded-For read, from the right, and the
	// first address in it that is not a trusted proxy taken as the
	// client's; otherwise the peer is the client. Default none: behind a
	// proxy, without this, every client shares the proxy's address bucket.
	TrustedProxies []netip.Prefix
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
	secrets [][]byte // Options.Secret, then Options.PreviousSecrets: the first signs, all verify

	limits *limiter
}

// Limits of the sync API.
const (
	maxChanges  = 200 // changes in one sync
	maxDraft    = 256 << 10
	tokenHeader = "X-Herken-CSRF"
)

// New returns a Handler for store.
func New(store *memory.Store, opts Options) (*Handler, error) {
	if store == nil {
		return nil, errors.New("plugin: no store (memory.Open failed, or its error was not checked)")
	}
	if len(opts.Secret) < minSecret {
		return nil, errors.New("plugin: Options.Secret must hold at least 32 bytes")
	}
	for i, s := range opts.PreviousSecrets {
		if len(s) < minSecret {
			return nil, errors.New("plugin: Options.PreviousSecrets[" + strconv.Itoa(i) + "] must hold at least 32 bytes")
		}
	}
	if len(opts.PreviousSecrets) > maxSecrets-1 {
		return nil, errors.New("plugin: Options.PreviousSecrets holds more than " + strconv.Itoa(maxSecrets-1) + " secrets: drop the oldest")
	}
	if err := wire.CheckLimits(store.Limits()); err != nil {
		return nil, errors.New("plugin: the store's limits are too high for browsers: " + err.Error())
	}
	if opts.CookieName == "" {
		opts.CookieName = "herken_device"
	}
	if strings.HasPrefix(opts.CookieName, "__") {
		return nil, errors.New("plugin: Options.CookieName must not start with \"__\": the handler adds the __Host- prefix where it applies")
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
	if opts.AddressRate <= 0 {
		opts.AddressRate = 4 * opts.Rate
	}
	if opts.AddressBurst <= 0 {
		opts.AddressBurst = 4 * opts.Burst
	}
	if opts.NewCustomers == 0 {
		opts.NewCustomers = 60
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClaimFloor == 0 {
		opts.ClaimFloor = 50 * time.Millisecond
	}
	h := &Handler{store: store, opts: opts, origins: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	h.secrets = append([][]byte{bytes.Clone(opts.Secret)}, cloneSecrets(opts.PreviousSecrets)...)
	for _, o := range opts.AllowedOrigins {
		if err := h.cop.AddTrustedOrigin(o); err != nil {
			return nil, errors.New("plugin: allowed origin " + o + ": " + err.Error())
		}
		h.origins[o] = true
	}
	opts.TrustedProxies = slices.Clone(opts.TrustedProxies)
	for i, p := range opts.TrustedProxies {
		if !p.IsValid() {
			return nil, errors.New("plugin: Options.TrustedProxies holds an invalid prefix")
		}
		opts.TrustedProxies[i] = p.Masked()
	}
	h.opts = opts
	var err error
	var shared *memory.Store
	if h.store.Shared() {
		shared = h.store
	}
	if h.limits, err = newLimiter(&h.opts, shared); err != nil {
		return nil, err
	}
	if h.assets, err = newAssets(); err != nil {
		return nil, err
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /herken.js", h.assets.serve("herken.js"))
	h.mux.HandleFunc("GET /herken-worker.js", h.assets.serve("herken-worker.js"))
	h.mux.HandleFunc("GET /herken-widget.js", h.assets.serve("herken-widget.js"))
	h.mux.HandleFunc("GET /herken.wasm", h.assets.serve("herken.wasm"))
	h.mux.HandleFunc("POST /session", h.api(h.session, false))
	h.mux.HandleFunc("POST /sync", h.api(h.sync, true))
	h.mux.HandleFunc("POST /identify", h.api(h.identify, true))
	h.mux.HandleFunc("POST /export", h.api(h.export, true))
	h.mux.HandleFunc("POST /forget", h.api(h.forget, true))
	h.mux.HandleFunc("POST /logout", h.api(h.logout, true))
	h.mux.HandleFunc("POST /drafts/{name}", h.api(h.saveDraft, true))
	h.mux.HandleFunc("GET /drafts/{name}", h.api(h.loadDraft, true))
	h.mux.HandleFunc("DELETE /drafts/{name}", h.api(h.deleteDraft, true))
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
		hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
		hd.Set("Access-Control-Allow-Headers", "Content-Type, "+tokenHeader)
		hd.Set("Access-Control-Max-Age", "600")
	}
}

// call is one API request, after the checks every request passes.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	client string // the client's address, for its buckets
	device string // the random part of the cookie's token; "" for none
	issued int64  // when the token was made, Unix seconds; 0 when unknown
	key    int    // which secret signed the device's token (see device.key)
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
		c := &call{w: w, r: r, client: h.clientKey(r)}
		if !h.limits.allowAddress(r.Context(), c.client) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, &problem{status: http.StatusTooManyRequests, code: "rate_limited", detail: "too many requests from this address; slow down"})
			return
		}
		d, err := h.readDevice(r)
		if err == nil {
			d, err = h.knownDevice(r.Context(), d)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if d.id != "" && !h.limits.allowDevice(r.Context(), d.id) {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, &problem{status: http.StatusTooManyRequests, code: "rate_limited", detail: "too many requests from this device; slow down"})
			return
		}
		c.device, c.issued, c.key = d.id, d.issued, d.key
		if d.reissue {
			h.setCookie(c)
		}
		if csrf && (c.device == "" || !hmac.Equal([]byte(r.Header.Get(tokenHeader)), []byte(h.csrfToken(c.device, c.key)))) {
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
			h.fail(w, r, err)
		}
	}
}

// fail answers err as a problem, and logs what the answer does not detail.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.status >= 500 && h.opts.Logger != nil {
		h.opts.Logger.Error("herken plugin", "path", r.URL.Path, "err", err)
	}
	writeProblem(w, p)
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

func (h *Handler) csrfToken(device string, key int) string {
	return b64.EncodeToString(h.mac(key, "csrf", device))
}

// mac is the MAC of msg for purpose under the handler's secret number key
// (see Handler.secrets).
func (h *Handler) mac(key int, purpose, msg string) []byte {
	m := hmac.New(sha256.New, h.secrets[key])
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
