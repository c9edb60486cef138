// pandas-clusters visual inspection: keyboard-first scoring of the candidates.
"use strict";
const KINDS = ["g", "i", "rgb", "context"];
const FACT_NAMES = { c09: "C09", rbc: "RBC", c11: "C11", w22: "W22", w23: "W23", h14: "H14" };
const S = {
  inspector: null, session: null, order: [], scores: new Map(), idx: 0, stretch: "asinh",
  stretches: [], zoom: 3, mosaic: false, prefetch: 8, mosaicSize: 60, total: 0,
  facts: new Map(), images: new Map(), showToken: 0, queue: Promise.resolve(),
};
window.pcTimings = [];  // key press -> next candidate shown, ms (moves)
window.pcScoreTimings = [];  // score key -> committed and next candidate shown, ms
const $ = (id) => document.getElementById(id);

function status(text) { $("status").textContent = text || ""; }

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (S.session) opts.headers["X-Session"] = S.session;
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function imageUrl(sid, kind) { return `/img/${sid}/${kind}.png?stretch=${S.stretch}`; }

function getFacts(sid) {
  if (!S.facts.has(sid)) {
    const p = api("GET", `/api/candidate/${sid}`);
    p.catch(() => S.facts.delete(sid));
    S.facts.set(sid, p);
  }
  return S.facts.get(sid);
}

function preload(sid, kinds) {
  for (const kind of kinds) {
    const url = imageUrl(sid, kind);
    if (S.images.has(url)) continue;
    const img = new Image();
    img.src = url;
    S.images.set(url, img);
  }
  if (S.images.size > 4000) S.images.delete(S.images.keys().next().value);
}

function prefetch() {
  for (let k = 1; k <= S.prefetch; k++) {
    for (const j of [S.idx + k, S.idx - Math.min(k, 2)]) {
      if (j < 0 || j >= S.order.length) continue;
      getFacts(S.order[j]);
      preload(S.order[j], KINDS);
    }
  }
}

function fmt(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d); }

function renderFacts(f) {
  const names = Object.entries(f.names).map(([k, v]) => `${FACT_NAMES[k] || k} ${v}`).join(", ");
  const rows = [
    ["source_id", f.source_id], ["RA, Dec", `${fmt(f.ra, 6)}, ${fmt(f.dec, 6)}`],
    ["field (CCD)", `${f.field} (${f.ccd ?? "–"})`],
    ["g", `${fmt(f.gmag, 3)} ± ${fmt(f.e_gmag, 3)}`], ["i", `${fmt(f.imag, 3)} ± ${fmt(f.e_imag, 3)}`],
    ["g − i", `${fmt(f.g_i, 3)} ± ${fmt(f.e_g_i, 3)}`], ["Rproj", `${fmt(f.rproj_kpc, 2)} kpc`],
    ["probability", `${fmt(f.prob_mean, 3)} ± ${fmt(f.prob_std, 3)} (over seeds)`],
    ["literature", names || "–"], ["status", f.new ? "new" : "known"],
  ];
  const table = $("facts");
  table.replaceChildren();
  for (const [k, v] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = String(v);
  }
  const links = $("links");
  links.replaceChildren();
  for (const [name, url] of Object.entries(f.links)) {
    const a = document.createElement("a");
    a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer"; a.textContent = name;
    links.append(a, " ");
  }
}

function renderProgress() {
  const n = S.scores.size;
  $("fill").style.width = `${(100 * n) / Math.max(S.total, 1)}%`;
  $("count").textContent = `${n} / ${S.total} scored`;
  const sid = S.order[S.idx];
  const sc = S.scores.get(sid);
  $("score-now").textContent = `#${S.idx + 1}: ${sc === undefined ? "not scored" : "score " + sc}`;
  $("mode-info").textContent = `stretch ${S.stretch}, zoom ${S.zoom}×`;
}

async function show(i) {
  const t0 = performance.now();
  S.idx = Math.max(0, Math.min(S.order.length - 1, i));
  const sid = S.order[S.idx];
  const token = ++S.showToken;
  if (S.mosaic) return renderMosaic(t0);
  const els = KINDS.map((k) => $(`img-${k}`));
  els.forEach((el, n) => { el.src = imageUrl(sid, KINDS[n]); });
  const facts = await getFacts(sid);
  if (token !== S.showToken) return;
  renderFacts(facts);
  renderProgress();
  const ok = await Promise.all(els.map((el) => el.decode().then(() => true, () => false)));
  if (token !== S.showToken) return;
  $("context-caption").textContent = ok[3] ? "context" : "context: no field image";
  document.body.dataset.shown = String(sid);
  window.pcTimings.push(performance.now() - t0);
  prefetch();
}

