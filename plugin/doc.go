// Package plugin is herken's browser plugin: the script and wasm module a
// web shop adds with one script tag, and the http.Handler that serves them
// and the sync API, on the shop's own server.
//
// # Adding it to a shop
//
//	store, _ := memory.Open(ctx, memory.DefaultOptions("data/memory"))
//	secrets, _ := plugin.LoadSecrets("data/plugin.secrets") // made on first use
//	h, _ := plugin.New(store, plugin.Options{Secret: secrets.Secret, PreviousSecrets: secrets.Previous})
//	mux.Handle("/herken/", http.StripPrefix("/herken", h))
//
// and in the page, after its content:
//
//	<script src="/herken/herken.js" defer></script>
//
// Inputs marked data-herken-fact="shipping.postcode" are filled from the
// visitor's memory and remembered on submit when the visitor chose "remember
// my details". Unless the tag says data-widget="off", a Help button opens
// the help widget; an element marked data-herken-widget hosts the widget's
// panel inline in the page instead, with no floating button. The plugin's
// guide, plugin/README.md, documents the attributes, the JavaScript API and
// its events, the widget (what it shows, theming, languages), the export
// and the CSP the page needs.
//
// # Signed-in customers
//
// For a customer signed in to the shop, its server makes an identity token
// with Handler.IdentityToken (or SignIdentity) and hands it to the page in
// one of two ways: on the script tag as data-identity="TOKEN", when the
// server renders the page for the signed-in customer (the plugin proves it
// as it starts, so that the first brief and the prefilled form are
// theirs), or to herken.identify(token), when the page learns of the
// sign-in after it loaded (a sign-in dialog, a single-page app: the page
// fetches a token from its server and passes it on). A token is for the
// browser whose device cookie the request carried, for
// MaxIdentityLifetime, once. The shop's sign-out calls Handler.Logout.
//
// # Secrets
//
// Options.Secret signs the device cookies, the identity tokens and the
// CSRF tokens, and keys the hash of a device the store keeps: it must be
// the same across restarts and on every instance. LoadSecrets keeps it in
// a file, made on first use. To rotate it, RotateSecrets makes a new one
// current and keeps the old one among the previous secrets; restart the
// handlers with both (Options.PreviousSecrets): the new secret signs, and
// devices and tokens of the old one still verify, keeping their memory.
// DropPreviousSecrets forgets the old ones; their devices (every one they
// signed, seen since the rotation or not) then start as
// strangers, and signed-in customers find their memory again when they
// sign in. After a leak, drop the old secret at once: whoever holds it can
// sign identity tokens.
//
// # Sync
//
// The page's worker keeps the visitor's memory in IndexedDB, shared by every
// tab of the origin, and sends the changes made in any of them to POST
// /sync: {"base":{"applied":N,"head":"…"},"changes":[…]}. Changes are
// numbered per device after the base, the store's answer they follow (see
// memory.Store.Sync): the store applies them on that base, knows a batch
// sent again after a lost answer, and refuses with 409 "conflict" changes
// numbered on a base it has moved past, such as another tab's; the answer's
// "applied" and "head" are its base, after which the worker renumbers its
// changes and sends them again. An acknowledged change is never dropped in
// favour of another numbered alike.
//
// Tabs take turns through Web Locks: changing the saved memory (each tab
// reloads it first, so that every change goes into one queue, numbered
// once) and syncing (one tab at a time). The worker sends the queue in
// batches that fit the limits the session answer gives ("limits":
// {"changes":200,"body":65536}), measured as it builds them, and recovers
// from every answer: 409 renumbers; 413 and 422 "too_many" halve the batch;
// 422 naming a change drops that change (the server will never take it);
// 429 waits for Retry-After; 403 "csrf" starts a new session; an error of
// the server or the network keeps the queue and tries again later, waiting
// longer each time (up to 30 seconds) and at once when the browser is back
// online. A change too large for any sync (only where Options.MaxBody is
// set below 32 KiB) is dropped, and the page hears of it (herken:dropped).
//
// # Security
//
// The device gets a token in an HttpOnly, SameSite=Lax cookie: 32 random
// bytes, the time it was made and the handler's MAC of both (nothing a
// device sends may say it happened before it existed, and the store
// refuses times in the future), so that a cookie the handler did not
// make (made up, altered, or signed with a secret it does not hold) is no
// device: it gets a new token and no state, and never a rate bucket of its
// own. The store keeps only a keyed hash of the random part. A device
// whose cookie an earlier release gave out, unsigned, keeps its memory: its
// token is accepted when the store knows the device, and reissued signed.
// Where the page is served over HTTPS (TLS at this server, or
// Options.SecureCookie behind a TLS proxy) the cookie is Secure and named
// with the __Host- prefix, which no other host, subdomains included, can
// set; a request with two device cookies is refused (400 "two_cookies").
//
// Identifiers typed in the page are claims: they are kept with the visitor
// but recognize nobody (the server never finds anyone by what a browser
// typed), and whether someone else holds one shows neither in the answer's
// bytes nor in its timing (a sync with a claim answers, not a byte before,
// Options.ClaimFloor). A logged-in customer is proven with an identity
// token the shop's server makes with IdentityToken or SignIdentity:
// HMAC-SHA256 over kind, value, the device and an expiry, usable once on
// every handler that shares the store (the store keeps their nonces until
// they expire). Proving an account on a browser moves the browser to that
// customer: what it did anonymously follows, and a browser that was
// someone else's moves alone, so that two accounts never become one on a
// shared computer. Logout (POST /logout, herken.logout in the page, or
// Handler.Logout from the shop's own sign-out) detaches the browser, which
// then holds nothing of the customer. The browser only ever holds the
// customer-facing memory.Snapshot; the one answer with more is the
// customer's own access request, POST /export (access.go), which the page
// offers as a file and never keeps. Every request that changes something
// needs the CSRF token the session call returns, in the X-Herken-CSRF
// header, and passes Go's cross-origin protection; CORS is closed unless
// Options.AllowedOrigins names origins. Bodies are limited in size and
// changes in kind and length. Errors are application/problem+json and
// change nothing.
//
// # Limits
//
// Requests are limited in rate per device and per client address (default
// 5 a second with bursts of 20 per device, four times that per address, an
// IPv6 address counting as its /64): a request is refused with 429
// "rate_limited" when either bucket is empty. Each address creates at most
// Options.NewCustomers customers (default 60) in a bucket refilled over an
// hour; past it the write that would create one is answered 429
// "new_customers" and creates nothing. Behind a reverse proxy, name it in
// Options.TrustedProxies: X-Forwarded-For is read only when the peer is a
// trusted proxy, from the right, and the first address that is not one is
// the client's. Without it, every client behind the proxy shares the
// proxy's address bucket; with a proxy named that is not one, clients
// choose their own address.
//
// A device downloads its export (POST /export) twice at once, then once
// every 30 seconds (429 "rate_limited"), on top of these.
//
// The handler's own state is bounded in number and so in bytes: rate
// buckets for at most 32,768 addresses and 32,768 devices, and export
// buckets for 4,096 devices (about 20 MiB full). The store's caches are bounded in bytes too (see
// memory.Options.WithCacheBytes; 100 MiB at most by default). Measured in
// TestBoundedAttackHeap: an attack from one address over loopback, 1,000
// requests with made-up cookies and then 80 new devices each filling a
// customer to the fact limit in 64 KiB syncs, created 60 customers, and
// left the live Go heap at 89 MiB from 88 MiB once the storage engine was
// idle, and the process's resident memory at 0.3 GiB. While it writes,
// the engine's table builders hold 1.2 to 1.9 GiB more of heap, and the
// peak resident memory is 2.9 GiB (the test holds it under 4 GiB): size a
// server that takes writes of customers at the limits for that peak, which
// the engine gives back within about 20 seconds of idling.
//
// # Content-Security-Policy
//
// The script uses no eval. Compiling WebAssembly needs
// script-src 'wasm-unsafe-eval' (with 'self' for the scripts), and the
// worker needs worker-src 'self'; connect-src 'self' covers its calls.
package plugin
