// herken worker: runs the wasm module off the page's main thread, keeps the
// visitor's memory in IndexedDB, and syncs it with the server. Every tab of
// the origin runs one; they share the saved memory and take turns through
// Web Locks (plugin/doc.go, "Sync", says how and why).
"use strict";
const VERSION = "__HERKEN_WASM_VERSION__";
let base = "", x = null, mem = null, csrf = "";
let limits = { changes: 200, body: 64 << 10 }; // the sync API's, from the session

// WASI preview 1: the few calls Go's wasip1 runtime makes. No files, no
// arguments, no environment; the clock and random numbers of the browser.
const E_BADF = 8;
const view = () => new DataView(mem.buffer);
const wasi = {
  args_sizes_get: (a, b) => { view().setUint32(a, 0, true); view().setUint32(b, 0, true); return 0; },
  args_get: () => 0,
  environ_sizes_get: (a, b) => { view().setUint32(a, 0, true); view().setUint32(b, 0, true); return 0; },
  environ_get: () => 0,
  clock_time_get: (id, _precision, out) => {
    const ns = id === 0 ? BigInt(Date.now()) * 1000000n : BigInt(Math.round(performance.now() * 1e6));
    view().setBigUint64(out, ns, true);
    return 0;
  },
  random_get: (p, n) => {
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(new Uint8Array(mem.buffer, p + i, Math.min(65536, n - i)));
    return 0;
  },
  fd_write: (fd, iovs, count, out) => {
    const v = view();
    let total = 0, text = "";
    for (let i = 0; i < count; i++) {
      const p = v.getUint32(iovs + i * 8, true), n = v.getUint32(iovs + i * 8 + 4, true);
      text += new TextDecoder().decode(new Uint8Array(mem.buffer, p, n));
      total += n;
    }
    if (fd === 2 && text) console.warn("herken:", text);
    v.setUint32(out, total, true);
    return 0;
  },
  poll_oneoff: (inp, out, n, nout) => {
    // Every subscription fires at once: the module never needs to wait.
    const v = view();
    for (let i = 0; i < n; i++) {
      v.setBigUint64(out + i * 32, v.getBigUint64(inp + i * 48, true), true);
      v.setUint16(out + i * 32 + 8, 0, true);
      v.setUint8(out + i * 32 + 10, v.getUint8(inp + i * 48 + 8));
    }
    v.setUint32(nout, n, true);
    return 0;
  },
  sched_yield: () => 0,
  proc_exit: (code) => { throw new Error("herken module exited with " + code); },
  fd_fdstat_get: (fd, out) => {
    if (fd > 2) return E_BADF;
    const v = view();
    for (let i = 0; i < 24; i++) v.setUint8(out + i, 0);
    v.setUint8(out, 2);
    return 0;
  },
  fd_fdstat_set_flags: () => 0,
  fd_prestat_get: () => E_BADF,
  fd_prestat_dir_name: () => E_BADF,
};

// call runs herken_<name> with a JSON request and returns its answer; with
// raw, the answer's JSON text.
function call(name, req, raw) {
  let p = 0, n = 0;
  if (req !== undefined) {
    const b = new TextEncoder().encode(typeof req === "string" ? req : JSON.stringify(req));
    p = x.herken_alloc(b.length);
    if (!p) throw new Error("herken: request too large");
    new Uint8Array(mem.buffer, p, b.length).set(b);
    n = b.length;
  }
  const r = x["herken_" + name](p, n);
  const op = Number(r >> 32n), on = Number(r & 0xffffffffn);
  const text = new TextDecoder().decode(new Uint8Array(mem.buffer, op, on));
  x.herken_free(op);
  if (raw && text.startsWith('{"ok":')) return text.slice(6, -1);
  const res = JSON.parse(text);
  if (res.error) { const e = new Error(res.error.message); e.code = res.error.code; throw e; }
  return res.ok;
}

// locked runs fn holding the origin-wide Web Lock name, so that one tab
// syncs at a time; where the browser has none (outside secure contexts),
// it runs fn as it is: the checks in push keep concurrent syncs right.
function locked(name, fn) {
  return self.navigator && navigator.locks ? navigator.locks.request("herken:" + name, fn) : fn();
}