function renderMosaic(t0) {
  const page = Math.floor(S.idx / S.mosaicSize);
  const tiles = $("tiles");
  tiles.replaceChildren();
  const start = page * S.mosaicSize;
  for (let j = start; j < Math.min(start + S.mosaicSize, S.order.length); j++) {
    const sid = S.order[j];
    const div = document.createElement("div");
    div.className = "tile" + (j === S.idx ? " sel" : "");
    div.dataset.sid = sid;
    const img = document.createElement("img");
    img.src = imageUrl(sid, "rgb");
    img.alt = String(sid);
    const badge = document.createElement("b");
    badge.textContent = S.scores.has(sid) ? String(S.scores.get(sid)) : "";
    div.append(img, badge);
    div.addEventListener("click", () => { S.mosaic = false; toggleViews(); show(j); });
    tiles.append(div);
  }
  for (let j = start + S.mosaicSize; j < Math.min(start + 2 * S.mosaicSize, S.order.length); j++) {
    preload(S.order[j], ["rgb"]);
  }
  renderProgress();
  document.body.dataset.shown = String(S.order[S.idx]);
  window.pcTimings.push(performance.now() - t0);
}

function toggleViews() {
  $("single").hidden = S.mosaic;
  $("mosaic").hidden = !S.mosaic;
}

// Scores and undos go to the server one after the other (a queue), each committed there
// before the next is sent; the page moves on at once and goes back, saying so, if the
// server refuses one (e.g. this tab is stale).
function enqueue(request) {
  const done = S.queue.then(request);
  S.queue = done.catch(() => {});
  return done;
}

function score(value) {
  const t0 = performance.now();
  const idx = S.idx;
  const sid = S.order[idx];
  const before = S.scores.get(sid);
  S.scores.set(sid, value);
  enqueue(() => api("POST", "/api/score", { inspector: S.inspector, source_id: sid, score: value }))
    .then((r) => { status(""); renderProgress(); return afterChange(r.progress); })
    .catch((e) => {
      if (before === undefined) S.scores.delete(sid); else S.scores.set(sid, before);
      status(`score of ${sid} NOT saved: ${e.message}`);
      show(idx);
    });
  return show(idx < S.order.length - 1 ? idx + 1 : idx).then(() => {
    window.pcScoreTimings.push(performance.now() - t0);
  });
}

function undo() {
  return enqueue(() => api("POST", "/api/undo", { inspector: S.inspector }))
    .then(async (r) => {
      if (r.source_id === null) { status("nothing to undo"); return; }
      if (r.score === null) S.scores.delete(r.source_id); else S.scores.set(r.source_id, r.score);
      status(`undone: ${r.source_id}`);
      await show(S.order.indexOf(r.source_id));
    })
    .catch((e) => status(e.message));
}

async function afterChange(progress) {
  if (progress.done) await showAgreement();
}

