// herken: recognize a returning customer. Add after the page's content:
//   <script src="/herken/herken.js" defer></script>
// Options on the tag: data-identity="TOKEN" (from the shop's server for a
// logged-in customer), data-remember="always" (remember form answers without
// asking; by default only when a [data-herken-remember] box is checked),
// data-widget="off" (no help button).
(() => {
  "use strict";
  const tag = document.currentScript;
  const base = new URL(".", tag ? tag.src : location.href).href;
  const opt = (tag && tag.dataset) || {};
  let worker, seq = 0;
  const waiting = new Map();
  const listeners = {};

  function rpc(op, arg) {
    return new Promise((ok, fail) => {
      const id = ++seq;
      waiting.set(id, { ok, fail });
      worker.postMessage({ id, op, arg });
    });
  }
  function emit(name, detail) {
    (listeners[name] || []).forEach((fn) => { try { fn(detail); } catch (e) { console.error(e); } });
    document.dispatchEvent(new CustomEvent("herken:" + name, { detail }));
  }

  let started;
  const ready = new Promise((ok) => { started = ok; });
  const after = (op) => (arg) => ready.then(() => rpc(op, arg));

  // The JavaScript API, for shops that build their own UI.
  const herken = {
    ready,
    brief: after("brief"),
    prefill: after("prefill"),
    snapshot: after("snapshot"),
    recognize: after("recognize"),
    openIssue: (subject) => ready.then(() => rpc("openIssue", { subject, channel: "chat" })),
    contact: (c) => ready.then(() => rpc("contact", Object.assign({ channel: "chat" }, c))),
    consent: after("consent"),
    sync: after("sync"),
    draft: after("draft"),
    saveDraft: (name, data) => ready.then(() => rpc("saveDraft", { name, data })),
    remember: (facts) => ready.then(() => rpc("remember", facts.map((f) => Object.assign({ channel: "web" }, f)))),
    identify: (token) => ready.then(() => rpc("identify", token)).then((b) => (emit("brief", b), b)),
    exportData: after("exportData"),
    // forget resolves to the server's answer: {forgotten, receipt} (the
    // receipt is absent when the server held nothing of the visitor).
    forget: () => ready.then(() => rpc("forget")).then((r) => { emit("forgotten", r); fill(); return r; }),
    // logout: the customer signs out on this browser, which then holds
    // nothing of them (a shop that signs out on its server calls the
    // handler's Logout instead; the plugin notices on the next page).
    logout: () => ready.then(() => rpc("logout")).then(() => { emit("loggedout"); fill(); }),
    on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); },
  };
  window.herken = herken;

  // Forms: inputs marked data-herken-fact are filled and, on submit,
  // remembered.
  async function fill() {
    const inputs = [...document.querySelectorAll("[data-herken-fact]")];
    if (!inputs.length) return;
    const values = await herken.prefill(inputs.map((i) => i.dataset.herkenFact));
    for (const i of inputs) {
      const v = values[i.dataset.herkenFact];
      if (i.value === "" || i.dataset.herkenFilled) { i.value = v || ""; if (v) i.dataset.herkenFilled = "1"; }
    }
    emit("prefilled", values);
  }
  function watchForms() {
    document.addEventListener("submit", (ev) => {
      const form = ev.target;
      if (form.dataset.herkenSent) return;
      const inputs = [...form.querySelectorAll("[data-herken-fact]")];
      if (!inputs.length) return;
      const box = form.querySelector("[data-herken-remember]");
      if (opt.remember !== "always" && !(box && box.checked)) return;
      const facts = inputs.filter((i) => i.value.trim() !== "").map((i) => ({ key: i.dataset.herkenFact, value: i.value.trim() }));
      const claims = [...form.querySelectorAll("[data-herken-identifier]")].filter((i) => i.value.trim())
        .map((i) => ({ kind: i.dataset.herkenIdentifier, value: i.value.trim() }));
      // Keep the answers before the page leaves: hold the submit until the
      // worker has stored them (at most a second), then send the form.
      ev.preventDefault();
      const done = Promise.all([
        facts.length && herken.remember(facts),
        claims.length && herken.recognize(claims),
      ]).catch(() => {});
      Promise.race([done, new Promise((ok) => setTimeout(ok, 1000))]).then(() => {
        form.dataset.herkenSent = "1";
        form.submit();
      });
    }, true);
  }

  // The help widget lives in its own script, loaded only where the page
  // has one, after the API is ready (plugin/README.md, "The help widget").
  // It reads, on this tag: lang (its language, over <html lang>) and
  // data-strings="ID" (a <script type="application/json"> element with the
  // shop's own strings); on the page: data-herken-widget (an element that
  // hosts its panel inline, with no floating button) and
  // data-herken-label (a fact's label). forget() resolves to
  // {forgotten, receipt}, which the widget shows.
  function loadWidget() {
    const s = document.createElement("script");
    s.src = base + "herken-widget.js";
    s.async = true;
    document.head.append(s);
  }
  // Hooks for the widget script: the page's events and its forms.
  Object.defineProperty(herken, "_internal", { value: { emit, fill, opt, tag } });

  function start() {
    performance.mark("herken:start");
    worker = new Worker(base + "herken-worker.js");
    worker.onmessage = (ev) => {
      const m = ev.data;
      if (m.event) return emit(m.event, m.detail);
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      m.error !== undefined ? w.fail(Object.assign(new Error(m.error), { code: m.code })) : w.ok(m.ok);
    };
    rpc("start", { base, identity: opt.identity || "" }).catch(() => {}).then(() => {
      started();
      watchForms();
      fill();
      if (opt.widget !== "off") loadWidget();
      herken.brief().then((b) => { performance.mark("herken:ready"); emit("ready", b); }, () => {});
    });
    addEventListener("online", () => herken.sync());
  }
  // Start after the page's own content, when the browser is idle.
  const go = () => (window.requestIdleCallback ? requestIdleCallback(start, { timeout: 2000 }) : setTimeout(start, 0));
  document.readyState === "complete" ? go() : addEventListener("load", go, { once: true });
})();