// The saved memory, in IndexedDB: "local" holds the module's state, "rev"
// a random mark written with it, by which a worker knows whether the state
// its module holds is still the saved one.
let dbp = null, noDB = false;
let rev = null, held = false; // the mark of the state the module holds; whether it holds a saved one
let resets = 0; // times the saved memory was found erased (forgotten in some tab)
// An open can wait for ever: another connection (a page that was left,
// its worker not yet gone, or a tab frozen in the back/forward cache) may
// hold the database's creation open. Past OPEN_MS the memory lives in
// this worker only, as without storage, rather than the page never
// starting; an open that succeeds later is closed.
const OPEN_MS = 3000;
function db() {
  if (!dbp) {
    dbp = new Promise((ok, fail) => {
      let done = false;
      const timer = setTimeout(() => { done = true; dbp = null; fail(new Error("herken: storage did not open")); }, OPEN_MS);
      const r = indexedDB.open("herken", 1);
      r.onupgradeneeded = () => r.result.createObjectStore("state");
      r.onsuccess = () => {
        const d = r.result;
        if (done) { d.close(); return; }
        done = true;
        clearTimeout(timer);
        d.onversionchange = () => { d.close(); dbp = null; };
        d.onclose = () => { dbp = null; };
        ok(d);
      };
      r.onerror = () => { if (done) return; done = true; clearTimeout(timer); dbp = null; fail(r.error); };
    });
  }
  return dbp;
}
const mark = () => Array.from(crypto.getRandomValues(new Uint32Array(4)), (n) => n.toString(36)).join("");

// withState runs fn on the saved memory, in one IndexedDB transaction:
// the module first takes the saved state if another tab changed it, and,
// with write, what fn changed is saved in the same transaction (with
// "erase", the saved state is deleted instead). IndexedDB runs read-write
// transactions on one store one at a time, across tabs, so every tab's
// change goes into the one saved queue, numbered once. When fn answers
// unchanged, nothing is saved, and withState answers false.
const unchanged = Symbol("unchanged");
async function withState(fn, write = true) {
  let d = null;
  if (!noDB) {
    try { d = await db(); } catch (e) { noDB = true; } // no storage: the memory lives in this worker only
  }
  if (!d) { const out = fn(); return out === unchanged ? false : out; }
  return new Promise((ok, fail) => {
    const t = d.transaction("state", write ? "readwrite" : "readonly"), s = t.objectStore("state");
    let out, err, saved = null;
    const run = () => {
      try { out = fn(); } catch (e) { err = e; return; } // an error changes nothing: nothing to save
      if (out === unchanged) { out = false; return; }
      if (write === "erase") {
        s.delete("local");
        s.delete("rev");
        s.delete("notes");
      } else if (write) {
        saved = mark();
        s.put(call("save", undefined, true), "local");
        s.put(saved, "rev");
      }
    };
    const r = s.get("rev");
    r.onsuccess = () => {
      const now = r.result === undefined ? null : r.result;
      if (now !== null && now === rev) return run();
      const l = s.get("local");
      l.onsuccess = () => {
        if (l.result === undefined) {
          if (held) { call("configure", {}); held = false; resets++; } // forgotten in another tab
        } else {
          try { call("load", l.result); } catch (e) { call("configure", {}); } // a state this version cannot read: start over
          held = true;
        }
        rev = now;
        run();
      };
    };
    t.oncomplete = () => {
      if (saved) { rev = saved; held = true; }
      if (write === "erase") { rev = null; held = false; }
      err ? fail(err) : ok(out);
    };
    t.onerror = () => fail(err || t.error);
    t.onabort = () => fail(err || t.error || new Error("herken: storage failed"));
  });
}
const read = (name, req) => withState(() => call(name, req), false);

async function api(path, body, method = "POST") {
  if (!csrf && path !== "session") await session();
  let r;
  try {
    r = await fetch(base + path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Herken-CSRF": csrf },
      body: method === "POST" ? JSON.stringify(body || {}) : undefined,
      signal: AbortSignal.timeout ? AbortSignal.timeout(30000) : undefined,
    });
  } catch (e) {
    reached(false);
    throw Object.assign(new Error("herken: the server cannot be reached (offline?)"), { code: "offline" });
  }
  reached(true);
  const res = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(res.detail || r.statusText);
    Object.assign(e, { status: r.status, problem: res, change: res.change, retryAfter: Number(r.headers.get("Retry-After")) });
    if (e.status === 403 && res.code === "csrf") csrf = ""; // the next call starts a new session
    throw e;
  }
  return res;
}