async function showAgreement() {
  const a = await api("GET", `/api/agreement?inspector=${encodeURIComponent(S.inspector)}`);
  const box = $("done");
  box.hidden = false;
  box.replaceChildren();
  const h = document.createElement("h2");
  h.textContent = "Done: every candidate scored. Agreement between inspectors who are done";
  box.append(h);
  if (!a.pairs.length) box.append("No other inspector has finished yet.");
  for (const p of a.pairs) {
    const div = document.createElement("div");
    div.className = "pair";
    const k = p.kappa === null ? "undefined" : p.kappa.toFixed(3);
    const title = document.createElement("p");
    title.innerHTML = `<b></b>: weighted kappa (${a.weights}) = <span class="kappa"></span> on ${p.n_common} candidates`;
    title.querySelector("b").textContent = p.inspectors.join(" vs ");
    title.querySelector(".kappa").textContent = k;
    const table = document.createElement("table");
    const head = table.insertRow();
    head.insertCell().textContent = `${p.inspectors[0]} \\ ${p.inspectors[1]}`;
    [0, 1, 2].forEach((s) => { head.insertCell().textContent = s; });
    p.confusion.forEach((row, s) => {
      const tr = table.insertRow();
      tr.insertCell().textContent = s;
      row.forEach((c) => { tr.insertCell().textContent = c; });
    });
    const queue = document.createElement("p");
    queue.textContent = `Review queue (|difference| = 2): ${p.disagreements.length} candidate(s) `;
    for (const sid of p.disagreements) {
      const a2 = document.createElement("a");
      a2.href = "#"; a2.textContent = sid; a2.className = "review";
      a2.addEventListener("click", (ev) => { ev.preventDefault(); show(S.order.indexOf(sid)); });
      queue.append(a2, " ");
    }
    div.append(title, table, queue);
    box.append(div);
  }
  if (a.truth && a.truth[S.inspector]) {
    const t = a.truth[S.inspector];
    const p = document.createElement("p");
    p.className = "truth";
    p.textContent = `Mock truth: your score ≥ 1 agrees with the truth for ${(100 * t.accuracy).toFixed(1)} % of ${t.n} candidates (score 2: ${(100 * t.accuracy_confirmed).toFixed(1)} %).`;
    box.append(p);
  }
}

function onKey(ev) {
  if (!S.inspector || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const k = ev.key;
  if (k === "?") { $("help").hidden = !$("help").hidden; return ev.preventDefault(); }
  if (k === "Escape") { $("help").hidden = true; return; }
  const cols = 10;
  const moves = S.mosaic
    ? { ArrowRight: 1, j: 1, ArrowLeft: -1, k: -1, ArrowDown: cols, ArrowUp: -cols,
        PageDown: S.mosaicSize, PageUp: -S.mosaicSize }
    : { ArrowRight: 1, ArrowDown: 1, j: 1, ArrowLeft: -1, ArrowUp: -1, k: -1 };
  if (k in moves) { ev.preventDefault(); show(S.idx + moves[k]); return; }
  if (k === "0" || k === "1" || k === "2") { ev.preventDefault(); score(Number(k)); return; }
  if (k === "u") { undo(); return; }
  if (k === "n") {
    const j = S.order.findIndex((sid, n) => n > S.idx && !S.scores.has(sid));
    const first = S.order.findIndex((sid) => !S.scores.has(sid));
    if (j >= 0 || first >= 0) show(j >= 0 ? j : first);
    return;
  }
  if (k === "+" || k === "=") { S.zoom = Math.min(8, S.zoom + 1); applyZoom(); return; }
  if (k === "-") { S.zoom = Math.max(1, S.zoom - 1); applyZoom(); return; }
  if (k === "s") {
    S.stretch = S.stretches[(S.stretches.indexOf(S.stretch) + 1) % S.stretches.length];
    show(S.idx);
    return;
  }
  if (k === "m") { S.mosaic = !S.mosaic; toggleViews(); show(S.idx); return; }
  if (k === "Enter" && S.mosaic) { S.mosaic = false; toggleViews(); show(S.idx); }
}

function applyZoom() {
  document.documentElement.style.setProperty("--zoom", S.zoom);
  renderProgress();
}

async function start(name) {
  const cfg = await api("GET", "/api/config");
  S.prefetch = cfg.prefetch; S.mosaicSize = cfg.mosaic_size; S.stretch = cfg.stretch;
  S.stretches = cfg.stretches; S.total = cfg.candidates;
  const s = await api("POST", "/api/session", { inspector: name });
  S.inspector = name; S.session = s.session; S.order = s.order;
  S.scores = new Map(Object.entries(s.scores).map(([k, v]) => [Number(k), v]));
  localStorage.setItem("pc-inspector", name);
  $("who").textContent = name;
  $("login").hidden = true;
  if (!S.order.length) { status("there are no candidates to inspect"); return; }
  toggleViews();
  const resume = S.order.findIndex((sid) => !S.scores.has(sid));
  await show(resume >= 0 ? resume : 0);
  if (s.progress.done) await showAgreement();
}

document.addEventListener("keydown", onKey);
$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  start($("name").value.trim()).catch((e) => status(e.message));
});
const given = new URLSearchParams(location.search).get("inspector");
$("name").value = given || localStorage.getItem("pc-inspector") || "";
if (given) start(given).catch((e) => status(e.message));
