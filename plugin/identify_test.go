package plugin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// TestSignInJoinsEveryBrowserToItsCustomer: a customer whose cookies are
// cleared at every visit signs in on one new browser after another, more
// than a customer holds identifiers. Every sign-in makes the browser hers
// (none is left a second record of her), and her "forget me" from the last
// one forgets her: no browser of hers, old or new, gets anything back.
func TestSignInJoinsEveryBrowserToItsCustomer(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf, NewCustomers: -1})
	ctx := context.Background()
	visits := e.store.Limits().Identifiers + 4
	var browsers []*browser
	for i := range visits {
		b := e.browser()
		if i%3 == 0 {
			b.remember("cart.item", "jacket") // before she signs in
		}
		b.signIn("ada")
		browsers = append(browsers, b)
	}
	ada, err := e.store.Lookup(ctx, memory.Account("ada").AsVerified())
	require.NoError(t, err)
	last := browsers[len(browsers)-1]
	id, err := e.h.Customer(cookieRequest(&http.Cookie{Name: "herken_device", Value: cookie(t, last)}))
	require.NoError(t, err)
	require.Equal(t, ada, id, "the newest browser is hers")

	last.post("forget", "", nil, http.StatusOK)
	_, err = e.store.Lookup(ctx, memory.Account("ada").AsVerified())
	require.ErrorIs(t, err, memory.ErrNotFound)
	for i, b := range browsers[:len(browsers)-1] {
		var res syncAnswer
		b.post("sync", `{"changes":[]}`, &res, http.StatusOK)
		require.Empty(t, res.Snapshot.Facts, "browser %d", i)
		require.Empty(t, res.Snapshot.Identifiers, "browser %d", i)
		_, err := e.h.Customer(cookieRequest(&http.Cookie{Name: "herken_device", Value: cookie(t, b)}))
		require.ErrorIs(t, err, memory.ErrNotFound, "browser %d", i)
	}
}