// session starts a session with the server and applies its answer; early,
// when given, is a request for it sent already, answering {res} or {err}.
async function session(early) {
  const got = early ? await early : { res: await api("session") };
  if (got.err) throw got.err;
  const res = got.res;
  csrf = res.csrf;
  if (res.limits) limits = { changes: res.limits.changes || limits.changes, body: res.limits.body || limits.body };
  await onDevice(res.device);
  await withState(() => call("apply", { snapshot: res.snapshot })); // the pending changes keep their base
}

// onDevice takes the device tag the server answers. When the browser's
// device is another than the one the saved memory is of (the customer
// signed out, or forgot, in this tab or another, or on the shop's own
// pages), the saved memory is someone else's: it is erased, pending
// changes too, before anything of it is shown or sent. A memory saved
// without a tag, by an earlier release, is kept and tagged.
async function onDevice(tag) {
  if (!tag) return;
  let d = null;
  if (!noDB) { try { d = await db(); } catch (e) { noDB = true; } }
  const other = await new Promise((ok, fail) => {
    if (!d) { ok(device !== null && device !== tag); return; }
    const t = d.transaction("state", "readwrite"), s = t.objectStore("state");
    let changed = false;
    const r = s.get("device");
    r.onsuccess = () => {
      changed = r.result !== undefined && r.result !== tag;
      if (changed) { s.delete("local"); s.delete("rev"); s.delete("notes"); }
      if (r.result !== tag) s.put(tag, "device");
    };
    t.oncomplete = () => ok(changed);
    t.onerror = () => fail(t.error);
    t.onabort = () => fail(t.error || new Error("herken: storage failed"));
  });
  device = tag;
  if (other) { call("configure", {}); held = false; rev = null; resets++; noteMem = emptyNotes(); }
}
let device = null; // the tag of the device the memory is of, in a worker without storage

// sync sends the pending changes of every tab, in batches, until none is
// left, and resolves to whether the server has them all. A failure keeps
// them and tries again later; a call while a sync runs runs it once more.
let syncing = null, again = false, timer = 0, fails = 0;
function sync() {
  if (syncing) { again = true; return syncing; }
  clearTimeout(timer);
  timer = 0;
  syncing = (async () => {
    let ok;
    do {
      again = false;
      ok = await locked("sync", async () => (await push()) && ((await pushDrafts()) || later())).catch(() => later());
    } while (again && ok);
    return ok;
  })().finally(() => { syncing = null; tell(); });
  return syncing;
}
// soon syncs after a change, unless a retry is due already: it takes the
// change along.
const soon = () => { if (!timer) sync(); };

// later schedules the next try, waiting longer after each failure (1 s,
// doubling, up to 30 s), and answers false.
function later() {
  fails = Math.min(fails + 1, 6);
  const ms = Math.min(30000, 1000 * 2 ** (fails - 1)) * (0.5 + Math.random() / 2);
  clearTimeout(timer);
  timer = setTimeout(() => { timer = 0; sync(); }, ms);
  return false;
}
const wait = (ms) => new Promise((ok) => setTimeout(ok, ms));

// fit takes the longest run of pending changes, from the first, that one
// sync holds: at most most changes, its body at most the server's limit,
// measured as it will be sent.
function fit(from, pending, most) {
  const enc = new TextEncoder();
  let size = enc.encode(JSON.stringify({ base: from, changes: [] })).length;
  const batch = [];
  for (const c of pending) {
    const n = enc.encode(JSON.stringify(c)).length + (batch.length ? 1 : 0);
    if (batch.length >= most || size + n > limits.body) break;
    size += n;
    batch.push(c);
  }
  return batch;
}

// onBase runs fn on the saved memory if its changes are still numbered on
// base, as when a batch was taken from it: an answer about that batch means
// nothing once another tab has applied an answer or renumbered, or the
// memory was forgotten.
const same = (a, b) => a.applied === b.applied && (a.head || "") === (b.head || "");
const onBase = (base, gen, fn) => withState(() => (resets === gen && same(call("synced"), base) ? fn() : unchanged));

