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
// # Security
//
// The device gets a random token in an HttpOnly, SameSite=Lax cookie; the
// store keeps only a keyed hash of it. Identifiers typed in the page are
// claims: they are kept with the visitor but recognize nobody (the server
// never finds anyone by what a browser typed), and whether someone else
// holds one shows neither in the answer's bytes nor in its timing (a sync
// with a claim answers, not a byte before, Options.ClaimFloor). A logged-in
// customer is proven with an identity token the shop's server makes with
// IdentityToken or SignIdentity: HMAC-SHA256 over kind, value, the device
// and an expiry, usable once. Proving an account on a browser moves the
// browser to that customer: what it did anonymously follows, and a browser
// that was someone else's moves alone, so that two accounts never become one
// on a shared computer. Logout (POST /logout, herken.logout in the page, or
// Handler.Logout from the shop's own sign-out) detaches the browser, which
// then holds nothing of the customer. The browser only ever receives the
// customer-facing memory.Snapshot. Every request that changes something
// needs the CSRF token the session call returns, in the X-Herken-CSRF
// header, and passes Go's cross-origin protection; CORS is closed unless
// Options.AllowedOrigins names origins. Bodies are limited in size, changes
// in kind and length, and each device in rate. Errors are
// application/problem+json and change nothing.
//
// # Content-Security-Policy
//
// The script uses no eval. Compiling WebAssembly needs
// script-src 'wasm-unsafe-eval' (with 'self' for the scripts), and the
// worker needs worker-src 'self'; connect-src 'self' covers its calls.
package plugin
