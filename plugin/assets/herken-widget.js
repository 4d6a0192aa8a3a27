// herken's help widget, loaded by herken.js when the page has the widget
// (not data-widget="off"). It uses only window.herken and its internal
// hooks. plugin/README.md ("The help widget") documents what a shop sees:
// the floating button or an inline panel (an element marked
// data-herken-widget), the CSS custom properties it takes, its languages
// and how a shop supplies its own strings.
(() => {
  "use strict";
  const herken = window.herken;
  if (!herken || !herken._internal) return;
  const { tag } = herken._internal;
  const script = tag || document.querySelector("script[src*='herken.js']");

  // Built-in strings, by language. A shop adds or replaces any of them with
  // data-strings (see strings below); {name} marks what is filled in.
  const STRINGS = {
    en: {
      help: "Help", close: "Close help", welcome: "Welcome back, {name}", howCanWeHelp: "How can we help?",
      openQuestions: "Your open questions", lastContact: "last contact {when} by {channel}", addToThis: "add to this",
      addToThisLabel: "Add to: {subject}", moreAbout: "More about: {subject}", yourQuestion: "Your question", send: "Send",
      sent: "Thank you: we have your question.", sentOffline: "Your question is kept in this browser and sent when you are back online.",
      continueDraft: "Continue where you left off ({name})", whatWeRemember: "What we remember about you", back: "Back",
      nothing: "Nothing: we do not remember anything about you.", download: "Download all my data",
      downloaded: "Your data is downloaded as {file}.", downloadFailed: "The download failed: {error}",
      forgetMe: "Forget me", forgetAsk: "Forget everything we remember about you, here and on our server? This cannot be undone.",
      forgetYes: "Yes, forget me", cancel: "Cancel", forgetting: "Forgetting…", forgetFailed: "Nothing was erased: {error}",
      forgotten: "We have forgotten you", erasedAt: "Erased on {when}:", receiptId: "Receipt {id}: keep it as the record of your request.",
      heldNothing: "We held nothing about you. This browser is a stranger to us now.", downloadReceipt: "Download the receipt",
      offline: "You are offline. What you do here is kept in this browser and sent when you are back online.",
      pending: "{n} changes wait to be sent.",
      why: "Why: {purpose}", until: "Kept until {date}.", since: "Since {date}.", saved: "Saved {date}.",
      untilForgotten: "Kept until you ask us to forget it (Forget me).",
      untilChanged: "Kept until you change it or ask us to forget you.",
      untilResolved: "Kept while the question is open; then in your history until you ask us to forget you.",
      untilUsed: "Kept until you finish it or ask us to forget you.",
      verified: "verified", noneChosen: "none chosen", granted: "yes", refused: "no", allChannels: "all channels", onChannel: "by {channel}",
      "section.name": "Your name", "section.identifiers": "How we recognize you", "section.facts": "Answers you gave",
      "section.preferences": "Your preferences", "section.consents": "Your choices about contact",
      "section.open_issues": "Your open questions", "section.drafts": "Work in progress", "section.last_contacts": "Your last contact with us",
      "purpose.name": "to greet you and address your orders", "purpose.identifiers": "to recognize you when you come back",
      "purpose.preferences": "to contact you the way you prefer", "purpose.consents": "to respect what you chose",
      "purpose.open_issues": "to help you without asking again", "purpose.drafts": "so that you can continue where you left off",
      "purpose.last_contacts": "so that we know what you asked us before",
      "purpose.service": "to serve you: orders, delivery and help", "purpose.personalization": "to suit this shop to you",
      "purpose.marketing": "to send you offers", "purpose.profiling": "to score how far your voice reaches",
      "kind.email": "E-mail address", "kind.phone": "Phone number", "kind.account": "Your account",
      "pref.channel": "Preferred channel", "pref.language": "Language", "pref.hours": "Contact hours", "pref.pause_until": "No contact until",
      "erased.customers": "customer records", "erased.identifiers": "ways we recognized you", "erased.facts": "answers you gave",
      "erased.preferences": "preferences", "erased.consents": "choices about contact", "erased.signals": "signals of your reach",
      "erased.issues": "questions", "erased.contacts": "contacts with us", "erased.drafts": "pieces of work in progress",
      "erased.events": "entries in your history",
      "erased.customers.one": "customer record", "erased.identifiers.one": "way we recognized you", "erased.facts.one": "answer you gave",
      "erased.preferences.one": "preference", "erased.consents.one": "choice about contact", "erased.signals.one": "signal of your reach",
      "erased.issues.one": "question", "erased.contacts.one": "contact with us", "erased.drafts.one": "piece of work in progress",
      "erased.events.one": "entry in your history",
      "channel.web": "the website", "channel.chat": "chat", "channel.email": "e-mail", "channel.phone": "phone",
      "channel.sms": "text message", "channel.store": "a visit to the shop", "channel.app": "the app", "channel.post": "post",
      "channel.social": "social media",
    },
    nl: {
      help: "Hulp", close: "Hulp sluiten", welcome: "Welkom terug, {name}", howCanWeHelp: "Waarmee kunnen we helpen?",
      openQuestions: "Uw open vragen", lastContact: "laatste contact {when} via {channel}", addToThis: "aanvullen",
      addToThisLabel: "Aanvullen: {subject}", moreAbout: "Meer over: {subject}", yourQuestion: "Uw vraag", send: "Versturen",
      sent: "Dank u: we hebben uw vraag.", sentOffline: "Uw vraag is in deze browser bewaard en wordt verstuurd zodra u weer online bent.",
      continueDraft: "Verder waar u gebleven was ({name})", whatWeRemember: "Wat we over u onthouden", back: "Terug",
      nothing: "Niets: we onthouden niets over u.", download: "Al mijn gegevens downloaden",
      downloaded: "Uw gegevens zijn gedownload als {file}.", downloadFailed: "Het downloaden is mislukt: {error}",
      forgetMe: "Vergeet mij", forgetAsk: "Alles vergeten wat we over u onthouden, hier en op onze server? Dit kan niet ongedaan worden gemaakt.",
      forgetYes: "Ja, vergeet mij", cancel: "Annuleren", forgetting: "Bezig met vergeten…", forgetFailed: "Er is niets gewist: {error}",
      forgotten: "We zijn u vergeten", erasedAt: "Gewist op {when}:", receiptId: "Bewijs {id}: bewaar het als bewijs van uw verzoek.",
      heldNothing: "We hadden niets over u. Deze browser is nu een onbekende voor ons.", downloadReceipt: "Het bewijs downloaden",
      offline: "U bent offline. Wat u hier doet, wordt in deze browser bewaard en verstuurd zodra u weer online bent.",
      pending: "{n} wijzigingen wachten om verstuurd te worden.",
      why: "Waarom: {purpose}", until: "Bewaard tot {date}.", since: "Sinds {date}.", saved: "Bewaard op {date}.",
      untilForgotten: "Bewaard tot u ons vraagt het te vergeten (Vergeet mij).",
      untilChanged: "Bewaard tot u het wijzigt of ons vraagt u te vergeten.",
      untilResolved: "Bewaard zolang de vraag open is; daarna in uw geschiedenis tot u ons vraagt u te vergeten.",
      untilUsed: "Bewaard tot u het afmaakt of ons vraagt u te vergeten.",
      verified: "bevestigd", noneChosen: "niets gekozen", granted: "ja", refused: "nee", allChannels: "alle kanalen", onChannel: "via {channel}",
      "section.name": "Uw naam", "section.identifiers": "Waaraan we u herkennen", "section.facts": "Antwoorden die u gaf",
      "section.preferences": "Uw voorkeuren", "section.consents": "Uw keuzes over contact",
      "section.open_issues": "Uw open vragen", "section.drafts": "Onafgemaakt werk", "section.last_contacts": "Uw laatste contact met ons",
      "purpose.name": "om u te begroeten en uw bestellingen te adresseren", "purpose.identifiers": "om u te herkennen als u terugkomt",
      "purpose.preferences": "om contact op te nemen zoals u wilt", "purpose.consents": "om uw keuzes te respecteren",
      "purpose.open_issues": "om u te helpen zonder opnieuw te vragen", "purpose.drafts": "zodat u verder kunt waar u gebleven was",
      "purpose.last_contacts": "zodat we weten wat u ons eerder vroeg",
      "purpose.service": "om u te bedienen: bestellingen, bezorging en hulp", "purpose.personalization": "om deze winkel op u af te stemmen",
      "purpose.marketing": "om u aanbiedingen te sturen", "purpose.profiling": "om te schatten hoe ver uw stem reikt",
      "kind.email": "E-mailadres", "kind.phone": "Telefoonnummer", "kind.account": "Uw account",
      "pref.channel": "Voorkeurskanaal", "pref.language": "Taal", "pref.hours": "Contacttijden", "pref.pause_until": "Geen contact tot",
      "erased.customers": "klantrecords", "erased.identifiers": "manieren waarop we u herkenden", "erased.facts": "antwoorden die u gaf",
      "erased.preferences": "voorkeuren", "erased.consents": "keuzes over contact", "erased.signals": "signalen van uw bereik",
      "erased.issues": "vragen", "erased.contacts": "contacten met ons", "erased.drafts": "stukken onafgemaakt werk",
      "erased.events": "regels in uw geschiedenis",
      "erased.customers.one": "klantrecord", "erased.identifiers.one": "manier waarop we u herkenden", "erased.facts.one": "antwoord dat u gaf",
      "erased.preferences.one": "voorkeur", "erased.consents.one": "keuze over contact", "erased.signals.one": "signaal van uw bereik",
      "erased.issues.one": "vraag", "erased.contacts.one": "contact met ons", "erased.drafts.one": "stuk onafgemaakt werk",
      "erased.events.one": "regel in uw geschiedenis",
      "channel.web": "de website", "channel.chat": "chat", "channel.email": "e-mail", "channel.phone": "telefoon",
      "channel.sms": "sms", "channel.store": "een bezoek aan de winkel", "channel.app": "de app", "channel.post": "post",
      "channel.social": "sociale media",
    },
  };
  // Labels of the fact keys shops use most, by language.
  const LABELS = {
    en: {
      "contact.name": "Name", "contact.email": "E-mail address", "contact.phone": "Phone number",
      "shipping.street": "Street and number", "shipping.postcode": "Postcode", "shipping.city": "City", "shipping.country": "Country",
      "billing.street": "Billing street and number", "billing.postcode": "Billing postcode", "billing.city": "Billing city",
      "billing.country": "Billing country", "order.number": "Order number", "order.size": "Size", "order.product": "Product",
    },
    nl: {
      "contact.name": "Naam", "contact.email": "E-mailadres", "contact.phone": "Telefoonnummer",
      "shipping.street": "Straat en huisnummer", "shipping.postcode": "Postcode", "shipping.city": "Plaats", "shipping.country": "Land",
      "billing.street": "Factuuradres: straat en huisnummer", "billing.postcode": "Factuuradres: postcode", "billing.city": "Factuuradres: plaats",
      "billing.country": "Factuuradres: land", "order.number": "Bestelnummer", "order.size": "Maat", "order.product": "Product",
    },
  };

  // The language: the script tag's lang, else the page's, else English;
  // a language without built-in strings gets English under the shop's.
  const pageLang = ((script && script.lang) || document.documentElement.lang || "en").toLowerCase();
  const lang = STRINGS[pageLang.split("-")[0]] ? pageLang.split("-")[0] : "en";
  // The shop's strings: data-strings names a <script type="application/json">
  // element holding {"help": "…", …, "labels": {"fact.key": "…"}}, or the
  // same per language: {"nl": {…}, "en": {…}}.
  const own = (() => {
    const id = script && script.dataset.strings;
    const node = id && document.getElementById(id);
    if (!node) return {};
    try {
      const all = JSON.parse(node.textContent);
      if (!all || typeof all !== "object") return {};
      const mine = all[pageLang] || all[pageLang.split("-")[0]];
      return mine && typeof mine === "object" ? mine : all;
    } catch (e) {
      console.warn("herken: data-strings: the element #" + id + " holds no JSON object:", e.message);
      return {};
    }
  })();
  const STR = Object.assign({}, STRINGS.en, STRINGS[lang], own);
  const t = (key, vars) => String(Object.hasOwn(STR, key) ? STR[key] : key).replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? vars[k] : m));
  const when = (x) => {
    const d = new Date(x);
    if (isNaN(d) || d.getFullYear() < 2) return "";
    try { return new Intl.DateTimeFormat(pageLang, { dateStyle: "long", timeStyle: "short" }).format(d); } catch (e) { return d.toLocaleString(); }
  };
  const day = (x) => {
    const d = new Date(x);
    if (isNaN(d) || d.getFullYear() < 2) return "";
    try { return new Intl.DateTimeFormat(pageLang, { dateStyle: "long" }).format(d); } catch (e) { return d.toLocaleDateString(); }
  };
  // or names a thing by its string, or, for one no string names (a
  // shop's own channel or preference key), by itself.
  const or = (key, fallback) => (Object.hasOwn(STR, key) ? t(key) : fallback);
  const channel = (c) => (c ? or("channel." + c, c) : "");

  // label names a fact key for the customer: the shop's own strings, the
  // label the forms code captured (snapshot.labels), the page's own label
  // of the field (data-herken-label, or its <label>), the built-in one, and
  // the key itself only when there is none.
  function label(key, snap) {
    const ownLabels = own.labels || {};
    if (typeof ownLabels[key] === "string") return ownLabels[key];
    if (snap && snap.labels && typeof snap.labels[key] === "string" && snap.labels[key].trim()) return snap.labels[key].trim();
    const fields = [...document.querySelectorAll("[data-herken-fact]")].filter((f) => f.dataset.herkenFact === key);
    const field = fields[0];
    if (field && !field.dataset.herkenLabel && (fields.length > 1 || field.type === "radio")) {
      // A group is named by its legend, as the forms code names it when
      // it captures labels (herken.js, labelOf), never by one choice.
      const legend = field.closest("fieldset")?.querySelector("legend");
      if (legend) {
        const c = legend.cloneNode(true);
        c.querySelectorAll("input,select,textarea,button").forEach((n) => n.remove());
        const text = c.textContent.replace(/\s+/g, " ").trim();
        if (text) return text;
      }
      const group = field.closest("[role=radiogroup],[role=group],fieldset");
      if (group && group.getAttribute("aria-label")) return group.getAttribute("aria-label");
    } else if (field) {
      if (field.dataset.herkenLabel) return field.dataset.herkenLabel;
      const l = field.labels && field.labels[0];
      if (l) {
        const c = l.cloneNode(true);
        c.querySelectorAll("input,select,textarea,button").forEach((n) => n.remove());
        const text = c.textContent.replace(/\s+/g, " ").trim();
        if (text) return text;
      }
      if (field.getAttribute("aria-label")) return field.getAttribute("aria-label");
    }
    return (LABELS[lang] || {})[key] || LABELS.en[key] || key;
  }

  // Styles, in the widget's shadow root. Everything a shop may change is a
  // custom property (README, "Theming"), set on :root or on the host.
  const CSS = `
:host{all:initial;display:block;--_accent:var(--herken-accent,#1f5f8b);--_on:var(--herken-accent-text,#fff);--_bg:var(--herken-background,#fff);
--_fg:var(--herken-text,#222);--_muted:var(--herken-muted,#555);--_line:var(--herken-border,#8a8a8a);--_r:var(--herken-radius,8px);
--_focus:var(--herken-focus,#1a56db);font:var(--herken-font-size,14px)/1.4 var(--herken-font,system-ui,sans-serif);color:var(--_fg)}
.b{position:fixed;right:var(--herken-right,16px);bottom:var(--herken-bottom,16px);left:var(--herken-left,auto);z-index:var(--herken-z-index,2147483000);
border:0;border-radius:calc(var(--_r)*2.5);padding:10px 16px;background:var(--_accent);color:var(--_on);font:inherit;cursor:pointer;box-shadow:0 2px 8px #0003}
.p{box-sizing:border-box;background:var(--_bg);color:var(--_fg);border:1px solid var(--_line);border-radius:var(--_r);padding:12px;font:inherit}
.float{position:fixed;right:var(--herken-right,16px);bottom:calc(var(--herken-bottom,16px) + 48px);left:var(--herken-left,auto);
z-index:var(--herken-z-index,2147483000);width:min(var(--herken-width,340px),calc(100vw - 32px));max-height:70vh;overflow:auto;box-shadow:0 4px 16px #0003}
.p[hidden]{display:none}
.hd{display:flex;align-items:flex-start;gap:8px}
h2{flex:1;margin:0 0 8px;font-size:1.15em;line-height:1.3}
h3{margin:12px 0 2px;font-size:1em}
.x{border:0;background:none;color:var(--_fg);font-size:1.4em;line-height:1;padding:2px 6px;border-radius:var(--_r);cursor:pointer}
ul{padding-left:18px;margin:4px 0}li{margin:2px 0}
.m{color:var(--_muted);font-size:.9em;display:block}
textarea{display:block;width:100%;box-sizing:border-box;font:inherit;color:var(--_fg);background:var(--_bg);border:1px solid var(--_line);border-radius:calc(var(--_r)/2);padding:6px;margin:6px 0}
button{font:inherit}
.btn{border:1px solid var(--_accent);border-radius:calc(var(--_r)/2);padding:6px 12px;margin:4px 6px 4px 0;background:var(--_accent);color:var(--_on);cursor:pointer}
.btn.alt{background:var(--_bg);color:var(--_accent)}
.btn.danger{background:#b3261e;border-color:#b3261e;color:#fff}
.l{border:0;background:none;color:var(--_accent);cursor:pointer;padding:2px 0;margin:2px 0;text-decoration:underline;text-align:start}
.st:empty{display:none}.st{background:#fff4ce;color:#3b2f00;border-radius:calc(var(--_r)/2);padding:6px 8px;margin:0 0 8px}
.msg:empty{display:none}.msg{margin:6px 0}
label{display:block;margin-top:6px}
:focus{outline:none}
:focus-visible{outline:3px solid var(--_focus);outline-offset:2px}
`;

  let seq = 0;
  const uid = (p) => "herken-" + p + "-" + ++seq;
  function el(tag, a = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(a)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "on") e.addEventListener("click", v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    e.append(...kids.filter((k) => k !== null && k !== undefined));
    return e;
  }
  const button = (text, on, cls = "btn", extra = {}) => el("button", Object.assign({ type: "button", class: cls, text, on }, extra));

  // save offers data as a file download.
  function save(name, data) {
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2) + "\n"], { type: "application/json" }));
    const a = el("a", { href: url, download: name });
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // The widget's state: which view shows, and what the customer is typing,
  // kept across the renders a sync brings.
  const state = { view: "home", pick: "", pickSubject: "", text: "", notes: {}, receipt: null, online: true, pending: 0 };
  // note makes a status line for the current view, which keeps its text
  // across the renders a sync brings, until the customer changes view.
  function note() {
    const view = state.view;
    const p = el("p", { class: "msg", role: "status", text: state.notes[view] || "" });
    p.set = (text) => { state.notes[view] = text; p.textContent = text; };
    return p;
  }
  // show changes the view, as the customer chose.
  const show = (view, go) => { state.view = view; state.notes = {}; go(); };

  function widget() {
    const inline = document.querySelector("[data-herken-widget]");
    let host = inline;
    if (host && !host.shadowRoot) {
      try { host.attachShadow({ mode: "open" }); } catch (e) { host = el("div"); inline.append(host); host.attachShadow({ mode: "open" }); }
    }
    if (!host) {
      host = el("div");
      host.attachShadow({ mode: "open" });
      document.body.append(host);
    }
    host.setAttribute("data-herken-widget-host", "");
    const root = host.shadowRoot;
    try { const s = new CSSStyleSheet(); s.replaceSync(CSS); root.adoptedStyleSheets = [s]; } catch (e) { root.append(el("style", { text: CSS })); }

    const title = el("h2", { id: uid("title"), tabindex: "-1" });
    const panel = el("div", { class: inline ? "p" : "p float", id: uid("panel"), role: inline ? "region" : "dialog", "aria-labelledby": title.id });
    const status = el("div", { class: "st", role: "status", "aria-live": "polite" });
    const body = el("div", { class: "bd" });
    const hd = el("div", { class: "hd" }, title);
    let btn = null;
    if (!inline) {
      btn = button(t("help"), () => (panel.hidden ? open() : close()), "b", { "aria-expanded": "false", "aria-controls": panel.id, "aria-haspopup": "dialog" });
      hd.append(button("×", () => close(), "x", { "aria-label": t("close") }));
      panel.hidden = true;
    }
    panel.append(hd, status, body);
    root.append(panel);
    if (btn) root.append(btn);

    function open() {
      panel.hidden = false;
      btn.setAttribute("aria-expanded", "true");
      state.view = "home";
      state.notes = {};
      render(true);
    }
    function close() {
      panel.hidden = true;
      btn.setAttribute("aria-expanded", "false");
      btn.focus();
    }
    root.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && btn && !panel.hidden) { ev.stopPropagation(); close(); }
    });

    // The offline notice: whether the server is reachable and how many
    // changes wait for it, as herken.status() and its "status" event say.
    function showStatus() {
      status.textContent = state.online ? "" : t("offline") + (state.pending > 0 ? " " + t("pending", { n: state.pending }) : "");
    }
    const onStatus = (s) => {
      if (!s) return;
      state.online = s.online !== false;
      state.pending = Number(s.pending) || 0;
      showStatus();
    };
    herken.on("status", onStatus);
    herken.status().then(onStatus, () => {});

    let gen = 0;
    // render shows the current view; with focus, it moves the focus to its
    // title (a view the customer chose); a render a sync brings keeps it.
    async function render(focus) {
      const my = ++gen;
      const view = VIEWS[state.view] || VIEWS.home;
      let content;
      try {
        content = await view(() => render(true));
      } catch (e) {
        content = { title: t("howCanWeHelp"), nodes: [el("p", { text: String(e.message || e) })] };
      }
      if (my !== gen) return; // a later render won
      title.textContent = content.title;
      body.replaceChildren(...content.nodes);
      if (focus) (content.focus || title).focus();
    }
    herken.on("synced", () => {
      if (panel.hidden || (state.view !== "home" && state.view !== "memory")) return;
      const area = body.querySelector("textarea");
      // Never under the customer's typing, nor from under their focus.
      if ((area && area.value) || body.contains(root.activeElement)) return;
      render(false);
    });
    if (inline) render(false);
  }

  // The views: each answers {title, nodes, focus}; go re-renders after a
  // change of state.
  const VIEWS = {
    async home(go) {
      const [b, s] = await Promise.all([herken.brief(), herken.snapshot()]);
      const name = b.name || ((s.facts || []).find((f) => f.key === "contact.name") || {}).value;
      const nodes = [];
      const area = el("textarea", { class: "q", rows: "3", id: uid("q") });
      area.value = state.text;
      area.placeholder = state.pick ? t("moreAbout", { subject: state.pickSubject }) : t("yourQuestion");
      area.addEventListener("input", () => { state.text = area.value; });
      const issues = b.open_issues || [];
      if (issues.length) {
        nodes.push(el("h3", { text: t("openQuestions") }));
        const ul = el("ul");
        for (const is of issues) {
          const li = el("li", {}, is.subject, when(is.last_contact) ? el("span", { class: "m", text: t("lastContact", { when: when(is.last_contact), channel: channel(is.last_channel) }) }) : null);
          li.append(button(t("addToThis"), () => {
            state.pick = is.id; state.pickSubject = is.subject;
            area.placeholder = t("moreAbout", { subject: is.subject });
            area.focus();
          }, "l", { "aria-label": t("addToThisLabel", { subject: is.subject }) }));
          li.dataset.issue = is.id;
          ul.append(li);
        }
        nodes.push(ul);
      }
      for (const d of s.drafts || []) {
        // herken.resume takes the visitor to the page the draft came from
        // and restores it there.
        nodes.push(button(t("continueDraft", { name: d.name }), () => {
          herken.resume(d.name).catch((e) => console.warn("herken: " + e.message));
        }, "l"), el("br"));
      }
      const msg = note();
      nodes.push(el("label", { for: area.id, text: t("yourQuestion") }), area,
        button(t("send"), async () => {
          const text = area.value.trim();
          if (!text) { area.focus(); return; }
          if (state.pick) await herken.contact({ issue: state.pick, summary: text.slice(0, 1000) });
          else await herken.openIssue(text.slice(0, 250));
          Object.assign(state, { text: "", pick: "", pickSubject: "" });
          msg.set(state.online ? t("sent") : t("sentOffline"));
          go();
        }), msg, el("br"),
        button(t("whatWeRemember"), () => show("memory", go), "l"));
      return { title: name ? t("welcome", { name }) : t("howCanWeHelp"), nodes };
    },

    // memory lists every kind of thing the snapshot holds, each with why it
    // is kept and until when.
    async memory(go) {
      const s = await herken.snapshot();
      const nodes = [];
      const section = (kind, items) => {
        if (!items.length) return;
        nodes.push(el("h3", { text: t("section." + kind) }), el("ul", {}, ...items));
      };
      // A choice of several (the forms keep a multiple select or a set of
      // checkboxes as a JSON list of values) is shown as the list.
      const shown = (v) => {
        if (!/^\[.*\]$/s.test(v)) return v;
        try {
          const a = JSON.parse(v);
          if (Array.isArray(a) && a.every((x) => typeof x === "string")) return a.length ? a.join(", ") : t("noneChosen");
        } catch (e) { /* not a list: as it is */ }
        return v;
      };
      const item = (main, ...notes) => el("li", {}, main, ...notes.filter(Boolean).map((n) => el("span", { class: "m", text: n })));
      const forgetRule = t("untilForgotten");
      if (s.name) section("name", [item(s.name, t("why", { purpose: t("purpose.name") }), t("untilChanged"))]);
      section("identifiers", (s.identifiers || []).map((i) =>
        item(or("kind." + i.kind, i.kind) + ": " + i.value + (i.verified ? " (" + t("verified") + ")" : ""),
          t("why", { purpose: t("purpose.identifiers") }), forgetRule)));
      section("facts", (s.facts || []).map((f) =>
        item(label(f.key, s) + ": " + shown(f.value),
          t("why", { purpose: or("purpose." + (f.purpose || "service"), f.purpose) }),
          f.expires && day(f.expires) ? t("until", { date: day(f.expires) }) : forgetRule)));
      section("preferences", (s.preferences || []).map((p) =>
        item(or("pref." + p.key, p.key) + ": " + p.value, t("why", { purpose: t("purpose.preferences") }), t("untilChanged"))));
      section("consents", (s.consents || []).map((c) =>
        item(or("purpose." + c.purpose, c.purpose) + " (" + (c.channel ? t("onChannel", { channel: channel(c.channel) }) : t("allChannels")) + "): " + (c.granted ? t("granted") : t("refused")),
          t("why", { purpose: t("purpose.consents") }), day(c.at) && t("since", { date: day(c.at) }), t("untilChanged"))));
      section("open_issues", (s.open_issues || []).map((i) =>
        item(i.subject, t("why", { purpose: t("purpose.open_issues") }), t("untilResolved"))));
      section("drafts", (s.drafts || []).map((d) =>
        item(d.name, t("why", { purpose: t("purpose.drafts") }), day(d.saved) && t("saved", { date: when(d.saved) }), t("untilUsed"))));
      section("last_contacts", (s.last_contacts || []).map((c) =>
        item(channel(c.channel) + (when(c.at) ? ": " + when(c.at) : ""), t("why", { purpose: t("purpose.last_contacts") }), forgetRule)));
      if (!nodes.length) nodes.push(el("p", { text: t("nothing") }));
      const msg = note();
      nodes.push(msg,
        button(t("download"), async () => {
          try {
            const x = await herken.exportData();
            const file = "herken-export-" + String(x.exported || new Date().toISOString()).slice(0, 10) + ".json";
            save(file, x);
            msg.set(t("downloaded", { file }));
          } catch (e) { msg.set(t("downloadFailed", { error: e.message })); }
        }),
        button(t("forgetMe"), () => show("confirm", go), "btn alt"), el("br"),
        button(t("back"), () => show("home", go), "l"));
      return { title: t("whatWeRemember"), nodes };
    },

    // confirm asks once before Forget.
    async confirm(go) {
      const msg = note();
      const no = button(t("cancel"), () => show("memory", go), "btn alt");
      const yes = button(t("forgetYes"), async () => {
        yes.disabled = no.disabled = true;
        msg.set(t("forgetting"));
        try {
          const r = await herken.forget();
          state.receipt = (r && r.receipt) || null;
          show("receipt", go);
        } catch (e) {
          yes.disabled = no.disabled = false;
          msg.set(t("forgetFailed", { error: e.message }));
        }
      }, "btn danger");
      return { title: t("forgetMe"), nodes: [el("p", { text: t("forgetAsk") }), yes, no, msg], focus: no };
    },

    // receipt shows what was erased and when.
    async receipt(go) {
      const r = state.receipt;
      const nodes = [];
      if (!r) nodes.push(el("p", { text: t("heldNothing") }));
      else {
        nodes.push(el("p", { text: t("erasedAt", { when: when(r.at) }) }));
        const ul = el("ul");
        for (const [kind, n] of Object.entries(r.erased || {})) {
          // One of a kind has its own word ("1 question", not "1 questions").
          const many = or("erased." + kind, kind);
          if (n > 0) ul.append(el("li", { "data-erased": kind, text: n + " " + (n === 1 ? or("erased." + kind + ".one", many) : many) }));
        }
        nodes.push(ul, el("p", { class: "m", text: t("receiptId", { id: r.id }) }),
          button(t("downloadReceipt"), () => save("herken-receipt-" + r.id + ".json", r), "btn alt"));
      }
      nodes.push(el("br"), button(t("back"), () => { state.receipt = null; show("home", go); }, "l"));
      return { title: t("forgotten"), nodes };
    },
  };

  widget();
})();
