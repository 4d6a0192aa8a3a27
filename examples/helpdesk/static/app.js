"use strict";
// The help desk console: plain DOM. The inbox is the store's work queue
// (/api/inbox), the feed's earlier lines are rebuilt by the store
// (/api/activity) and new ones arrive live (/api/feed): a reload or a
// restart of the desk shows the same.
const $ = (s) => document.querySelector(s);
const $$ = (s) => [...document.querySelectorAll(s)];
let current = "";   // the customer shown
let show = "all";   // the inbox's filter
let next = "";      // the cursor of the inbox's next page
let picked = false; // the first load of the inbox opened a customer

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") e.className = v;
    else if (k === "on") e.addEventListener("click", v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  return e;
}

// Times, as an agent reads them: "14:03" today, "yesterday 09:12", else
// "2 Dec 14:03"; ago() says "just now", "5 min ago", "3 h ago".
const hm = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dm = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
function when(t) {
  if (!t) return "";
  const d = new Date(t), now = new Date();
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((day(now) - day(d)) / 86400000);
  if (days === 0) return "today " + hm.format(d);
  if (days === 1) return "yesterday " + hm.format(d);
  return dm.format(d) + " " + hm.format(d);
}
function ago(t) {
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return when(t);
}
const timeEl = (t, rel) => el("time", { datetime: t, title: t ? full.format(new Date(t)) : "", text: rel ? ago(t) : when(t) });