// drop drops a change the server will never take, and tells the page.
async function drop(base, gen, seq, reason) {
  const done = await onBase(base, gen, () => { try { call("drop", { seq }); return true; } catch (e) { return unchanged; } });
  if (done) post({ event: "dropped", detail: { seq, reason } });
}

// push runs with the sync lock held: batch after batch, it sends what is
// pending, and recovers from every answer the server gives.
async function push() {
  let most = limits.changes;
  for (let round = 0; round < 256; round++) {
    const gen = resets;
    const { from, pending } = await withState(() => ({ from: call("synced"), pending: call("pending") }), false);
    if (!pending.length) { fails = 0; return true; }
    const batch = fit(from, pending, most);
    if (!batch.length) { await drop(from, gen, pending[0].seq, "too_large"); continue; } // fits in no sync
    let res;
    try {
      res = await api("sync", { base: from, changes: batch });
    } catch (e) {
      const p = e.problem || {};
      if (e.status === 409 && p.code === "conflict") {
        // Another copy of this memory synced first: number the changes
        // after the server's, and send them again.
        await onBase(from, gen, () => call("renumber", { applied: p.applied, head: p.head }));
      } else if (e.status === 413 || e.status === 400 || e.status === 422 && p.code === "too_many") {
        if (batch.length > 1) most = Math.max(1, batch.length >> 1);
        else await drop(from, gen, batch[0].seq, e.status === 400 ? "bad_json" : "too_large");
      } else if (e.status === 422 && e.change) {
        await drop(from, gen, e.change, p.code); // refused: the others go on
      } else if (e.status === 422) {
        // The base itself was refused: send on none, and the server's
        // conflict answer gives its own.
        await onBase(from, gen, () => call("renumber", { applied: 0 }));
      } else if (e.status === 429) {
        await wait(Math.min(60, e.retryAfter > 0 ? e.retryAfter : 1) * 1000);
      } else if (!(e.status === 403 && p.code === "csrf")) {
        return later(); // offline, or the server failed: keep the changes
      }
      continue;
    }
    await onBase(from, gen, () => call("apply", { snapshot: res.snapshot, applied: res.applied }));
    post({ event: "synced" });
  }
  return later();
}

// The browser's own notes beside the memory, under "notes" in the saved
// state, erased with it: the labels of the fields pages remembered, and the
// drafts saved in this browser (each with its page, its data, and whether
// the server has it yet). None of it is in the changes sync sends: labels
// never leave the browser; a draft's data goes by POST /drafts/NAME.
// Bounded whatever a page asks: LABELS labels of at most LABEL characters,
// for fact keys only; DRAFTS drafts of at most DRAFT_BYTES each.
const LABELS = 256, LABEL = 120, DRAFTS = 16, DRAFT_BYTES = 256 << 10, PAGE = 2048;
const TOKEN = /^[a-z0-9][a-z0-9_.-]{0,63}$/; // a fact key or draft name, as the store takes them
const emptyNotes = () => ({ labels: new Map(), drafts: new Map() });
let noteMem = emptyNotes(); // in a worker without storage
const coded = (msg, code) => Object.assign(new Error(msg), { code });

// notes runs fn on the saved notes in one IndexedDB transaction; with
// write, what fn changed is saved, unless it answers unchanged.
async function notes(fn, write = true) {
  let d = null;
  if (!noDB) {
    try { d = await db(); } catch (e) { noDB = true; }
  }
  if (!d) { const out = fn(noteMem); return out === unchanged ? false : out; }
  return new Promise((ok, fail) => {
    const t = d.transaction("state", write ? "readwrite" : "readonly"), s = t.objectStore("state");
    let out, err;
    const r = s.get("notes");
    r.onsuccess = () => {
      const v = r.result;
      const n = v && v.labels instanceof Map && v.drafts instanceof Map ? v : emptyNotes();
      try { out = fn(n); } catch (e) { err = e; return; }
      if (out === unchanged) { out = false; return; }
      if (write) s.put(n, "notes");
    };
    t.oncomplete = () => (err ? fail(err) : ok(out));
    t.onerror = () => fail(err || t.error);
    t.onabort = () => fail(err || t.error || new Error("herken: storage failed"));
  });
}

