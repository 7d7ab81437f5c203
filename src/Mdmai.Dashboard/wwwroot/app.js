// The MDMAI dashboard: one small module, no framework, no build step (docs/adr/0008-dashboard-front-end.md).
// Every screen is drawn from the JSON API under /api/v1; the DOM is built with h(), never from HTML strings, so no
// record's text can become markup.

let csrf = "";
let session = {};
const main = () => document.getElementById("main");

// ---------------------------------------------------------------- helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children; like h(), skips null, undefined and false (replaceChildren would print "null"). */
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false));
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children.flat()) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

const number = n => (n ?? 0).toLocaleString("en");
const when = t => t ? new Date(t).toLocaleString() : "—";
const ago = t => {
  const minutes = Math.round((Date.now() - new Date(t).getTime()) / 60000);
  return minutes < 1 ? "just now" : minutes < 90 ? `${minutes} min ago` : minutes < 36 * 60 ? `${Math.round(minutes / 60)} h ago` : `${Math.round(minutes / 1440)} days ago`;
};
const seconds = t => t === null || t === undefined ? "—" : t < 1 ? `${t.toFixed(2)} s` : t < 90 ? `${t.toFixed(1)} s` : `${Math.floor(t / 60)} min ${Math.round(t % 60)} s`;

function toast(message, error = false) {
  const el = h("div", { class: error ? "toast error" : "toast" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), error ? 8000 : 4000);
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(method, path, body, raw = false) {
  const options = { method, headers: {} };
  if (method !== "GET") options.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    if (body instanceof Blob) options.body = body;
    else { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  }
  const response = await fetch(path, options);
  if (raw && response.ok) return response;
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json?.error?.code ?? "error", json?.error?.message ?? response.statusText);
  return json;
}

async function guarded(work) {
  try { return await work(); } catch (e) { toast(e.message, true); return undefined; }
}

/** Asks before a destructive action; resolves true only when the user confirms. */
function confirmDialog(title, text, action = "Confirm") {
  return new Promise(resolve => {
    const dialog = document.getElementById("dialog");
    const form = document.getElementById("dialog-form");
    fill(form,
      h("h2", {}, title), h("p", {}, text),
      h("div", { class: "actions" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "danger", "data-confirm": "1" }, action)));
    dialog.onclose = () => resolve(dialog.returnValue === "ok");
    dialog.showModal();
  });
}

/** A form in the dialog; resolves with the values, or null when cancelled. */
function formDialog(title, fields, submit = "Save") {
  return new Promise(resolve => {
    const dialog = document.getElementById("dialog");
    const form = document.getElementById("dialog-form");
    const inputs = {};
    fill(form, h("h2", {}, title), ...fields.map(f => {
      const id = `f-${f.name}`;
      let input;
      if (f.values?.length) input = h("select", { id, name: f.name }, h("option", { value: "" }, ""), f.values.map(v => h("option", { value: v, selected: String(f.value ?? "") === v }, v)));
      else if (f.kind === "boolean") input = h("select", { id, name: f.name }, h("option", { value: "" }, ""), ["true", "false"].map(v => h("option", { value: v, selected: String(f.value ?? "") === v }, v)));
      else if (f.kind === "json" || f.long) input = h("textarea", { id, name: f.name }, f.value === undefined || f.value === null ? "" : typeof f.value === "string" ? f.value : JSON.stringify(f.value, null, 2));
      else input = h("input", { id, name: f.name, type: f.type || "text", value: f.value ?? "", autocomplete: "off" });
      inputs[f.name] = { input, field: f };
      return h("div", { class: "form-row" }, h("label", { for: id }, f.label || f.name, f.required ? " *" : ""), input);
    }), h("div", { class: "actions" }, h("button", { value: "cancel", type: "submit", formnovalidate: true }, "Cancel"), h("button", { value: "ok", type: "submit", class: "primary" }, submit)));
    dialog.onclose = () => {
      if (dialog.returnValue !== "ok") return resolve(null);
      const values = {};
      for (const [name, { input, field }] of Object.entries(inputs)) {
        const text = input.value.trim();
        if (text === "" && !field.keepEmpty) continue;
        values[name] = field.kind === "integer" ? Number.parseInt(text, 10)
          : field.kind === "real" ? Number.parseFloat(text)
          : field.kind === "boolean" ? text === "true"
          : field.kind === "json" ? JSON.parse(text)
          : text;
      }
      resolve(values);
    };
    dialog.showModal();
  });
}

function table(columns, rows, onRow, empty = "Nothing here yet.") {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map(c => h("th", { class: [c.num ? "num" : "", c.optional ? "optional" : "", c.onSort ? "sortable" : ""].join(" "), onclick: c.onSort }, c.title, c.sorted ? (c.sorted === "desc" ? " ▼" : " ▲") : "")))),
    h("tbody", {}, rows.length === 0
      ? h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, empty))
      : rows.map(r => h("tr", { class: onRow ? "clickable" : "", onclick: onRow ? () => onRow(r) : null },
          columns.map(c => h("td", { class: [c.num ? "num" : "", c.optional ? "optional" : ""].join(" ") }, c.value(r))))))));
}

function pager(page, go) {
  const from = page.total_count === 0 ? 0 : page.offset + 1;
  const to = page.offset + page.items.length;
  return h("div", { class: "pager" },
    h("button", { disabled: page.offset === 0, onclick: () => go(Math.max(0, page.offset - page.limit)) }, "‹ Previous"),
    h("span", { class: "muted" }, `${number(from)}–${number(to)} of ${number(page.total_count)}`),
    h("button", { disabled: !page.has_more, onclick: () => go(page.offset + page.limit) }, "Next ›"));
}

