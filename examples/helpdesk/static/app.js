"use strict";
// The help desk console: plain DOM, data from /api, live feed from /api/feed.
const $ = (s) => document.querySelector(s);
let current = "";

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "on") e.onclick = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids.filter((k) => k !== null && k !== undefined));
  return e;
}
const when = (t) => (t ? new Date(t).toLocaleString() : "");

async function api(path, body) {
  const r = await fetch(path, body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

async function loadInbox() {
  const items = await api("/api/inbox");
  const ul = $("#inbox");
  ul.replaceChildren(...items.map((it) => el("li", { on: () => show(it.customer), "data-customer": it.customer },
    el("span", { class: "ch", text: it.channel }), " ",
    el("strong", { text: it.name || (it.from[0] && it.from[0].value) || "?" }), " — " + it.subject + " ",
    it.new ? el("span", { class: "tag", text: "new" }) : null,
    it.escalated ? el("span", { class: "esc", text: "escalated" }) : null,
    it.merged && it.merged.length ? el("span", { class: "tag", text: "merged" }) : null)));
  if (!current && items.length) show(items[0].customer);
}

async function show(id) {
  current = id;
  let v;
  try { v = await api("/api/customers/" + encodeURIComponent(id)); } catch (e) {
    $("#customer").replaceChildren(el("p", { class: "error", text: e.message }));
    return;
  }
  render(v);
}

function render(v) {
  const b = v.brief, c = v.customer;
  const sec = $("#customer");
  sec.dataset.customer = c.id;
  const flag = (id, on, text) => el("span", { id, class: "flag" + (on ? " on" : ""), text });
  const openIssues = b.open_issues || [];
  const merges = (c.merges || []).filter((m) => !m.undone);
  sec.replaceChildren(
    el("h2", { id: "name", text: c.name || "(no name yet)" }),
    el("div", { class: "hint", text: "customer " + c.id + " since " + when(c.created) }),
    el("p", { id: "flags" },
      flag("escalate", b.escalate, "escalate: " + b.escalate),
      flag("at-risk", b.at_risk, "at risk: " + b.at_risk),
      flag("do-not-contact", b.do_not_contact, "do not contact now: " + b.do_not_contact + (b.do_not_contact_reason ? " (" + b.do_not_contact_reason + ")" : ""))),
    el("h3", { text: "Who this is" }),
    el("ul", { id: "identifiers" }, ...(c.identifiers || []).map((i) => el("li", { text: i.kind + ": " + i.value + (i.verified ? " ✓ verified" : " (claimed)") }))),
    el("h3", { text: "Open issues" }),
    el("ul", { id: "issues" }, ...(openIssues.length ? openIssues.map((is) => el("li", { "data-escalated": String(!!is.escalated) },
      is.subject + " — opened on " + is.channel + " " + when(is.opened) + ", " + is.contacts + " contacts, last on " + is.last_channel + " ",
      is.escalated ? el("span", { class: "esc", text: "ESCALATED " }) : null,
      el("button", { class: "small", text: "Resolve", on: () => act("/issues/" + is.id + "/resolve", { resolution: "resolved by the agent" }) }), " ",
      ...["positive", "neutral", "negative"].map((o) => el("button", { class: "small", text: o, title: "record the outcome of this contact",
        on: () => act("/outcome", { channel: is.last_channel, issue: is.id, outcome: o, summary: "outcome recorded by the agent" }) })))) : [el("li", { text: "none" })])),
    el("h3", { text: "Across channels" }),
    el("ul", { id: "timeline" }, ...(c.contacts || []).slice(0, 20).map((ct) => el("li", {},
      el("span", { class: "ch", text: ct.channel }), " " + when(ct.at) + " " + (ct.summary || "") + " (" + ct.outcome + ")"))),
    el("h3", { text: "Do not ask again" }),
    el("ul", { id: "facts" }, ...(b.facts && b.facts.length ? b.facts.map((f) => el("li", { text: f.key + ": " + f.value + (f.channel ? " (given on " + f.channel + ")" : "") })) : [el("li", { text: "nothing yet" })])),
    el("h3", { text: "Preferences and consent" }),
    el("ul", { id: "preferences" },
      ...(b.preferences || []).map((p) => el("li", { text: p.key + ": " + p.value })),
      ...(c.consents || []).map((k) => el("li", { text: "consent for " + k.purpose + (k.channel ? " on " + k.channel : "") + ": " + (k.granted ? "yes" : "no") + (k.source ? " (" + k.source + ")" : "") })),
      el("li", { text: "marketing contact now: " + (v.may_contact_marketing.allowed ? "allowed" : "no — " + v.may_contact_marketing.explain) })),
    el("h3", { text: "Influence (internal)" }),
    el("p", { id: "influence", text: v.influence ? v.influence.score + " / 5 — " + v.influence.reasons.join("; ") : v.no_profiling }),
    el("h3", { text: "Merges" }),
    el("ul", { id: "merges" }, ...(merges.length ? merges.map((m) => el("li", { "data-from": m.from }, "merged " + m.from + " " + when(m.at) + " (" + m.reason + ") ",
      el("button", { class: "small", text: "Undo merge", on: () => act("/unmerge", { absorbed: m.from }) }))) : [el("li", { text: "none" })])),
    el("p", {}, el("button", { class: "danger", text: "Forget this customer", on: forget })));
}

async function act(path, body) {
  try { render(await api("/api/customers/" + encodeURIComponent(current) + path, body)); loadInbox(); } catch (e) { alert(e.message); }
}

async function forget() {
  if (!confirm("Forget everything about this customer? This cannot be undone.")) return;
  const r = await api("/api/customers/" + encodeURIComponent(current) + "/forget", {});
  $("#customer").replaceChildren(el("p", { id: "forgotten", text: "Forgotten. Receipt " + r.id + ": " + JSON.stringify(r.erased) }));
  loadInbox();
}

$("#contact-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const from = [{ kind: $("#kind").value, value: $("#value").value, verified: $("#verified").checked }];
  if ($("#value2").value.trim()) from.push({ kind: $("#kind2").value, value: $("#value2").value, verified: $("#verified2").checked });
  try {
    const it = await api("/api/contacts", { channel: $("#channel").value, from, subject: $("#subject").value, outcome: $("#outcome").value });
    $("#form-error").textContent = "";
    await loadInbox();
    await show(it.customer);
  } catch (e) { $("#form-error").textContent = e.message; }
});

const feed = new EventSource("/api/feed");
feed.onmessage = (ev) => {
  const f = JSON.parse(ev.data);
  $("#feed").prepend(el("li", { "data-kind": f.kind },
    el("div", { class: "hint", text: when(f.at) }),
    el("a", { href: "#", text: f.text, on: (e) => { e.preventDefault(); show(f.customer); } })));
  loadInbox();
  if (f.customer === current) show(current);
};
loadInbox();
setInterval(loadInbox, 5000);