// keepLabel notes the label of fact key k, the newest last: past LABELS,
// the oldest go.
function keepLabel(labels, k, l) {
  if (typeof k !== "string" || !TOKEN.test(k) || typeof l !== "string") return;
  l = l.slice(0, 4 * LABEL).replace(/\s+/g, " ").trim().slice(0, LABEL);
  labels.delete(k);
  if (!l) return;
  labels.set(k, l);
  for (const old of labels.keys()) {
    if (labels.size <= LABELS) break;
    labels.delete(old);
  }
}

// remember keeps answers; each may carry the label of its field, which
// stays in this browser. The labels are stored while the change is made,
// not after it: a page that submits a form waits for both at most a
// second before it leaves, and what is still to start then is lost. A
// change refused puts the labels back as they were.
async function remember(facts) {
  if (!Array.isArray(facts)) throw coded("herken: remember takes a list of facts", "bad_request");
  const labels = [];
  const plain = facts.map((f) => {
    if (!f || typeof f !== "object") return f;
    const { label, ...rest } = f;
    if (label !== undefined) labels.push([rest.key, label]);
    return rest;
  });
  const before = new Map();
  const kept = labels.length
    ? notes((n) => { for (const [k, l] of labels) { if (!before.has(k)) before.set(k, n.labels.get(k)); keepLabel(n.labels, k, l); } })
    : Promise.resolve();
  kept.catch(() => {}); // handled below, after the change
  let out;
  try {
    out = await changed("remember", { facts: plain });
  } catch (e) {
    if (labels.length && await kept.then(() => true, () => false)) {
      await notes((n) => { for (const [k, l] of before) { if (l === undefined) n.labels.delete(k); else n.labels.set(k, l); } }).catch(() => {});
    }
    throw e;
  }
  await kept;
  return out;
}

// snapshot is the module's, with the labels of the facts it holds, and
// its drafts with their pages, this browser's not yet sent included.
async function snapshot() {
  const s = await read("snapshot");
  const n = await notes((n) => n, false);
  const keys = new Set((s.facts || []).map((f) => f.key));
  s.labels = {};
  for (const [k, l] of n.labels) if (keys.has(k)) s.labels[k] = l;
  const drafts = new Map((s.drafts || []).map((d) => [d.name, d]));
  for (const [name, d] of n.drafts) {
    if (d.data === null) { drafts.delete(name); continue; } // ended here, not yet on the server
    const e = drafts.get(name) || { name };
    e.page = d.page;
    if (d.pending || !drafts.has(name)) Object.assign(e, { size: d.size, saved: d.saved, pending: d.pending });
    drafts.set(name, e);
  }
  s.drafts = [...drafts.values()];
  return s;
}

// pagePath is p as a page of this origin (path, query, fragment), or null.
function pagePath(p) {
  if (typeof p !== "string" || p === "" || p.length > PAGE) return null;
  let u;
  try { u = new URL(p, self.location.origin + "/"); } catch (e) { return null; }
  return u.origin === self.location.origin && (u.protocol === "https:" || u.protocol === "http:") ? u.pathname + u.search + u.hash : null;
}
function checkDraftName(name) {
  if (typeof name !== "string" || !TOKEN.test(name)) {
    throw coded("herken: a draft's name is 1 to 64 lowercase letters, digits, '_', '-' and '.', got " + JSON.stringify(String(name).slice(0, 40)), "bad_name");
  }
}

// saveDraft keeps the draft here at once and sends it: {name, data, page}.
async function saveDraft(a) {
  const { name, data, page } = a || {};
  checkDraftName(name);
  if (typeof data !== "string") throw coded("herken: a draft's data is a string", "bad_data");
  const size = new TextEncoder().encode(data).length;
  if (size > DRAFT_BYTES) throw coded("herken: a draft holds at most " + DRAFT_BYTES + " bytes, this one " + size, "too_large");
  const p = pagePath(page);
  if (p === null) throw coded("herken: a draft's page is a page of this site, not " + JSON.stringify(String(page).slice(0, 80)), "bad_page");
  await notes((n) => {
    if (!n.drafts.has(name) && n.drafts.size >= DRAFTS) {
      const sent = [...n.drafts].find(([, d]) => !d.pending);
      if (!sent) throw coded("herken: " + DRAFTS + " drafts wait to be sent already", "too_many");
      n.drafts.delete(sent[0]);
    }
    n.drafts.delete(name);
    n.drafts.set(name, { page: p, data, size, saved: new Date().toISOString(), pending: true, v: mark() });
  });
  tell();
  // Answer once the server has it, or after a few seconds of a slow
  // network: it is kept here either way, and sent on.
  await Promise.race([now(), wait(5000)]);
  const d = await notes((n) => n.drafts.get(name), false);
  return { saved: true, pending: !!(d && d.pending) };
}