function card(label, value, sub) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub ? h("div", { class: "sub" }, sub) : null);
}

/** Charts of values over time, in SVG (no library): bars per snapshot, a line per day. The top value is written. */
function chart(points, value, label, format, kind) {
  const width = 600, height = 140, pad = 18, top = 16;
  if (points.length === 0) return h("p", { class: "muted" }, "No data yet.");
  const values = points.map(value);
  const max = Math.max(...values) || 1;
  const y = v => height - pad - (height - pad - top) * v / max;
  const marks = [];
  if (kind === "bars") {
    const w = (width - pad) / points.length;
    points.forEach((p, i) => marks.push(s("rect", { class: "bar", x: pad + i * w + 1, y: y(values[i]), width: Math.max(1, w - 2), height: Math.max(0.5, height - pad - y(values[i])) }, s("title", {}, `${p.label}: ${p.text}`))));
  } else {
    const step = points.length > 1 ? (width - pad * 2) / (points.length - 1) : 0;
    const x = i => points.length > 1 ? pad + i * step : width / 2;
    if (points.length > 1) marks.push(s("path", { class: "line", d: points.map((p, i) => `${i === 0 ? "M" : "L"}${x(i)},${y(values[i])}`).join(" ") }));
    if (points.length <= 60) points.forEach((p, i) => marks.push(s("circle", { class: "dot", cx: x(i), cy: y(values[i]), r: 3 }, s("title", {}, `${p.label}: ${p.text}`))));
  }
  return s("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label },
    s("line", { class: "baseline", x1: pad, x2: width, y1: height - pad, y2: height - pad }),
    marks,
    s("text", { class: "axis", x: 0, y: 10 }, `${label} · top ${format(max)}`),
    s("text", { class: "axis", x: pad, y: height - 4 }, points[0].label),
    points.length > 1 ? s("text", { class: "axis", x: width, y: height - 4, "text-anchor": "end" }, points[points.length - 1].label) : null);
}

// ---------------------------------------------------------------- jobs: live progress (SSE, with polling as the fallback)

function jobView(job) {
  const bar = h("div");
  const state = h("span", { class: "pill" });
  const meta = h("div", { class: "meta" });
  const result = h("div");
  const cancel = h("button", { class: "danger", onclick: () => guarded(() => api("POST", `/api/v1/jobs/${job.id}/cancel`)) }, "Cancel");
  const view = h("div", { class: "job", "data-job": job.id }, h("div", { class: "toolbar" }, h("strong", {}, job.title), state, h("span", { class: "grow" }), cancel), h("div", { class: "progress" }, bar), meta, result);
  const update = j => {
    const p = j.progress;
    const fraction = j.state === "succeeded" ? 1 : p.total_bytes ? p.bytes / p.total_bytes : p.total_files ? p.files / p.total_files : 0;
    bar.style.width = `${Math.min(100, Math.round(fraction * 100))}%`;
    state.textContent = j.state;
    state.className = `pill ${j.state === "succeeded" ? "ok" : j.state === "failed" ? "error" : j.state === "cancelled" ? "warning" : ""}`;
    view.dataset.state = j.state;
    fill(meta,
      p.bytes || p.total_bytes ? h("span", {}, `${bytes(p.bytes)}${p.total_bytes ? ` of ${bytes(p.total_bytes)}` : ""}`) : null,
      p.files ? h("span", {}, `${number(p.files)}${p.total_files ? ` of ${number(p.total_files)}` : ""} files`) : null,
      p.rate_bytes_per_second ? h("span", {}, `${bytes(p.rate_bytes_per_second)}/s`) : null,
      p.eta_seconds !== null && p.eta_seconds !== undefined ? h("span", {}, `ETA ${seconds(p.eta_seconds)}`) : null,
      h("span", {}, `elapsed ${seconds(p.elapsed_seconds)}`),
      p.current ? h("span", { class: "optional" }, p.current) : null);
    cancel.hidden = j.state !== "running";
    if (j.state === "failed") fill(result, h("p", { class: "pill error" }, j.error?.message ?? "failed"));
  };
  update(job);
  return { view, done: follow(job, update) };
}

/** Follows a job until it ends: Server-Sent Events, or polling when the stream cannot be had. */
function follow(job, update) {
  return new Promise(resolve => {
    let finished = false;
    const end = j => { if (finished) return; finished = true; update(j); resolve(j); };
    const poll = async () => {
      while (!finished) {
        const j = await api("GET", `/api/v1/jobs/${job.id}`).catch(() => null);
        if (j) { update(j); if (j.state !== "running") return end(j); }
        await new Promise(r => setTimeout(r, 500));
      }
    };
    if (!window.EventSource) return poll();
    const source = new EventSource(`/api/v1/jobs/${job.id}/events`);
    source.addEventListener("progress", e => update(JSON.parse(e.data)));
    source.addEventListener("done", e => { source.close(); end(JSON.parse(e.data)); });
    source.onerror = () => { source.close(); if (!finished) poll(); };
  });
}

/** Starts a job and shows it in the jobs dock above every screen (it stays while the user moves on). */
async function startJob(_container, method, path, body) {
  const job = await api(method, path, body);
  const { view, done } = jobView(job);
  const dock = document.getElementById("jobs");
  view.querySelector(".toolbar").append(h("button", { "aria-label": "dismiss", onclick: () => view.remove() }, "×"));
  dock.prepend(view);
  while (dock.children.length > 5) dock.lastElementChild.remove();
  const ended = await done;
  if (ended.state === "succeeded") toast(`${ended.title}: done`);
  else if (ended.state === "failed") toast(`${ended.title}: ${ended.error?.message}`, true);
  return ended;
}

// ---------------------------------------------------------------- screens

