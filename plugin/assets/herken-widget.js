// herken's help widget, loaded by herken.js when the page has the widget
// (not data-widget="off"). It uses only window.herken and its internal hooks.
(() => {
  "use strict";
  const herken = window.herken;
  if (!herken || !herken._internal) return;
  const { emit, opt } = herken._internal;

  // The help widget: a fixed button, out of the page's flow; the panel
  // opens on click. Styles live in a shadow root.
  const CSS = ".b{position:fixed;right:16px;bottom:16px;z-index:2147483000;border:0;border-radius:20px;padding:10px 16px;background:#1f5f8b;color:#fff;font:14px system-ui,sans-serif;cursor:pointer}" +
    ".p{position:fixed;right:16px;bottom:64px;z-index:2147483000;width:320px;max-height:70vh;overflow:auto;background:#fff;color:#222;border:1px solid #ccc;border-radius:8px;padding:12px;font:14px system-ui,sans-serif;box-shadow:0 4px 16px #0003}" +
    "h3{margin:0 0 8px;font-size:16px}ul{padding-left:18px;margin:6px 0}textarea{width:100%;box-sizing:border-box}button.l{border:0;background:none;color:#1f5f8b;cursor:pointer;padding:0;text-decoration:underline}";
  function widget() {
    const host = document.createElement("div");
    host.setAttribute("data-herken-widget-host", "");
    const root = host.attachShadow({ mode: "open" });
    try { const s = new CSSStyleSheet(); s.replaceSync(CSS); root.adoptedStyleSheets = [s]; } catch (e) { /* unstyled */ }
    const btn = el("button", { class: "b", text: "Help" });
    const panel = el("div", { class: "p" });
    panel.hidden = true;
    btn.onclick = () => { panel.hidden = !panel.hidden; if (!panel.hidden) render(panel); };
    root.append(panel, btn);
    document.body.append(host);
    herken.on("synced", () => { if (!panel.hidden) render(panel); });
  }
  function el(tag, a = {}, ...kids) {
    const e = document.createElement(tag);
    if (a.class) e.className = a.class;
    if (a.text) e.textContent = a.text;
    if (a.on) e.onclick = a.on;
    e.append(...kids);
    return e;
  }
  const when = (t) => new Date(t).toLocaleString();
  async function render(panel, view) {
    const b = await herken.brief();
    panel.replaceChildren();
    if (view === "memory") return renderMemory(panel);
    const name = b.name || ((b.facts || []).find((f) => f.key === "contact.name") || {}).value;
    panel.append(el("h3", { text: name ? "Welcome back, " + name : "How can we help?" }));
    const issues = b.open_issues || [];
    let pick = "";
    if (issues.length) {
      panel.append(el("div", { text: "Your open questions:" }));
      const ul = el("ul");
      for (const is of issues) {
        const li = el("li", { text: is.subject + " — last contact " + when(is.last_contact) + " by " + is.last_channel + " " });
        li.append(el("button", { class: "l", text: "add to this", on: () => { pick = is.id; area.placeholder = "More about: " + is.subject; area.focus(); } }));
        li.dataset.issue = is.id;
        ul.append(li);
      }
      panel.append(ul);
    }
    const drafts = ((await herken.snapshot()).drafts) || [];
    for (const d of drafts) {
      panel.append(el("button", { class: "l", text: "Continue where you left off (" + d.name + ")", on: () => emit("continue", d) }), el("br"));
    }
    const area = el("textarea", { class: "q" });
    area.rows = 3;
    area.placeholder = "Your question";
    const send = el("button", { text: "Send", on: async () => {
      const text = area.value.trim();
      if (!text) return;
      if (pick) await herken.contact({ issue: pick, summary: text.slice(0, 1000) });
      else await herken.openIssue(text.slice(0, 250));
      area.value = ""; pick = "";
      render(panel);
    } });
    panel.append(area, send, el("br"), el("button", { class: "l", text: "What we remember about you", on: () => render(panel, "memory") }));
  }
  async function renderMemory(panel) {
    const s = await herken.snapshot();
    panel.append(el("h3", { text: "What we remember about you" }));
    const ul = el("ul");
    if (s.name) ul.append(el("li", { text: "Name: " + s.name }));
    for (const i of s.identifiers || []) ul.append(el("li", { text: i.kind + ": " + i.value }));
    for (const f of s.facts || []) ul.append(el("li", { text: f.key + ": " + f.value + " (for " + f.purpose + ")" }));
    for (const p of s.preferences || []) ul.append(el("li", { text: p.key + ": " + p.value }));
    for (const i of s.open_issues || []) ul.append(el("li", { text: "Open question: " + i.subject }));
    if (!ul.children.length) ul.append(el("li", { text: "Nothing." }));
    panel.append(ul,
      el("button", { text: "Export", on: async () => {
        const blob = new Blob([JSON.stringify(await herken.exportData(), null, 2)], { type: "application/json" });
        const a = el("a"); a.href = URL.createObjectURL(blob); a.download = "herken-memory.json"; a.click();
      } }), " ",
      el("button", { text: "Forget me", on: async () => { await herken.forget(); render(panel, "memory"); } }), " ",
      el("button", { class: "l", text: "Back", on: () => render(panel) }));
  }

  widget();
})();