// endDraft ends a draft (its form was sent): gone here at once, and from
// the server when it can be reached.
async function endDraft(name) {
  checkDraftName(name);
  await notes((n) => { n.drafts.delete(name); n.drafts.set(name, { page: "", data: null, size: 0, saved: new Date().toISOString(), pending: true, v: mark() }); });
  tell();
  now();
  return true;
}

// draft answers {name, data, saved, page, pending?}, or null: this
// browser's copy while the server has not got it, else the server's.
async function draft(name) {
  checkDraftName(name);
  const local = await notes((n) => n.drafts.get(name) || null, false);
  if (local && local.pending) return local.data === null ? null : { name, data: local.data, saved: local.saved, page: local.page, pending: true };
  if (!local && !((await read("snapshot")).drafts || []).some((d) => d.name === name)) return null; // the server's list has none
  let r;
  try {
    r = await fetch(base + "drafts/" + encodeURIComponent(name), { credentials: "same-origin", headers: { "X-Herken-CSRF": csrf } });
  } catch (e) {
    reached(false);
    if (local) return { name, data: local.data, saved: local.saved, page: local.page };
    throw coded("herken: the server cannot be reached (offline?)", "offline");
  }
  reached(true);
  if (r.status === 404) return null;
  if (!r.ok && local) return { name, data: local.data, saved: local.saved, page: local.page }; // busy or failing: this browser's copy
  if (!r.ok) throw coded("herken: draft " + name + ": the server answered " + r.status, "server");
  const d = await r.json();
  d.page = (local && local.page) || "";
  return d;
}

// pushDrafts runs with the sync lock held: it sends the drafts waiting in
// this browser, one at a time, and answers whether none is left. A draft
// the server refuses is dropped (herken:dropped {draft, reason}). Once
// some were sent, the memory takes the server's list of drafts again.
async function pushDrafts() {
  let sent = 0;
  for (let round = 0; round < 4 * DRAFTS; round++) {
    const next = await notes((n) => { for (const [name, d] of n.drafts) if (d.pending) return { name, d }; return null; }, false);
    if (!next) {
      if (sent) await session().catch(() => {}); // the snapshot's drafts as the server has them now
      return true;
    }
    const { name, d } = next;
    const path = "drafts/" + encodeURIComponent(name);
    let refused = "";
    try {
      if (d.data === null) await api(path, undefined, "DELETE");
      else await api(path, { data: d.data });
    } catch (e) {
      const p = e.problem || {};
      if (d.data === null && e.status === 404) { /* not on the server: ended already */ }
      else if (e.status === 403 && p.code === "csrf") continue; // a new session, then again
      else if (e.status === 429) { await wait(Math.min(60, e.retryAfter > 0 ? e.retryAfter : 1) * 1000); continue; }
      else if (e.status >= 400 && e.status < 500) refused = p.code || String(e.status);
      else return false; // offline, or the server failed: kept for later
    }
    sent++;
    await notes((n) => {
      const now = n.drafts.get(name);
      if (!now || now.v !== d.v) return unchanged; // saved again meanwhile, or forgotten: not this one
      if (d.data === null) n.drafts.delete(name);
      else now.pending = false;
    });
    if (refused) post({ event: "dropped", detail: { draft: name, reason: refused } });
  }
  return false;
}

