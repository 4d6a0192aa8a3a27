// The demo shop's own script. The cart is a draft in the customer memory:
// the plugin keeps it in this browser at once and sends it to the server
// when it can (offline, later), so that a visitor who leaves can continue
// where they left off. The draft names the checkout as its page: the
// widget's "Continue" (herken.resume) brings the visitor there, and the
// checkout shows the cart.
const items = { "trail-jacket": "Trail jacket, € 149" };
const note = (text) => { const n = document.querySelector("[data-cart-note]"); if (n) n.textContent = text; };
const offlineNote = "In your cart. You are offline: it is kept in this browser and sent when you are back online.";
let waiting = false; // the cart was saved offline and is not on the server yet

document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("[data-add-to-cart]");
  if (!button || !window.herken) return;
  button.disabled = true;
  try {
    const r = await herken.saveDraft("cart", JSON.stringify({ item: button.dataset.addToCart, added: new Date().toISOString() }), { page: "/checkout" });
    button.textContent = "In your cart";
    waiting = r.pending;
    note(r.pending ? offlineNote : "");
  } catch (e) {
    note("Not added to your cart: " + e.message);
  } finally {
    button.disabled = false;
  }
});
document.addEventListener("herken:status", (ev) => {
  if (waiting && ev.detail.online && ev.detail.pending === 0) { waiting = false; note("In your cart: sent."); }
});

// The checkout shows what the cart draft holds.
async function showCart() {
  const box = document.querySelector("[data-cart]");
  if (!box || !window.herken) return;
  const d = await herken.draft("cart").catch(() => null);
  let cart = null;
  try { cart = d && JSON.parse(d.data); } catch (e) { /* not a cart */ }
  if (!cart || !Object.hasOwn(items, cart.item)) return;
  const h = document.createElement("h2");
  h.textContent = "In your cart";
  const p = document.createElement("p");
  p.textContent = items[cart.item];
  p.dataset.cartItem = cart.item;
  const input = document.createElement("input");
  Object.assign(input, { type: "hidden", name: "item", value: cart.item });
  input.setAttribute("form", "checkout");
  box.replaceChildren(h, p, input);
}
document.addEventListener("herken:ready", showCart);
// A cart this browser did not save (another browser of the customer's)
// comes without its page: the plugin restores it here, and the shop shows
// it where it belongs.
document.addEventListener("herken:resume", (ev) => {
  if (ev.detail.name !== "cart") return;
  if (document.querySelector("[data-cart]")) showCart();
  else location.assign("/checkout");
});