async function api(path, body) {
  const r = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON: said below */ }
  if (!r.ok) {
    const err = new Error((data && data.error) || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

// ---- inbox

function inboxItem(e) {
  const issues = e.open_issues || [];
  const top = issues[0];
  const last = e.last_contact || {};
  return el("li", { "data-customer": e.customer, class: e.customer === current ? "selected" : null, tabindex: "0", role: "button" },
    el("div", { class: "line1" },
      el("strong", { class: "who", text: e.label || e.name || "unnamed customer" }),
      e.escalate ? el("span", { class: "pill esc", text: "escalated" }) : null,
      e.at_risk ? el("span", { class: "pill risk", text: "at risk" }) : null),
    el("div", { class: "line2" },
      el("span", { class: "subject", text: top ? top.subject : "no open issue" }),
      issues.length > 1 ? el("span", { class: "count", text: "+" + (issues.length - 1) + " more" }) : null),
    el("div", { class: "line3 hint" },
      last.channel ? el("span", { class: "ch", text: last.channel }) : null,
      last.at ? timeEl(last.at, true) : null));
}

async function loadInbox(more) {
  let page;
  try {
    page = await api("/api/inbox?show=" + encodeURIComponent(show) + (more && next ? "&after=" + encodeURIComponent(next) : ""));
  } catch (e) { $("#inbox-empty").hidden = false; $("#inbox-empty").textContent = "The inbox did not load: " + e.message; return; }
  const entries = (page && page.entries) || [];
  const items = entries.map(inboxItem);
  if (more) $("#inbox").append(...items); else $("#inbox").replaceChildren(...items);
  $("#inbox").dataset.show = show; // what the list shows now
  next = (page && page.next) || "";
  $("#more").hidden = !next;
  const n = $$("#inbox li").length;
  $("#inbox-count").textContent = n ? String(n) + (next ? "+" : "") : "";
  $("#inbox-empty").hidden = n > 0;
  $("#inbox-empty").textContent = show === "all" ? "Nothing waiting. New contacts appear here." : "Nobody here right now.";
  // The first load opens the newest; later loads leave the panel alone
  // (a receipt, or what the agent opened).
  if (!picked && !current && entries.length) showCustomer(entries[0].customer);
  picked = true;
}

$("#inbox").addEventListener("click", (ev) => {
  const li = ev.target.closest("li[data-customer]");
  if (li) showCustomer(li.dataset.customer);
});
$("#inbox").addEventListener("keydown", (ev) => {
  const li = ev.target.closest("li[data-customer]");
  if (li && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); showCustomer(li.dataset.customer); }
});
$("#more").addEventListener("click", () => loadInbox(true));
for (const b of $$("#filters .filter")) {
  b.addEventListener("click", () => {
    show = b.dataset.show;
    for (const o of $$("#filters .filter")) o.classList.toggle("on", o === b);
    loadInbox(false);
  });
}

// A customer who is no longer in memory leaves every list at once, and
// is not asked for again.
const forgotten = new Set();
function dropCustomer(id) {
  forgotten.add(id);
  for (const li of $$(`#inbox li[data-customer="${CSS.escape(id)}"], #feed li[data-customer="${CSS.escape(id)}"]`)) {
    if (li.dataset.kind !== "customer.forgotten") li.remove();
  }
  $("#inbox-empty").hidden = $$("#inbox li").length > 0;
}

// ---- the customer

function showGone(id) {
  dropCustomer(id);
  if (current === id) current = "";
  $("#customer").replaceChildren(el("p", { class: "hint", id: "gone", text: "This customer is no longer in memory: they were forgotten on request." }));
}

async function showCustomer(id) {
  if (forgotten.has(id)) { showGone(id); return; }
  current = id;
  for (const li of $$("#inbox li")) li.classList.toggle("selected", li.dataset.customer === id);
  let v;
  try { v = await api("/api/customers/" + encodeURIComponent(id)); } catch (e) {
    if (e.status === 404) { showGone(id); return; }
    $("#customer").replaceChildren(el("p", { class: "error", text: e.message }));
    return;
  }
  if (current === id) render(v);
}

function render(v) {
  const b = v.brief, c = v.customer;
  const sec = $("#customer");
  sec.dataset.customer = c.id;
  const flag = (id, on, text) => el("span", { id, class: "flag" + (on ? " on" : ""), text });
  const openIssues = b.open_issues || [];
  const merges = (c.merges || []).filter((m) => !m.undone);
  const list = (id, items, none) => el("ul", { id }, ...(items.length ? items : [el("li", { class: "hint", text: none })]));
  sec.replaceChildren(
    el("div", { class: "customer-head" },
      el("h2", { id: "name", text: c.name || b.name || "(no name yet)" }),
      el("div", { class: "hint", text: "customer since " + when(c.created) })),
    el("p", { id: "flags" },
      flag("escalate", b.escalate, b.escalate ? "escalated" : "not escalated"),
      flag("at-risk", b.at_risk, b.at_risk ? "at risk" : "not at risk"),
      flag("do-not-contact", b.do_not_contact, b.do_not_contact ? "do not contact now" + (b.do_not_contact_reason ? ": " + b.do_not_contact_reason : "") : "may be contacted")),
    el("h3", { text: "Open issues" }),
    list("issues", openIssues.map((is) => el("li", { class: "issue", "data-escalated": String(!!is.escalated) },
      el("div", { class: "issue-head" },
        el("strong", { text: is.subject }),
        is.escalated ? el("span", { class: "pill esc", text: "ESCALATED" }) : null),
      el("div", { class: "hint", text: "opened on " + is.channel + " " + when(is.opened) + " · " + is.contacts + (is.contacts === 1 ? " contact" : " contacts") + " · last on " + is.last_channel + " " + when(is.last_contact) }),
      el("div", { class: "actions" },
        el("span", { class: "hint", text: "How did this contact go?" }),
        ...["positive", "neutral", "negative"].map((o) => el("button", { class: "small outcome " + o, text: o, title: "record the outcome of this contact",
          on: () => act("/outcome", { channel: is.last_channel, issue: is.id, outcome: o, summary: "outcome recorded by the agent" }) })),
        el("button", { class: "small resolve", text: "Resolve", on: () => act("/issues/" + is.id + "/resolve", { resolution: "resolved by the agent" }) })))), "none"),
    el("h3", { text: "Across channels" }),
    list("timeline", (c.contacts || []).slice(0, 20).map((ct) => el("li", {},
      el("span", { class: "ch", text: ct.channel }), timeEl(ct.at), " ", ct.summary || "", el("span", { class: "hint", text: " (" + ct.outcome + ")" }))), "no contacts yet"),
    el("div", { class: "cols" },
      el("div", {},
        el("h3", { text: "Who this is" }),
        list("identifiers", (c.identifiers || []).map((i) => el("li", { text: i.kind + ": " + i.value + (i.verified ? " ✓ verified" : " (claimed)") })), "none")),
      el("div", {},
        el("h3", { text: "Do not ask again" }),
        list("facts", (b.facts || []).map((f) => el("li", { text: f.key + ": " + f.value + (f.channel ? " (given on " + f.channel + ")" : "") })), "nothing yet"))),
    el("h3", { text: "Preferences and consent" }),
    el("ul", { id: "preferences" },
      ...(b.preferences || []).map((p) => el("li", { text: p.key + ": " + p.value })),
      ...(c.consents || []).map((k) => el("li", { text: "consent for " + k.purpose + (k.channel ? " on " + k.channel : "") + ": " + (k.granted ? "yes" : "no") + (k.source ? " (" + k.source + ")" : "") })),
      el("li", { text: "marketing contact now: " + (v.may_contact_marketing.allowed ? "allowed" : "no — " + v.may_contact_marketing.explain) })),
    el("h3", { text: "Influence (internal)" }),
    el("p", { id: "influence", text: v.influence ? v.influence.score + " / 5 — " + v.influence.reasons.join("; ") : v.no_profiling }),
    el("h3", { text: "Merges" }),
    list("merges", merges.map((m) => el("li", { "data-from": m.from }, "merged another record " + when(m.at) + " (" + m.reason + ") ",
      el("button", { class: "small", text: "Undo merge", on: () => act("/unmerge", { absorbed: m.from }) }))), "none"),
    el("div", { id: "forget-box", class: "danger-zone" },
      el("button", { id: "forget", class: "danger", text: "Forget this customer…", on: askForget })));
}

async function act(path, body) {
  const id = current;
  try { render(await api("/api/customers/" + encodeURIComponent(id) + path, body)); loadInbox(false); } catch (e) {
    if (e.status === 404) { showCustomer(id); return; }
    $("#customer").prepend(el("p", { class: "error", role: "alert", text: e.message }));
  }
}

function askForget() {
  $("#forget-box").replaceChildren(
    el("p", { text: "This erases everything about this customer, their history and identifiers included. It cannot be undone." }),
    el("div", { class: "actions" },
      el("button", { id: "forget-confirm", class: "danger", text: "Forget for good", on: forget }),
      el("button", { class: "quiet", text: "Cancel", on: () => showCustomer(current) })));
  $("#forget-confirm").focus();
}

// What a receipt counts, in words.
const erasedWords = { customers: ["record", "records"], identifiers: ["identifier", "identifiers"], facts: ["fact", "facts"],
  preferences: ["preference", "preferences"], consents: ["consent", "consents"], signals: ["influence signal", "influence signals"],
  issues: ["issue", "issues"], contacts: ["contact", "contacts"], drafts: ["draft", "drafts"], events: ["history event", "history events"] };

function receiptCard(r) {
  const order = Object.keys(erasedWords);
  const rank = (k) => (order.indexOf(k) < 0 ? order.length : order.indexOf(k));
  const rows = Object.entries(r.erased || {}).filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([k, n]) => el("li", { "data-kind": k }, el("strong", { text: String(n) }), " " + ((erasedWords[k] || [k, k])[n === 1 ? 0 : 1])));
  return el("div", { id: "receipt", class: "receipt", role: "status" },
    el("h2", { text: "Forgotten" }),
    el("p", {}, "Erased on ", el("time", { id: "receipt-at", datetime: r.at, text: full.format(new Date(r.at)) }),
      ". Their keys were destroyed: nothing of theirs opens any more, in the store or in backups."),
    el("h3", { text: "What was erased" }),
    el("ul", { id: "receipt-erased" }, ...(rows.length ? rows : [el("li", { text: "nothing was held" })])),
    el("p", { class: "hint" }, "Receipt ", el("code", { id: "receipt-id", text: r.id }), " — keep it as the record of the request. It holds no personal data."));
}

