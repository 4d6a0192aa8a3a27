// herken worker: runs the wasm module off the page's main thread, keeps the
// visitor's memory in IndexedDB, and syncs it with the server.
"use strict";
const VERSION = "__HERKEN_WASM_VERSION__";
let base = "", x = null, mem = null, csrf = "", syncing = null;

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

// call runs herken_<name> with a JSON request and returns its answer.
function call(name, req) {
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
  const res = JSON.parse(text);
  if (res.error) { const e = new Error(res.error.message); e.code = res.error.code; throw e; }
  return res.ok;
}

// IndexedDB: one record, the module's saved state.
function db() {
  return new Promise((ok, fail) => {
    const r = indexedDB.open("herken", 1);
    r.onupgradeneeded = () => r.result.createObjectStore("state");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}
async function idb(mode, fn) {
  const d = await db();
  return new Promise((ok, fail) => {
    const t = d.transaction("state", mode), req = fn(t.objectStore("state"));
    t.oncomplete = () => { d.close(); ok(req.result); };
    t.onerror = () => { d.close(); fail(t.error); };
  });
}
const persist = () => idb("readwrite", (s) => s.put(JSON.stringify(call("save")), "local")).catch(() => {});

async function api(path, body) {
  const r = await fetch(base + path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Herken-CSRF": csrf },
    body: JSON.stringify(body || {}),
  });
  const res = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(res.detail || r.statusText); e.status = r.status; e.change = res.change; throw e; }
  return res;
}

// sync sends pending changes and applies the server's answer. A change the
// server refuses is dropped, and the rest sent again.
function sync() {
  if (syncing) return syncing;
  syncing = (async () => {
    for (let tries = 0; tries < 5; tries++) {
      const pending = call("pending");
      try {
        const res = await api("sync", { changes: pending });
        call("apply", { snapshot: res.snapshot, applied: res.applied });
        await persist();
        post({ event: "synced" });
        return true;
      } catch (e) {
        if (e.status === 422 && e.change) {
          const before = pending.filter((c) => c.seq < e.change);
          if (before.length) {
            const res = await api("sync", { changes: before });
            call("apply", { snapshot: res.snapshot, applied: res.applied });
          }
          call("apply", { snapshot: call("save").base, applied: e.change });
          continue;
        }
        return false; // offline or refused: try again later
      }
    }
    return false;
  })().finally(() => { syncing = null; });
  return syncing;
}

// start runs once a worker: the module's _initialize traps when run twice,
// and a second instance would drop the first one's memory. Later calls
// answer as the first.
let started = null;
const start = (msg) => started || (started = begin(msg));

async function begin(msg) {
  base = msg.base;
  const url = base + "herken.wasm?v=" + VERSION;
  const imports = { wasi_snapshot_preview1: wasi };
  let inst;
  try {
    inst = (await WebAssembly.instantiateStreaming(fetch(url), imports)).instance;
  } catch (e) {
    inst = (await WebAssembly.instantiate(await (await fetch(url)).arrayBuffer(), imports)).instance;
  }
  x = inst.exports; mem = x.memory;
  x._initialize();
  const saved = await idb("readonly", (s) => s.get("local")).catch(() => null);
  if (saved) { try { call("load", saved); } catch (e) { /* a state this version cannot read: start over */ } }
  try {
    const res = await api("session");
    csrf = res.csrf;
    call("apply", { snapshot: res.snapshot, applied: res.applied });
    if (msg.identity) await identify(msg.identity);
    if (call("pending").length) await sync();
    await persist();
  } catch (e) { /* offline: the local memory serves until the next sync */ }
}

async function identify(token) {
  const res = await api("identify", { token });
  call("apply", { snapshot: res.snapshot, applied: res.applied });
  await persist();
  return call("brief");
}

// changed runs a local change, persists it, and syncs in the background.
async function changed(name, req) {
  const out = call(name, req);
  await persist();
  sync();
  return out;
}

const ops = {
  start, identify, sync,
  brief: (a) => call("brief", a || {}),
  prefill: (a) => call("prefill", { fields: a }),
  snapshot: () => call("snapshot"),
  recognize: (a) => changed("recognize", { identifiers: a }),
  remember: (a) => changed("remember", { facts: a }),
  consent: (a) => changed("consent", { consent: a }),
  openIssue: (a) => changed("open_issue", a),
  contact: (a) => changed("contact", { contact: a }),
  exportData: () => fetch(base + "export", { method: "POST", credentials: "same-origin", headers: { "X-Herken-CSRF": csrf } }).then((r) => r.json()),
  forget: async () => {
    const res = await api("forget");
    csrf = res.csrf;
    call("configure", {});
    await idb("readwrite", (s) => s.delete("local"));
    return true;
  },
  draft: (name) => fetch(base + "drafts/" + encodeURIComponent(name), { credentials: "same-origin", headers: { "X-Herken-CSRF": csrf } }).then((r) => (r.ok ? r.json() : null)),
  saveDraft: (a) => api("drafts/" + encodeURIComponent(a.name), { data: a.data }),
};

const post = (m) => self.postMessage(m);
self.onmessage = async (ev) => {
  const { id, op, arg } = ev.data;
  try {
    if (!Object.hasOwn(ops, op)) throw new Error("herken: unknown call " + op);
    post({ id, ok: await ops[op](arg) });
  } catch (e) { post({ id, error: e.message, code: e.code }); }
};
self.addEventListener("online", () => sync());
