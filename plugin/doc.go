// Package plugin is herken's browser plugin: the script and wasm module a
// web shop adds with one script tag, and the http.Handler that serves them
// and the sync API, on the shop's own server.
//
// # Adding it to a shop
//
//	store, _ := memory.Open(ctx, memory.DefaultOptions("data"))
//	h, _ := plugin.New(store, plugin.Options{Secret: secret})
//	mux.Handle("/herken/", http.StripPrefix("/herken", h))
//
// and in the page, after its content:
//
//	<script src="/herken/herken.js" defer></script>
//
// Inputs marked data-herken-fact="shipping.postcode" are filled from the
// visitor's memory and remembered on submit when the visitor chose "remember
// my details"; an element marked data-herken-widget becomes the help
// widget. See herken.js for its JavaScript API.
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
// The device gets a random token in an HttpOnly, SameSite=Lax cookie; the
// store keeps only a keyed hash of it. Identifiers typed in the page are
// claims: they are linked to the visitor only when nobody else has them, and
// the answers never show whether they were, neither in their bytes nor in
// their timing (a sync with a claim answers no sooner than
// Options.ClaimFloor). A logged-in customer is proven
// with an identity token the shop's server makes with IdentityToken or
// SignIdentity: HMAC-SHA256 over kind, value, the device and an expiry,
// usable once. The browser only ever receives the customer-facing
// memory.Snapshot. Every request that changes something needs the CSRF token
// the session call returns, in the X-Herken-CSRF header, and passes Go's
// cross-origin protection; CORS is closed unless Options.AllowedOrigins
// names origins. Bodies are limited in size, changes in kind and length, and
// each device in rate. Errors are application/problem+json and change
// nothing.
//
// # Content-Security-Policy
//
// The script uses no eval. Compiling WebAssembly needs
// script-src 'wasm-unsafe-eval' (with 'self' for the scripts), and the
// worker needs worker-src 'self'; connect-src 'self' covers its calls.
package plugin
