// The demo shop's own script: the cart is a draft in the customer memory,
// so a visitor who leaves can continue where they left off.
document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("[data-add-to-cart]");
  if (!button || !window.herken) return;
  await herken.saveDraft("cart", JSON.stringify({ item: button.dataset.addToCart, added: new Date().toISOString() }));
  await herken.sync();
  button.textContent = "In your cart";
});
document.addEventListener("herken:continue", (ev) => {
  if (ev.detail && ev.detail.name === "cart") location.href = "/checkout";
});