const screens = {
  async overview() {
    const o = await api("GET", "/api/v1/overview");
    const st = o.status, f = o.files, b = o.backups;
    const rows = st.database.row_counts;
    const saved = f.logical_bytes - f.stored_bytes;
    return [
      h("h1", {}, "Overview"),
      h("div", { class: "grid" },
        card("Data folder", st.data_dir.split(/[\\/]/).filter(Boolean).pop() || st.data_dir, st.data_dir),
        card("Database", bytes(st.database.file_bytes), `WAL ${bytes(st.database.wal_bytes)} · schema ${st.database.schema_version}`),
        card("File store", bytes(f.stored_bytes), `${number(f.files)} files · ${bytes(f.logical_bytes)} before savings`),
        card("Saved by dedup and compression", bytes(Math.max(0, saved)), f.logical_bytes ? `${Math.round(100 * Math.max(0, saved) / f.logical_bytes)} % of the files' bytes` : ""),
        card("Cache hit rate", `${Math.round(100 * (o.cache_now.hit_rate || 0))} %`, `${bytes(o.cache_now.bytes)} of ${bytes(o.cache_now.capacity_bytes)}`),
        card("Last backup", b?.last ? ago(b.last.time) : "none yet", [b?.last ? when(b.last.time) : null, b?.next_auto_backup ? `next auto backup ${when(b.next_auto_backup)}` : st.backup_repository.path].filter(Boolean).join(" · ")),
        card("Integrity", o.last_check ? (o.last_check.ok ? "clean" : `${o.last_check.errors} error(s)`) : st.last_integrity_check ? `${st.last_integrity_check.errors} error(s)` : "not checked yet",
          o.last_check ? when(o.last_check.checked_at) : st.last_integrity_check ? `scheduled check ${when(st.last_integrity_check.checked_at)}` : "")),
      h("div", { class: "two" },
        h("div", { class: "panel" }, h("h2", {}, "Store growth"),
          chart((o.store_growth || []).map(g => ({ label: g.day, text: bytes(g.stored_bytes), v: g.stored_bytes })), p => p.v, "stored bytes", bytes, "line")),
        h("div", { class: "panel" }, h("h2", {}, "Backup history"),
          (b?.history || []).length === 0 ? h("p", { class: "muted" }, "No backups yet.") : [
            chart(b.history.map(x => ({ label: new Date(x.time).toLocaleDateString(), text: `${bytes(x.stored_bytes)} added in ${seconds(x.duration_seconds)}`, v: x.stored_bytes })), p => p.v, "bytes added per snapshot", bytes, "bars"),
            chart(b.history.map(x => ({ label: new Date(x.time).toLocaleDateString(), text: seconds(x.duration_seconds), v: x.duration_seconds })), p => p.v, "duration per snapshot", seconds, "bars")])),
      h("div", { class: "panel" }, h("h2", {}, "Records"),
        table([{ title: "table", value: r => r[0] }, { title: "records", num: true, value: r => number(r[1]) }], Object.entries(rows))),
    ];
  },

  async data(params) {
    const kinds = (await api("GET", "/api/v1/entities")).items;
    const kind = kinds.find(k => k.name === (params.get("type") || "campaign")) || kinds[0];
    const campaigns = (await api("GET", "/api/v1/entities/campaign?limit=1000&sort=name")).items;
    const state = { offset: Number(params.get("offset") || 0), sort: params.get("sort") || "", desc: params.get("desc") === "1", campaign: params.get("campaign_id") || "", q: params.get("q") || "" };
    const results = h("div");
    const list = h("div");
    const nav = changes => { const p = new URLSearchParams({ type: kind.name, ...Object.fromEntries(Object.entries({ ...state, ...changes }).filter(([, v]) => v !== "" && v !== false).map(([k, v]) => [k === "campaign" ? "campaign_id" : k, v === true ? "1" : v])) }); location.hash = `#/data?${p}`; };

    const search = h("input", { type: "search", placeholder: "Search names, descriptions and notes…", value: state.q, "aria-label": "search", class: "grow" });
    const runSearch = async () => {
      const q = search.value.trim();
      if (!q) { fill(results); return; }
      const hits = await guarded(() => api("GET", `/api/v1/search?q=${encodeURIComponent(q)}&limit=50`));
      if (!hits) return;
      fill(results, h("div", { class: "panel", id: "search-results" }, h("h2", {}, `Search: ${hits.total_count} hit(s)`), table(
        [{ title: "kind", value: r => r.entity_type }, { title: "name", value: r => r.name }, { title: "snippet", value: r => snippet(r.snippet) }], hits.items,
        r => showRecord(kinds.find(k => k.table === r.entity_type) || kind, r.id))));
    };
    search.addEventListener("keydown", e => { if (e.key === "Enter") runSearch(); });

    const query = new URLSearchParams({ limit: "50", offset: String(state.offset) });
    if (state.sort) query.set("sort", state.sort);
    if (state.desc) query.set("desc", "true");
    if (state.campaign && kind.fields.some(f => f.name === "campaign_id" && f.filterable)) query.set("campaign_id", state.campaign);
    const page = await api("GET", `/api/v1/entities/${kind.name}?${query}`);
    // The columns a game master reads first, in that order; when it was last changed at the end.
    const preferred = ["session_number", "name", "title", "key", "system", "status", "role", "class", "race", "level", "item_type", "location_type", "category"];
    const rank = f => preferred.includes(f.name) ? preferred.indexOf(f.name) : preferred.length;
    const shown = [...kind.fields.filter(f => preferred.includes(f.name) || (f.kind === "enum" && !f.managed)).sort((a, b) => rank(a) - rank(b)).slice(0, 6),
      ...kind.fields.filter(f => f.name === "updated_at")];
    fill(list,
      table(shown.map(f => ({
        title: f.name, optional: f.name.endsWith("_at"),
        sorted: state.sort === f.name ? (state.desc ? "desc" : "asc") : null,
        onSort: f.sortable ? () => nav({ sort: f.name, desc: state.sort === f.name ? !state.desc : false, offset: 0 }) : null,
        value: r => f.name.endsWith("_at") ? when(r[f.name]) : String(r[f.name] ?? ""),
      })), page.items, r => showRecord(kind, r.id)),
      pager(page, offset => nav({ offset })));

    return [
      h("h1", {}, "Campaign data"),
      h("div", { class: "toolbar" },
        h("select", { "aria-label": "kind", onchange: e => { location.hash = `#/data?type=${e.target.value}`; } }, kinds.map(k => h("option", { value: k.name, selected: k.name === kind.name }, k.name))),
        kind.fields.some(f => f.name === "campaign_id" && f.filterable)
          ? h("select", { "aria-label": "campaign", onchange: e => nav({ campaign: e.target.value, offset: 0 }) }, h("option", { value: "" }, "all campaigns"), campaigns.map(c => h("option", { value: c.id, selected: c.id === state.campaign }, c.name)))
          : null,
        search, h("button", { onclick: runSearch }, "Search"),
        h("button", { class: "primary", onclick: () => editRecord(kind, null, state.campaign) }, `New ${kind.name}`)),
      results, list,
    ];
  },

  async files(params) {
    const offset = Number(params.get("offset") || 0);
    const category = params.get("category") || "";
    const uploads = h("div");
    const summary = h("div", { class: "grid" });
    const list = h("div", { id: "file-list" });
    const refresh = async () => {
      const [page, stats] = await Promise.all([api("GET", `/api/v1/files?limit=50&offset=${offset}${category ? `&category=${category}` : ""}`), api("GET", "/api/v1/files/stats")]);
      fill(summary,
        card("Files", number(stats.files), `${number(stats.objects)} distinct contents`),
        card("Their size", bytes(stats.logical_bytes)),
        card("On disk", bytes(stats.stored_bytes), "after deduplication and compression"));
      fill(list, h("div", { class: "toolbar" },
        h("select", { "aria-label": "category", onchange: e => { location.hash = `#/files?category=${e.target.value}`; } },
          h("option", { value: "" }, "all categories"), Object.keys(stats.by_category || {}).map(c => h("option", { value: c, selected: c === category }, c)))),
        fileTable(page, category, refresh));
    };
    const input = h("input", { type: "file", multiple: true, "aria-label": "files to upload", onchange: e => uploadAll([...e.target.files], uploads, refresh) });
    const zone = h("div", { class: "dropzone", id: "dropzone" }, "Drop files here to add them to the store — or ", input);
    zone.addEventListener("dragover", e => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", e => { e.preventDefault(); zone.classList.remove("over"); uploadAll([...e.dataTransfer.files], uploads, refresh); });
    await refresh();
    return [h("h1", {}, "Files"), summary, zone, uploads, list];
  },

  async backups(params) {
    const info = await api("GET", "/api/v1/backups");
    const jobs = h("div", { id: "backup-jobs" });
    const create = h("button", { class: "primary", id: "backup-now", onclick: async () => {
      create.disabled = true;
      await guarded(() => startJob(jobs, "POST", "/api/v1/backups/snapshots", { description: "from the dashboard" }));
      create.disabled = false;
      route();
    } }, "Back up now");
    const top = [
      h("h1", {}, "Backups"),
      h("div", { class: "grid" },
        card("Repository", info.location.split("/").slice(-2).join("/"), info.location),
        card("Snapshots", number(info.snapshots ?? 0), info.last ? `last ${when(info.last.time)}` : "none yet"),
        card("Stored", bytes(info.stored_bytes ?? 0), info.encrypted ? "encrypted" : info.exists ? "not encrypted" : ""),
        card("Schedule", info.auto_backup_interval_minutes ? `every ${info.auto_backup_interval_minutes} min` : "off", info.next_auto_backup ? `next ${when(info.next_auto_backup)}` : `keeps ${info.max_backup_count} auto snapshots`),
        info.offsite_location ? card("Off-site", info.offsite_location) : null),
      h("div", { class: "toolbar" }, create,
        info.exists ? h("button", { onclick: () => guarded(() => startJob(jobs, "POST", "/api/v1/backups/verify", { read_data: true, subset_percent: 100 })) }, "Verify (read all data)") : null,
        info.exists ? h("button", { onclick: () => retentionEditor(jobs) }, "Retention…") : null,
        info.exists ? h("button", { class: "danger", onclick: async () => { if (await confirmDialog("Prune", "Delete from the repository everything no snapshot uses? Forgotten snapshots cannot be restored afterwards.", "Prune")) await guarded(() => startJob(jobs, "POST", "/api/v1/backups/prune", { confirm: true })); } }, "Prune") : null,
        info.offsite_location ? h("button", { onclick: () => guarded(() => startJob(jobs, "POST", "/api/v1/backups/offsite", {})) }, "Copy off-site now") : null),
      jobs,
    ];
    if (!info.exists) return [...top, h("p", { class: "muted" }, "No backup yet: “Back up now” makes the repository and the first snapshot.")];

    const snapshot = params.get("snapshot");
    if (snapshot) return [...top, await browseSnapshot(snapshot, params.get("path") || "")];
    const versions = params.get("versions");
    if (versions) return [...top, await fileVersions(versions)];

    const offset = Number(params.get("offset") || 0);
    const page = await api("GET", `/api/v1/backups/snapshots?limit=50&offset=${offset}`);
    const picked = new Set();
    const diffButton = h("button", { disabled: true, onclick: () => showDiff([...picked]) }, "Diff the two selected");
    return [...top,
      h("h2", {}, "Snapshots (newest first)"),
      h("div", { class: "toolbar" }, diffButton),
      table([
        { title: "", value: x => h("input", { type: "checkbox", "aria-label": `select ${x.id.slice(0, 8)}`, onclick: e => { e.stopPropagation(); e.target.checked ? picked.add(x.id) : picked.delete(x.id); diffButton.disabled = picked.size !== 2; } }) },
        { title: "id", value: x => x.id.slice(0, 8) },
        { title: "time", value: x => when(x.time) },
        { title: "kind", value: x => x.kind },
        { title: "files", num: true, optional: true, value: x => number(x.stats.files) },
        { title: "size", num: true, value: x => bytes(x.stats.bytes) },
        { title: "added", num: true, optional: true, value: x => bytes(x.stats.stored_bytes) },
        { title: "description", optional: true, value: x => [x.description ?? "", ...(x.tags || []).map(t => [" ", h("span", { class: "pill" }, t)])] },
      ], page.items, x => { location.hash = `#/backups?snapshot=${x.id}`; }),
      pager(page, o => { location.hash = `#/backups?offset=${o}`; }),
    ];
  },

  async integrity() {
    const state = await api("GET", "/api/v1/integrity");
    const jobs = h("div");
    const report = h("div", { id: "integrity-report" });
    const show = r => {
      if (!r) { fill(report, h("p", { class: "muted" }, "No check from here yet.")); return; }
      const order = { error: 0, warning: 1, info: 2 };
      fill(report,
        h("p", {}, h("span", { class: `pill ${r.errors ? "error" : r.warnings ? "warning" : "ok"}` }, r.errors ? `${r.errors} error(s)` : r.warnings ? `${r.warnings} warning(s)` : "clean"),
          ` checked ${when(r.checked_at)} in ${seconds(r.duration_seconds)}; ${number(r.objects_read)} of ${number(r.objects)} objects re-read`),
        table([{ title: "severity", value: i => h("span", { class: `pill ${i.severity}` }, i.severity) }, { title: "area", value: i => i.area }, { title: "subject", optional: true, value: i => i.subject }, { title: "what", value: i => i.message }],
          [...r.issues].sort((a, b) => order[a.severity] - order[b.severity]), null, "No issues: every object, record and count agrees."),
        r.errors || r.warnings ? h("div", { class: "toolbar" }, h("button", { class: "danger", onclick: async () => {
          if (await confirmDialog("Repair", "Quarantine what does not belong, recount, and restore damaged files from the backups? Nothing is deleted: what is set aside goes to quarantine/.", "Repair")) {
            const ended = await guarded(() => startJob(jobs, "POST", "/api/v1/integrity/repair", { confirm: true }));
            if (ended?.result) report.append(h("pre", {}, JSON.stringify(ended.result, null, 2)));
          }
        } }, "Repair…")) : null);
    };
    show(state.last_report);
    const run = readData => guarded(async () => { const ended = await startJob(jobs, "POST", "/api/v1/integrity/check", { read_data: readData }); if (ended.result) show(ended.result); });
    return [
      h("h1", {}, "Integrity"),
      h("p", { class: "muted" }, state.last_scheduled ? `Last scheduled check ${when(state.last_scheduled.checked_at)}: ${state.last_scheduled.errors} error(s), ${state.last_scheduled.warnings} warning(s).` : "No scheduled check has run yet."),
      h("div", { class: "toolbar" }, h("button", { class: "primary", id: "check-now", onclick: () => run(false) }, "Check now"), h("button", { onclick: () => run(true) }, "Check, reading all data")),
      jobs, report,
    ];
  },

  async settings() {
    const s = await api("GET", "/api/v1/settings");
    const c = s.config;
    const fields = [
      { name: "auto_backup_interval_minutes", label: "Auto backup every (minutes, 0 = off)", kind: "integer", value: c.auto_backup_interval_minutes },
      { name: "max_backup_count", label: "Auto snapshots to keep", kind: "integer", value: c.max_backup_count },
      { name: "backup_compression_level", label: "Backup compression level (zstd 1–19)", kind: "integer", value: c.backup_compression_level },
      { name: "backup_on_shutdown", label: "Back up when the app closes", kind: "boolean", value: c.backup_on_shutdown },
      { name: "backup_repository", label: "Backup repository (folder or s3://BUCKET/PREFIX)", value: c.backup_repository },
      { name: "offsite_repository", label: "Off-site repository (optional)", value: c.offsite_repository },
      { name: "integrity_checking_enabled", label: "Scheduled integrity checks", kind: "boolean", value: c.integrity_checking_enabled },
      { name: "integrity_check_interval_hours", label: "Check every (hours)", kind: "integer", value: c.integrity_check_interval_hours },
      { name: "cache_size_limit_mb", label: "Cache size (MB)", kind: "integer", value: c.cache_size_limit_mb },
    ];
    const form = h("form", { id: "settings-form", onsubmit: async e => {
      e.preventDefault();
      const body = {};
      for (const f of fields) {
        const el = form.elements[f.name];
        const text = el.value.trim();
        body[f.name] = text === "" ? null : f.kind === "integer" ? Number.parseInt(text, 10) : f.kind === "boolean" ? text === "true" : text;
      }
      if (body.backup_repository === null) delete body.backup_repository;
      const saved = await guarded(() => api("PUT", "/api/v1/settings", body));
      if (saved) toast("Saved. Schedules and repositories take effect when the app starts next.");
    } }, fields.map(f => h("div", { class: "form-row" }, h("label", { for: f.name }, f.label),
      f.kind === "boolean"
        ? h("select", { id: f.name, name: f.name }, ["true", "false"].map(v => h("option", { value: v, selected: String(f.value) === v }, v)))
        : h("input", { id: f.name, name: f.name, value: f.value ?? "", inputmode: f.kind === "integer" ? "numeric" : null }))),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Save")));
    const password = h("form", { onsubmit: async e => {
      e.preventDefault();
      const [current, next, again] = ["current", "new", "again"].map(n => password.elements[n].value);
      if (next !== again) return toast("The two new passwords differ.", true);
      const r = await guarded(() => api("POST", "/api/v1/settings/password", { current, new: next }));
      if (r) { toast(`Password changed${r.backup_repository ? ", and the backup repository's with it" : ""}.`); password.reset(); }
    } },
      h("div", { class: "form-row" }, h("label", { for: "current" }, "Current password"), h("input", { id: "current", name: "current", type: "password", autocomplete: "current-password" })),
      h("div", { class: "form-row" }, h("label", { for: "new" }, "New password (8 characters or more)"), h("input", { id: "new", name: "new", type: "password", autocomplete: "new-password" })),
      h("div", { class: "form-row" }, h("label", { for: "again" }, "New password again"), h("input", { id: "again", name: "again", type: "password", autocomplete: "new-password" })),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Change password")));
    return [
      h("h1", {}, "Settings"),
      h("div", { class: "two" },
        h("div", { class: "panel" }, h("h2", {}, "Schedules, retention, repositories"), form),
        h("div", { class: "panel" }, h("h2", {}, "Password"), s.encrypted ? password : h("p", { class: "muted" }, "This data folder is not encrypted (mdmai init --encrypt sets a password)."),
          h("h2", {}, "Data folder"), h("p", {}, session.data_dir))),
    ];
  },
};


/** What the import learned about a file: a PDF's pages and title, an image's size. */
function fileDetails(m) {
  if (m.page_count) return `${m.page_count} pages${m.title ? ` · ${m.title}` : ""}`;
  if (m.width && m.height) return `${m.width} × ${m.height}`;
  return m.pdf_unreadable ? "PDF could not be read" : "";
}

function fileTable(page, category, refresh) {
  return h("div", {}, table([
    { title: "", value: f => f.mime_type.startsWith("image/") && f.size < 4 * 1024 * 1024 ? h("img", { class: "thumb", loading: "lazy", alt: "", src: `/api/v1/files/${f.id}/content?inline=1` }) : "" },
    { title: "name", value: f => f.name },
    { title: "category", value: f => f.category },
    { title: "type", optional: true, value: f => f.mime_type },
    { title: "size", num: true, value: f => bytes(f.size) },
    { title: "details", optional: true, value: f => fileDetails(f.metadata || {}) },
    { title: "added", optional: true, value: f => when(f.created_at) },
    { title: "", value: f => [
          h("a", { href: `/api/v1/files/${f.id}/content`, download: f.name, "data-download": f.id }, "Download"), " ",
          h("button", { class: "danger", onclick: async e => { e.stopPropagation(); if (await confirmDialog("Delete file", `Delete “${f.name}” from the store? Its content goes when nothing else shares it.`, "Delete")) { await guarded(() => api("DELETE", `/api/v1/files/${f.id}`, { confirm: true })); refresh(); } } }, "Delete")] },
  ], page.items),
  pager(page, o => { location.hash = `#/files?offset=${o}${category ? `&category=${category}` : ""}`; }));
}

// ---------------------------------------------------------------- records

function snippet(text) {
  // The server marks matches with [ and ]; they become <mark>, the rest stays text.
  const parts = [];
  let rest = text || "";
  while (rest.length) {
    const open = rest.indexOf("["), close = rest.indexOf("]", open + 1);
    if (open < 0 || close < 0) { parts.push(rest); break; }
    parts.push(rest.slice(0, open), h("mark", {}, rest.slice(open + 1, close)));
    rest = rest.slice(close + 1);
  }
  return parts;
}

async function showRecord(kind, id) {
  const record = await guarded(() => api("GET", `/api/v1/entities/${kind.name}/${id}`));
  if (!record) return;
  const history = await api("GET", `/api/v1/entities/${kind.name}/${id}/history?limit=20`).catch(() => ({ items: [] }));
  const dialog = document.getElementById("dialog");
  const form = document.getElementById("dialog-form");
  fill(form,
    h("h2", {}, `${kind.name}: ${record.name ?? record.title ?? record.key ?? id}`),
    h("div", { class: "table-wrap" }, h("table", {}, h("tbody", {}, kind.fields.map(f => h("tr", {}, h("th", {}, f.name), h("td", {}, typeof record[f.name] === "object" && record[f.name] !== null ? JSON.stringify(record[f.name]) : String(record[f.name] ?? ""))))))),
    h("h2", {}, "History"),
    table([{ title: "when", value: a => when(a.timestamp) }, { title: "change", value: a => a.operation }, { title: "old → new", value: a => h("pre", {}, changes(a)) }], history.items || []),
    h("div", { class: "actions" },
      h("button", { value: "close", type: "submit" }, "Close"),
      h("button", { type: "button", class: "danger", onclick: async () => { dialog.close(); if (await confirmDialog(`Delete ${kind.name}`, "Delete this record and what belongs to it? This cannot be undone here.", "Delete")) { if (await guarded(() => api("DELETE", `/api/v1/entities/${kind.name}/${id}`, { confirm: true }))) { toast("Deleted."); route(); } } } }, "Delete"),
      h("button", { type: "button", class: "primary", onclick: () => { dialog.close(); editRecord(kind, record); } }, "Edit")));
  dialog.onclose = null;
  dialog.showModal();
}

function changes(audit) {
  const before = audit.old_values || {};
  const after = audit.new_values || {};
  return Object.keys({ ...before, ...after }).filter(k => JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null) && !k.endsWith("_at"))
    .map(k => `${k}: ${JSON.stringify(before[k] ?? null)} → ${JSON.stringify(after[k] ?? null)}`).join("\n");
}

async function editRecord(kind, record, campaign) {
  const fields = kind.fields.filter(f => !f.managed).map(f => ({ ...f, value: record ? record[f.name] : f.name === "campaign_id" ? campaign : undefined, keepEmpty: false }));
  const values = await formDialog(record ? `Edit ${kind.name}` : `New ${kind.name}`, fields, record ? "Save" : "Create");
  if (!values) return;
  const saved = await guarded(() => record ? api("PATCH", `/api/v1/entities/${kind.name}/${record.id}`, values) : api("POST", `/api/v1/entities/${kind.name}`, values));
  if (saved) { toast(record ? "Saved." : `Created ${kind.name}.`); route(); }
}

// ---------------------------------------------------------------- files: uploads, several at once, streamed

async function uploadAll(files, container, refresh) {
  const queue = [...files];
  const workers = Array.from({ length: Math.min(3, queue.length) }, async () => {
    while (queue.length) await upload(queue.shift(), container);
  });
  await Promise.all(workers);
  await refresh();
}

function upload(file, container) {
  return new Promise(resolve => {
    const bar = h("div");
    const note = h("span", { class: "muted" }, "");
    const row = h("div", { class: "job", "data-upload": file.name }, h("div", { class: "toolbar" }, h("strong", {}, file.name), note), h("div", { class: "progress" }, bar));
    container.prepend(row);
    const xhr = new XMLHttpRequest();
    const started = performance.now();
    xhr.open("POST", `/api/v1/files?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.upload.onprogress = e => {
      if (!e.lengthComputable) return;
      bar.style.width = `${Math.round(100 * e.loaded / e.total)}%`;
      const rate = e.loaded / Math.max(0.001, (performance.now() - started) / 1000);
      note.textContent = `${bytes(e.loaded)} of ${bytes(e.total)} · ${bytes(rate)}/s · ETA ${seconds((e.total - e.loaded) / Math.max(1, rate))}`;
    };
    xhr.onload = () => {
      const json = xhr.responseText ? JSON.parse(xhr.responseText) : {};
      bar.style.width = "100%";
      row.dataset.state = xhr.status < 300 ? "done" : "failed";
      note.textContent = xhr.status >= 300 ? json.error?.message ?? "failed" : json.deduplicated ? "already in the store: stored once" : "added";
      if (xhr.status >= 300) toast(`${file.name}: ${note.textContent}`, true);
      resolve();
    };
    xhr.onerror = () => { note.textContent = "upload failed"; row.dataset.state = "failed"; resolve(); };
    xhr.send(file);
  });
}

// ---------------------------------------------------------------- backups: browse, versions, diff, download, restore, retention

async function browseSnapshot(id, path) {
  const snapshot = await api("GET", `/api/v1/backups/snapshots/${id}`);
  const listing = await api("GET", `/api/v1/backups/snapshots/${id}/entries?path=${encodeURIComponent(path)}`);
  const picked = new Set();
  const jobs = h("div");
  const count = h("span", { class: "muted" }, "nothing selected");
  const selectionChanged = () => { count.textContent = picked.size ? `${picked.size} selected` : "nothing selected"; download.disabled = restore.disabled = picked.size === 0; };
  const download = h("button", { disabled: true, id: "download-selected", onclick: () => downloadSelection(id, [...picked]) }, "Download selected (.tar)");
  const restore = h("button", { disabled: true, onclick: async () => {
    const values = await formDialog("Restore the selection to a folder", [{ name: "target", label: "Folder (on this computer; created if needed)", required: true }], "Restore");
    if (values?.target) await guarded(() => startJob(jobs, "POST", "/api/v1/backups/restore", { snapshot: id, paths: [...picked], target: values.target }));
  } }, "Restore selected to a folder…");
  const restoreAll = h("button", { class: "danger", id: "restore-in-place", onclick: async () => {
    if (!await confirmDialog("Restore the whole data folder", `Replace all campaign data and files with snapshot ${id.slice(0, 8)} of ${when(snapshot.time)}? What is there now is kept first in a pre-restore snapshot; the dashboard pauses while the folder is swapped.`, "Restore everything")) return;
    const ended = await guarded(() => startJob(jobs, "POST", "/api/v1/backups/restore", { snapshot: id, in_place: true, confirm: true }));
    if (ended?.state === "succeeded") location.hash = "#/overview";
  } }, "Restore the data folder to this…");
  const crumbs = path ? path.split("/") : [];
  return h("div", { class: "panel", id: "snapshot-browser" },
    h("h2", {}, `Snapshot ${id.slice(0, 8)} · ${when(snapshot.time)} · ${snapshot.kind}`),
    h("div", { class: "breadcrumbs" }, h("a", { href: `#/backups?snapshot=${id}` }, "/"),
      crumbs.map((c, i) => [h("span", {}, "/"), h("a", { href: `#/backups?snapshot=${id}&path=${encodeURIComponent(crumbs.slice(0, i + 1).join("/"))}` }, c)])),
    h("div", { class: "toolbar" }, h("a", { href: "#/backups" }, "‹ all snapshots"), h("span", { class: "grow" }), count, download, restore, restoreAll),
    jobs,
    table([
      { title: "", value: e => h("input", { type: "checkbox", "aria-label": `select ${e.path}`, "data-path": e.path, onclick: ev => { ev.stopPropagation(); ev.target.checked ? picked.add(e.path) : picked.delete(e.path); selectionChanged(); } }) },
      { title: "name", value: e => e.type === "directory" ? h("a", { href: `#/backups?snapshot=${id}&path=${encodeURIComponent(e.path)}` }, `${e.path.split("/").pop()}/`) : e.path.split("/").pop() },
      { title: "type", optional: true, value: e => e.type },
      { title: "size", num: true, value: e => e.type === "file" ? bytes(e.size) : "" },
      { title: "modified", optional: true, value: e => when(e.modified) },
      { title: "", value: e => e.type === "file" ? h("a", { href: `#/backups?versions=${encodeURIComponent(e.path)}` }, "versions") : "" },
    ], listing.items),
    listing.total_count > listing.items.length ? h("p", { class: "muted" }, `${listing.items.length} of ${listing.total_count} shown`) : null);
}

async function downloadSelection(id, paths) {
  const response = await guarded(() => api("POST", "/api/v1/backups/download", { snapshot: id, paths }, true));
  if (!response) return;
  // Streamed into a blob by the browser; the page offers it as a file.
  const blob = await response.blob();
  const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/)?.[1] || "mdmai-selection.tar";
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

async function fileVersions(path) {
  const v = await api("GET", `/api/v1/backups/versions?path=${encodeURIComponent(path)}&limit=200`);
  return h("div", { class: "panel", id: "file-versions" },
    h("h2", {}, `Versions of ${path}`),
    h("p", { class: "muted" }, `${v.items.length} snapshot(s) of the last ${v.snapshots_searched} hold it; a new version where its content changed.`),
    h("div", { class: "toolbar" }, h("a", { href: "#/backups" }, "‹ all snapshots")),
    table([
      { title: "snapshot", value: x => h("a", { href: `#/backups?snapshot=${x.snapshot}&path=${encodeURIComponent(path.split("/").slice(0, -1).join("/"))}` }, x.snapshot.slice(0, 8)) },
      { title: "time", value: x => when(x.time) },
      { title: "size", num: true, value: x => bytes(x.size) },
      { title: "modified", optional: true, value: x => when(x.modified) },
      { title: "", value: x => x.new_version ? h("span", { class: "pill" }, "new version") : "" },
      { title: "", value: x => h("button", { onclick: () => downloadSelection(x.snapshot, [path]) }, "Download") },
    ], v.items));
}

async function showDiff([a, b]) {
  const [x, y] = a < b ? [a, b] : [b, a];
  const snapshots = await Promise.all([x, y].map(id => api("GET", `/api/v1/backups/snapshots/${id}`)));
  const [older, newer] = new Date(snapshots[0].time) <= new Date(snapshots[1].time) ? snapshots : snapshots.reverse();
  const d = await guarded(() => api("GET", `/api/v1/backups/diff?from=${older.id}&to=${newer.id}`));
  if (!d) return;
  const dialog = document.getElementById("dialog");
  fill(document.getElementById("dialog-form"),
    h("h2", {}, `${older.id.slice(0, 8)} → ${newer.id.slice(0, 8)}: ${d.total_count} change(s)`),
    table([{ title: "", value: c => h("span", { class: `pill ${c.change === "removed" ? "error" : c.change === "added" ? "ok" : "warning"}` }, c.change) }, { title: "path", value: c => c.path }, { title: "size", num: true, value: c => `${c.old_size === null ? "" : bytes(c.old_size)} → ${c.new_size === null ? "" : bytes(c.new_size)}` }], d.items),
    h("div", { class: "actions" }, h("button", { value: "close", type: "submit" }, "Close")));
  dialog.onclose = null;
  dialog.showModal();
}

async function retentionEditor(jobs) {
  const fields = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within_days"].map(n => ({ name: n, kind: "integer", label: n.replaceAll("_", " ") }));
  fields.push({ name: "kind", label: "only snapshots of this kind", values: ["manual", "auto", "shutdown", "pre_restore"] });
  const policy = await formDialog("Retention policy", fields, "Preview");
  if (!policy) return;
  const preview = await guarded(() => api("POST", "/api/v1/backups/forget", { ...policy, dry_run: true }));
  if (!preview) return;
  const names = preview.removed.map(x => `${x.id.slice(0, 8)} (${when(x.time)})`).join(", ");
  if (preview.removed.length === 0) return toast("This policy would forget nothing.");
  if (await confirmDialog("Forget snapshots", `The policy keeps ${preview.kept} snapshot(s) and forgets ${preview.removed.length}: ${names}. Forget them? (Prune then frees their data.)`, `Forget ${preview.removed.length}`)) {
    const done = await guarded(() => api("POST", "/api/v1/backups/forget", { ...policy, confirm: true }));
    if (done) { toast(`Forgot ${done.removed.length} snapshot(s).`); route(); }
  }
}

// ---------------------------------------------------------------- routing

// Each navigation gets a number; a screen whose data arrives after the user has gone on to another one is dropped
// (a slow overview finishing after a quick files screen would otherwise replace it).
let routing = 0;

async function route() {
  const [name, query] = (location.hash.slice(2) || "overview").split("?");
  const screen = screens[name] ? name : "overview";
  const current = ++routing;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.screen === screen);
  try {
    const content = await screens[screen](new URLSearchParams(query || ""));
    if (current !== routing) return;
    fill(main(), ...[content].flat());
    main().dataset.screen = screen;
  } catch (e) {
    if (current !== routing) return;
    fill(main(), h("h1", {}, "Something went wrong"), h("p", { class: "pill error" }, e.message));
    if (e.status === 401) location.reload();
  }
}

async function start() {
  session = await api("GET", "/api/v1/session");
  csrf = session.csrf_token || "";
  window.addEventListener("hashchange", route);
  await route();
}

start();
