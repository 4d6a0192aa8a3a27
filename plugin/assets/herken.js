// herken: recognize a returning customer. Add after the page's content:
//   <script src="/herken/herken.js" defer></script>
//
// Options on the script tag:
//   data-identity="TOKEN"   proves a logged-in customer (a token from the
//                           shop's server, Handler.IdentityToken).
//   data-remember="always"  remember form answers on submit without asking;
//                           by default only when the form's
//                           [data-herken-remember] box is checked.
//   data-widget="off"       no help widget (herken-widget.js is not loaded).
//   data-strings="ID"       the id of a <script type="application/json">
//                           element with the shop's own strings for the
//                           widget (see plugin/README.md, Languages).
//   lang="nl"               the widget's language, over <html lang>.
//
// On any element: data-herken-widget hosts the widget's panel inline in
// the page, always open, instead of the floating Help button.
//
// Attributes on the page's forms:
//   data-herken-fact="KEY"        on an input, select or textarea: the field
//                                 is filled from the fact KEY (lowercase,
//                                 dotted: "shipping.postcode") and its state
//                                 is remembered as KEY on submit. Controls
//                                 that share a KEY are one field: a radio
//                                 group, or a set of checkboxes.
//   data-herken-identifier="KIND" on an input: its value is also given as a
//                                 claim of that kind ("email", "phone").
//   data-herken-remember          on a checkbox in the form: remember the
//                                 form's answers only when it is checked.
//   data-herken-label="TEXT"      the field's label as the customer sees it
//                                 in "what we remember"; without it, the
//                                 field's <label for=…>, the <label> around
//                                 it, its aria-label or aria-labelledby (for
//                                 a group, its <fieldset>'s <legend>).
//   data-herken-draft="NAME"      on a form: work in progress. Its named
//                                 fields are saved as the draft NAME as the
//                                 customer types, with this page, and put
//                                 back when the page opens again (or
//                                 herken.resume(NAME) brings the customer
//                                 here); sending the form ends the draft.
//   data-herken-ends="NAME …"     on a form: sending it ends these drafts
//                                 (the checkout ends the cart).
//
// How a control's state becomes a fact value (facts are strings) and back:
//   text, email, tel, url, search, number, date, time, month, week,
//   datetime-local, textarea: the value, trimmed; an empty field is not
//   remembered. A value the control cannot hold (a date that is not one) is
//   not filled.
//   select: the selected option's value; filled only with the value of one
//   of its options.
//   select multiple, and a set of checkboxes sharing a key: a JSON array of
//   the chosen options' (checkboxes') values, in the page's order, such as
//   ["sat","sun"]; [] when none is chosen.
//   one checkbox: "yes" when checked, "no" when not (any other value is not
//   filled: it is not known which state it meant).
//   radio group: the checked radio's value; none checked is not remembered.
//   Passwords, files and hidden inputs are never read.
// Filling never changes what the customer changed on this visit (every
// input or change event on a control marks it theirs) nor a control whose
// state is neither the page's default (its value, selected and checked
// attributes) nor what the plugin filled (as the browser's own restore
// leaves it). A filled control gets data-herken-filled, and the plugin
// sends it input and change events.
//
// The JavaScript API, window.herken; every call answers a promise:
//   ready                       resolves once the plugin has started.
//   brief(), snapshot(), prefill(keys)
//                               the visitor's brief, customer-facing memory
//                               ({…, labels: {KEY: "label text"}}: the labels
//                               of remembered fields, kept in this browser
//                               only, at most 256 of 120 characters;
//                               drafts: [{name, size, saved, page, pending}],
//                               page where this browser knows it, pending
//                               while the server has not got it), and the
//                               values of the named facts.
//   remember([{key, value, label?}])
//                               keeps answers; label is kept in this browser
//                               only and never sent to the server.
//   recognize(ids), consent(c), openIssue(subject), contact(c)
//                               local changes, kept in the browser and sent
//                               when the network allows: they resolve even
//                               when offline.
//   saveDraft(name, data, {page?})
//                               keeps work in progress (data: a string) in
//                               this browser at once and sends it to the
//                               server; resolves to {saved: true, pending}
//                               once the server has it or within 5 s
//                               (pending: not on the server yet, as
//                               offline). page, a path or URL of this site
//                               (default: this page), is where resume leads.
//                               Rejects, keeping nothing, with code
//                               bad_name, bad_data, too_large (over 256 KiB),
//                               bad_page (not this site's) or too_many (16
//                               drafts wait to be sent already).
//   draft(name)                 {name, data, saved, page} or null.
//   endDraft(name)              ends a draft (the work is done): gone here
//                               at once, from the server when it can be
//                               reached.
//   resume(name)                brings the customer back to the page the
//                               draft came from (same origin only, never a
//                               javascript: URL), which restores it: its
//                               draft forms are filled and it hears
//                               herken:resume {name, data}. Rejects (code
//                               "bad_page") for a page of another origin;
//                               for a draft whose page this browser does not
//                               know (saved in another), restores it here
//                               (herken:resume) and resolves to false; false
//                               too when there is no such draft.
//   sync()                      sends what is pending; resolves to true when
//                               the server has all of it, false when not
//                               (offline): it does not reject.
//   status()                    {online: bool, pending: number}: whether the
//                               server is reachable, and the changes and
//                               drafts not on it yet.
//   identify(token)             proves a signed-in customer; the brief.
//   exportData()                the customer's access request: the file
//                               POST /export answers, as an object.
//   forget()                    erases the customer here and on the server:
//                               {forgotten: true, receipt} (receipt null
//                               when the server held nothing).
//   logout()                    detaches this browser from the customer.
//                               These four need the server.
//   on(name, fn)                as the page's herken:NAME events.
// Events, on document as herken:NAME (detail) and through herken.on:
//   ready (brief), brief, prefilled (values), synced, dropped ({seq, reason}
//   or {draft, reason}), forgotten ({forgotten, receipt}), loggedout, status ({online, pending},
//   whenever either changes), resume ({name, data}).
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
  const RESUME = "herken:resume"; // sessionStorage: the draft a resume came for

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
    status: after("status"),
    draft: after("draft"),
    saveDraft: (name, data, o) => ready.then(() => rpc("saveDraft", { name, data, page: pageOf(o && o.page) })),
    resume,
    endDraft: (name) => endDraft(name),
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

  // sameOrigin answers the URL p names, resolved against this page, when it
  // is a page of this origin over http(s); else null.
  function sameOrigin(p) {
    if (typeof p !== "string" || p === "") return null;
    let u;
    try { u = new URL(p, location.href); } catch (e) { return null; }
    return u.origin === location.origin && (u.protocol === "https:" || u.protocol === "http:") ? u : null;
  }
  // pageOf is the page a draft is saved with: p (this origin only; the
  // worker refuses the rest) or this page, as path, query and fragment.
  function pageOf(p) {
    if (p === undefined || p === null) return location.pathname + location.search;
    const u = sameOrigin(p);
    return u ? u.pathname + u.search + u.hash : String(p);
  }

  async function resume(name) {
    await ready;
    const d = await rpc("draft", name);
    if (!d) return false;
    if (!d.page) { restoreDraft(name, d); return false; }
    const u = sameOrigin(d.page);
    if (!u) throw Object.assign(new Error("herken: draft " + JSON.stringify(name) + " names no page of this site"), { code: "bad_page" });
    try { sessionStorage.setItem(RESUME, name); } catch (e) { /* no storage: the page still restores its draft forms */ }
    if (u.pathname + u.search === location.pathname + location.search) {
      try { sessionStorage.removeItem(RESUME); } catch (e) { /* none */ }
      if (u.hash !== location.hash) location.hash = u.hash;
      restoreDraft(name, d);
    } else {
      location.assign(u.href);
    }
    return true;
  }

  // Fields. The customer's own changes on this visit: every input or change
  // event on a control marks it, from the moment this script runs (before
  // the plugin starts), except the ones filling sends.
  const touched = new WeakSet();
  const filled = new WeakMap(); // control -> the fact value the plugin put in its field
  let filling = false;
  const mark = (ev) => { if (!filling && ev.target instanceof Element) touched.add(ev.target); };
  document.addEventListener("input", mark, true);
  document.addEventListener("change", mark, true);

  const NEVER = new Set(["password", "file", "hidden", "submit", "button", "reset", "image"]);
  const control = (c) => c instanceof HTMLSelectElement || c instanceof HTMLTextAreaElement ||
    (c instanceof HTMLInputElement && !NEVER.has(c.type));
  // group gathers the controls of root that attr names, by that name: each
  // group is one field, of the first control's kind.
  function group(root, attr) {
    const by = new Map();
    for (const c of root.querySelectorAll("[" + attr + "]")) {
      if (!control(c) || c.disabled) continue;
      const k = c.getAttribute(attr);
      if (!by.has(k)) by.set(k, []);
      by.get(k).push(c);
    }
    for (const [k, cs] of by) {
      const kind = kindOf(cs);
      by.set(k, cs.filter((c) => kindOf([c]) === kind || kind === "set" && c.type === "checkbox"));
    }
    return by;
  }
  function kindOf(cs) {
    const c = cs[0];
    if (c.type === "radio") return "radio";
    if (c.type === "checkbox") return cs.length > 1 ? "set" : "check";
    if (c instanceof HTMLSelectElement) return c.multiple ? "multi" : "select";
    return "text";
  }
  function list(v) {
    try { const a = JSON.parse(v); return Array.isArray(a) && a.every((s) => typeof s === "string") ? a : null; } catch (e) { return null; }
  }
  // stateOf answers a field's state as a fact value, or null for nothing
  // to remember.
  function stateOf(cs) {
    const c = cs[0];
    switch (kindOf(cs)) {
      case "radio": { const on = cs.find((r) => r.checked); return on ? on.value : null; }
      case "set": return JSON.stringify(cs.filter((b) => b.checked).map((b) => b.value));
      case "check": return c.checked ? "yes" : "no";
      case "multi": return JSON.stringify([...c.selectedOptions].map((o) => o.value));
      case "select": return c.selectedIndex < 0 ? null : c.value;
      default: { const v = c.value.trim(); return v === "" ? null : v; }
    }
  }
  // put sets a field to the fact value v, and answers whether it could.
  function put(cs, v) {
    const c = cs[0];
    switch (kindOf(cs)) {
      case "radio": {
        const on = cs.find((r) => r.value === v);
        if (!on) return false;
        on.checked = true;
        return true;
      }
      case "set": {
        const a = list(v);
        if (!a) return false;
        for (const b of cs) b.checked = a.includes(b.value);
        return true;
      }
      case "check":
        if (v !== "yes" && v !== "no") return false;
        c.checked = v === "yes";
        return true;
      case "multi": {
        const a = list(v);
        if (!a) return false;
        for (const o of c.options) o.selected = a.includes(o.value);
        return true;
      }
      case "select":
        if (![...c.options].some((o) => o.value === v)) return false;
        c.value = v;
        return true;
      default: {
        const was = c.value;
        c.value = v;
        if (c.value !== v) { c.value = was; return false; } // not a value this control holds
        return true;
      }
    }
  }
  function atDefault(cs) {
    return cs.every((c) => {
      if (c instanceof HTMLSelectElement) return [...c.options].every((o) => o.selected === o.defaultSelected) ||
        !c.multiple && c.selectedIndex === Math.max(0, [...c.options].findLastIndex((o) => o.defaultSelected));
      if (c.type === "checkbox" || c.type === "radio") return c.checked === c.defaultChecked;
      return c.value === c.defaultValue;
    });
  }
  function reset(cs) {
    for (const c of cs) {
      if (c instanceof HTMLSelectElement) for (const o of c.options) o.selected = o.defaultSelected;
      else if (c.type === "checkbox" || c.type === "radio") c.checked = c.defaultChecked;
      else c.value = c.defaultValue;
    }
  }
  // mayFill: the customer has not changed the field on this visit, and it
  // shows the page's default or what the plugin put there.
  const mayFill = (cs) => !cs.some((c) => touched.has(c)) &&
    (atDefault(cs) || filled.has(cs[0]) && filled.get(cs[0]) === stateOf(cs));
  function tell(cs) {
    filling = true;
    try {
      for (const c of cs) { c.dispatchEvent(new Event("input", { bubbles: true })); c.dispatchEvent(new Event("change", { bubbles: true })); }
    } finally { filling = false; }
  }
  // setField fills a field with v, or (v empty) takes back what the plugin
  // filled; answers whether it changed the field.
  function setField(cs, v) {
    if (!mayFill(cs)) return false;
    if (!v) {
      if (!filled.has(cs[0])) return false;
      reset(cs);
      for (const c of cs) { filled.delete(c); delete c.dataset.herkenFilled; }
    } else {
      if (!put(cs, v)) return false;
      for (const c of cs) { filled.set(c, stateOf(cs)); c.dataset.herkenFilled = "1"; }
    }
    tell(cs);
    return true;
  }

  // labelOf is the field's label as the customer reads it, or "".
  function text(e, skipControls) {
    if (!e) return "";
    const copy = e.cloneNode(true);
    if (skipControls) copy.querySelectorAll("input,select,textarea,button").forEach((x) => x.remove());
    return copy.textContent;
  }
  function aria(e) {
    if (!e) return "";
    if (e.getAttribute("aria-label")) return e.getAttribute("aria-label");
    const ids = (e.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    return ids.map((id) => text(document.getElementById(id), false)).join(" ");
  }
  function labelOf(cs) {
    const c = cs[0];
    const own = cs.map((x) => x.dataset.herkenLabel).find((l) => l);
    let l = own || "";
    if (!l && (cs.length > 1 || c.type === "radio")) {
      const fs = c.closest("fieldset");
      if (fs && fs.querySelector("legend")) l = text(fs.querySelector("legend"), true);
      if (!l) l = aria(c.closest("[role=radiogroup],[role=group],fieldset"));
    }
    if (!l && c.type !== "radio" && cs.length === 1) {
      const ls = [...(c.labels || [])];
      const lf = ls.find((x) => c.id && x.htmlFor === c.id) || ls[0];
      l = text(lf, true) || aria(c);
    }
    return l.replace(/\s+/g, " ").trim().slice(0, 120);
  }

  // Forms: fields marked data-herken-fact are filled and, on submit,
  // remembered.
  async function fill() {
    const fields = group(document, "data-herken-fact");
    if (!fields.size) return;
    const values = await herken.prefill([...fields.keys()]);
    for (const [k, cs] of fields) setField(cs, values[k]);
    emit("prefilled", values);
  }
  function watchForms() {
    document.addEventListener("submit", (ev) => {
      const form = ev.target;
      if (form.dataset.herkenSent) return;
      const work = [];
      const ends = (form.dataset.herkenEnds || "").split(/\s+/).filter(Boolean);
      if (form.dataset.herkenDraft) ends.push(form.dataset.herkenDraft);
      for (const name of ends) work.push(endDraft(name));
      const fields = group(form, "data-herken-fact");
      const box = form.querySelector("[data-herken-remember]");
      if (fields.size && (opt.remember === "always" || box && box.checked)) {
        const facts = [];
        for (const [key, cs] of fields) {
          const value = stateOf(cs);
          if (value !== null) facts.push({ key, value, label: labelOf(cs) });
        }
        const claims = [...form.querySelectorAll("[data-herken-identifier]")].filter((i) => i.value.trim())
          .map((i) => ({ kind: i.dataset.herkenIdentifier, value: i.value.trim() }));
        if (facts.length) work.push(herken.remember(facts));
        if (claims.length) work.push(herken.recognize(claims));
      }
      if (!work.length) return;
      // Keep the answers (and the end of the draft) before the page leaves:
      // hold the submit until the worker has stored them (at most a
      // second), then send the form.
      ev.preventDefault();
      const done = Promise.all(work).catch(() => {});
      Promise.race([done, new Promise((ok) => setTimeout(ok, 1000))]).then(() => {
        form.dataset.herkenSent = "1";
        form.submit();
      });
    }, true);
  }

  // Draft forms: form[data-herken-draft=NAME] keeps its named fields, as
  // {"field name": fact value}, in the draft NAME while the customer types,
  // and gets them back when the page opens.
  const draftForms = () => [...document.querySelectorAll("form[data-herken-draft]")];
  const saving = new WeakMap(); // form -> its pending save's timer
  function draftOf(form) {
    const out = {};
    for (const [k, cs] of group(form, "name")) {
      const v = stateOf(cs);
      if (v !== null) out[k] = v;
    }
    return JSON.stringify(out);
  }
  function saveDraftForm(form) {
    clearTimeout(saving.get(form));
    saving.delete(form);
    return herken.saveDraft(form.dataset.herkenDraft, draftOf(form)).catch((e) => console.warn("herken: draft not kept:", e.message));
  }
  function watchDrafts() {
    const soon = (ev) => {
      const form = ev.target instanceof Element && ev.target.closest("form[data-herken-draft]");
      if (!form || filling) return;
      clearTimeout(saving.get(form));
      saving.set(form, setTimeout(() => saveDraftForm(form), 400));
    };
    document.addEventListener("input", soon);
    document.addEventListener("change", soon);
    // The page is leaving: keep what is typed now.
    addEventListener("pagehide", () => draftForms().filter((f) => saving.has(f)).forEach(saveDraftForm));
  }
  function endDraft(name) {
    for (const form of draftForms().filter((f) => f.dataset.herkenDraft === name)) {
      clearTimeout(saving.get(form));
      saving.delete(form);
    }
    return ready.then(() => rpc("endDraft", name));
  }
  function restoreDraft(name, d) {
    let data = {};
    try { const v = JSON.parse(d.data); if (v && typeof v === "object" && !Array.isArray(v)) data = v; } catch (e) { /* not a form's draft */ }
    for (const form of draftForms().filter((f) => f.dataset.herkenDraft === name)) {
      for (const [k, cs] of group(form, "name")) {
        if (typeof data[k] === "string" && mayFill(cs) && put(cs, data[k])) {
          for (const c of cs) filled.set(c, stateOf(cs));
          tell(cs);
        }
      }
    }
    emit("resume", { name, data: d.data });
  }
  async function restoreDrafts(resumed) {
    const names = new Set(draftForms().map((f) => f.dataset.herkenDraft));
    if (resumed) names.add(resumed);
    for (const name of names) {
      const d = await herken.draft(name).catch(() => null);
      if (d) restoreDraft(name, d);
    }
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
    let resumed = null;
    try { resumed = sessionStorage.getItem(RESUME); sessionStorage.removeItem(RESUME); } catch (e) { /* no storage */ }
    rpc("start", { base, identity: opt.identity || "", online: navigator.onLine }).catch(() => {}).then(async (phases) => {
      // The worker's steps, as marks on the page's timeline.
      for (const [name, at] of Array.isArray(phases) ? phases : []) {
        try { performance.mark("herken:" + name, { startTime: at - performance.timeOrigin }); } catch (e) { /* no User Timing 3 */ }
      }
      performance.mark("herken:started");
      started();
      watchForms();
      watchDrafts();
      await fill().catch(() => {});
      performance.mark("herken:filled");
      await restoreDrafts(resumed);
      if (opt.widget !== "off") loadWidget();
      herken.brief().then((b) => { performance.mark("herken:ready"); emit("ready", b); }, () => {});
    });
    // The worker hears of the network from the page too: a worker's own
    // online events are not sent by every browser.
    addEventListener("online", () => { rpc("network", true).catch(() => {}); });
    addEventListener("offline", () => { rpc("network", false).catch(() => {}); });
  }
  // Start after the page's own content, when the browser is idle.
  const go = () => (window.requestIdleCallback ? requestIdleCallback(start, { timeout: 2000 }) : setTimeout(start, 0));
  document.readyState === "complete" ? go() : addEventListener("load", go, { once: true });
})();