// The status the page shows: whether the server can be reached (the page
// says when the browser goes offline; every call to the server says
// whether it got there) and how many changes and drafts wait for it. The
// page hears of every change (herken:status).
let heard = true, reach = true, told = "";
function reached(v) {
  const was = heard && reach;
  reach = v;
  if (v) heard = true; // the server answered: online, whatever the page last heard
  if (was !== (heard && reach)) tell();
}
async function status() {
  let changes = 0, drafts = 0;
  if (x) { try { changes = (await withState(() => call("pending"), false)).length; } catch (e) { /* no state yet */ } }
  try { drafts = await notes((n) => [...n.drafts.values()].filter((d) => d.pending).length, false); } catch (e) { /* no storage */ }
  return { online: heard && reach, pending: changes + drafts };
}
async function tell() {
  const s = await status().catch(() => null);
  if (!s) return;
  const k = s.online + "/" + s.pending;
  if (k !== told) { told = k; post({ event: "status", detail: s }); }
}

// start runs once a worker: the module's _initialize traps when run twice,
// and a second instance would drop the first one's memory. Later calls
// answer as the first.
let started = null;
const start = (msg) => started || (started = begin(msg));

// phases are the instants (ms since the epoch) at which the start reached
// each of its steps, for the page to mark (see herken.js): where the time to
// the first brief goes.
const phases = [];
const phase = (name) => phases.push([name, performance.timeOrigin + performance.now()]);

async function begin(msg) {
  phase("worker");
  base = msg.base;
  if (msg.online === false) heard = false; // until the server answers
  // The session's request needs no module: it goes out now, beside the
  // module's download and compilation, and is taken up in its turn below.
  const early = api("session").then((res) => ({ res }), (err) => ({ err }));
  const url = base + "herken.wasm?v=" + VERSION;
  const imports = { wasi_snapshot_preview1: wasi };
  let inst;
  try {
    inst = (await WebAssembly.instantiateStreaming(fetch(url), imports)).instance;
  } catch (e) {
    inst = (await WebAssembly.instantiate(await (await fetch(url)).arrayBuffer(), imports)).instance;
  }
  phase("module");
  x = inst.exports; mem = x.memory;
  x._initialize();
  phase("init");
  await withState(() => {}, false); // the saved memory
  phase("state");
  try {
    await session(early);
    phase("session");
    if (msg.identity) {
      // What is pending goes to whom the device belongs to now, before a
      // sign-in may move the device to another customer.
      await sync();
      await identify(msg.identity);
    }
  } catch (e) { /* offline: the local memory serves until the next sync */ }
  sync(); // in the background: the page need not wait for it
  return phases;
}

async function identify(token) {
  const res = await api("identify", { token });
  await withState(() => call("apply", { snapshot: res.snapshot }));
  return read("brief");
}

// changed runs a local change on the saved memory, and syncs soon.
async function changed(name, req) {
  const out = await withState(() => call(name, req));
  tell();
  soon();
  return out;
}

// now syncs at once, as the page asks or the browser is back online: the
// retries after it start again from the shortest wait.
const now = () => { fails = 0; return sync(); };

const ops = {
  start, identify, sync: now, status,
  network: (on) => { heard = on !== false; if (heard) now(); else tell(); return true; },
  brief: (a) => read("brief", a || {}),
  prefill: (a) => read("prefill", { fields: a }),
  snapshot,
  recognize: (a) => changed("recognize", { identifiers: a }),
  remember,
  consent: (a) => changed("consent", { consent: a }),
  openIssue: (a) => changed("open_issue", a),
  contact: (a) => changed("contact", { contact: a }),
  // exportData answers the customer's access request: everything the
  // server holds about them (plugin/access.go), for the page to offer as a
  // file. It is not kept here.
  exportData: () => api("export"),
  forget: async () => {
    const res = await api("forget");
    csrf = res.csrf;
    await withState(() => { call("configure", {}); resets++; noteMem = emptyNotes(); }, "erase");
    await onDevice(res.device);
    return { forgotten: true, receipt: res.receipt || null };
  },
  // logout detaches this browser from the customer: the server gives it a
  // new device, and the memory here is erased (in every tab).
  logout: async () => {
    const res = await api("logout");
    csrf = res.csrf;
    await onDevice(res.device);
    return true;
  },
  draft, saveDraft, endDraft,
};

const post = (m) => self.postMessage(m);
self.onmessage = async (ev) => {
  const { id, op, arg } = ev.data;
  try {
    if (!Object.hasOwn(ops, op)) throw new Error("herken: unknown call " + op);
    post({ id, ok: await ops[op](arg) });
  } catch (e) { post({ id, error: e.message, code: e.code }); }
};
self.addEventListener("online", now);