async function forget() {
  const id = current;
  let r;
  try { r = await api("/api/customers/" + encodeURIComponent(id) + "/forget", {}); } catch (e) {
    $("#forget-box").prepend(el("p", { class: "error", role: "alert", text: e.message }));
    return;
  }
  current = "";
  dropCustomer(id);
  $("#customer").replaceChildren(receiptCard(r));
  loadInbox(false);
}

// ---- the form

$("#contact-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const from = [{ kind: $("#kind").value, value: $("#value").value, verified: $("#verified").checked }];
  if ($("#value2").value.trim()) from.push({ kind: $("#kind2").value, value: $("#value2").value, verified: $("#verified2").checked });
  const button = $("#receive");
  button.disabled = true;
  try {
    const it = await api("/api/contacts", { channel: $("#channel").value, from, subject: $("#subject").value, outcome: $("#outcome").value });
    $("#form-error").textContent = "";
    ev.target.reset();
    $("#value").focus();
    await loadInbox(false);
    await showCustomer(it.customer);
  } catch (e) { $("#form-error").textContent = e.message; } finally { button.disabled = false; }
});

// ---- the feed

const feedKeys = new Set();
function feedLine(f) {
  const key = f.at + "|" + f.kind + "|" + f.customer + "|" + f.text;
  if (feedKeys.has(key)) return null;
  feedKeys.add(key);
  const forgotten = f.kind === "customer.forgotten";
  return el("li", { "data-kind": f.kind, "data-customer": f.customer, class: "kind-" + f.kind.replace(/\W/g, "-") },
    el("div", { class: "hint" }, timeEl(f.at, true)),
    forgotten ? el("span", { text: f.text }) :
      el("a", { href: "#", on: (e) => { e.preventDefault(); showCustomer(f.customer); } },
        el("strong", { class: "who", text: f.name || "unnamed customer" }), " — " + f.text));
}
function feedEmpty() { $("#feed-empty").hidden = $$("#feed li").length > 0; }

async function loadActivity() {
  let items = [];
  try { items = (await api("/api/activity")) || []; } catch (_) { /* the live feed still runs */ }
  $("#feed").append(...items.map(feedLine).filter(Boolean));
  feedEmpty();
}

function startFeed() {
  const feed = new EventSource("/api/feed");
  feed.onmessage = (ev) => {
    const f = JSON.parse(ev.data);
    if (f.kind === "customer.forgotten") {
      if (f.customer === current) showGone(f.customer); else dropCustomer(f.customer);
    }
    const li = feedLine(f);
    if (li) $("#feed").prepend(li);
    while ($$("#feed li").length > 200) $("#feed").lastElementChild.remove();
    feedEmpty();
    loadInbox(false);
    if (current && f.customer === current && f.kind !== "customer.forgotten") showCustomer(current);
  };
}

// Relative times stay true while the page is open all day.
function tick() {
  $("#clock").textContent = hm.format(new Date());
  for (const t of $$("#inbox time, #feed time")) t.textContent = ago(t.getAttribute("datetime"));
}

loadInbox(false);
loadActivity().then(startFeed);
tick();
setInterval(tick, 30000);
setInterval(() => loadInbox(false), 15000);
