// Worklist: the reader's reads with priority, AI critical flags (AI-assisted rows only; the
// server sends none for standard-practice rows), filters, search and sort; signed reads are
// hidden unless asked for. Keyboard: ↑/↓ or j/k move, Enter opens, / searches, Esc leaves
// a search or filter field, s shows/hides signed reads, p / c / t sort by priority / critical flags /
// assignment time (again: reverse). The choices last for the browser tab (sessionStorage).
"use strict";
const ARM = { ai_assisted: "AI-assisted", scp: "Standard" };
// CXR.priorities runs from the least urgent (routine) to the most (stat): the most urgent ranks first.
const PRIO_RANK = Object.fromEntries(CXR.priorities.map((p, i) => [p, CXR.priorities.length - 1 - i]));
const PRIO_LABEL = { stat: "STAT", urgent: "Urgent", routine: "Routine" };
const READ_STATUS_LABEL = { new: "New", in_progress: "In progress", signed: "Signed" };
const STORE = "cxrpilot-worklist";
const W = Object.assign({ items: [], rows: [], selected: null, status: "open", study: "", arm: "", from: "", to: "", q: "",
  sort: "priority", desc: false }, JSON.parse(sessionStorage.getItem(STORE) || "{}"), { items: [], rows: [] });
let aiKeys, tbody, countBox, search, statusSel, studySel, armSel, fromBox, toBox, sortBox;

function remember() {
  const { status, study, arm, from, to, q, sort, desc } = W;
  sessionStorage.setItem(STORE, JSON.stringify({ status, study, arm, from, to, q, sort, desc }));
}

function flagScore(it) {  // present critical flags count double an uncertain one
  return it.critical_flags.reduce((n, f) => n + (f.status === "present" ? 2 : 1), 0);
}

const SORTS = {
  priority: (a, b) => PRIO_RANK[a.priority] - PRIO_RANK[b.priority] || flagScore(b) - flagScore(a) || a.read_id - b.read_id,
  flags: (a, b) => flagScore(b) - flagScore(a) || PRIO_RANK[a.priority] - PRIO_RANK[b.priority] || a.read_id - b.read_id,
  assigned: (a, b) => String(a.assigned_at).localeCompare(String(b.assigned_at)) || a.read_id - b.read_id,
  case: (a, b) => a.case_label.localeCompare(b.case_label) || a.read_id - b.read_id,
};
const SORT_NAMES = { priority: "priority", flags: "AI critical flags", assigned: "assignment time", case: "case" };

function visible() {
  const q = W.q.trim().toLowerCase();
  const day = (it) => (it.assigned_at || "").slice(0, 10);
  const out = W.items.filter(it =>
    (W.status === "all" || (W.status === "open" ? it.status !== "signed" : it.status === W.status)) &&
    (!W.study || (W.study === "-" ? !it.study : it.study === W.study)) &&
    (!W.arm || it.arm === W.arm) &&
    (!W.from || day(it) >= W.from) && (!W.to || day(it) <= W.to) &&
    (!q || [it.case_label, it.accession, it.indication].some(v => v && v.toLowerCase().includes(q))));
  out.sort(SORTS[W.sort] || SORTS.priority);
  if (W.desc) out.reverse();
  return out;
}

function age(it) { return it.patient_age_years == null ? "" : String(Math.floor(it.patient_age_years)); }

function render() {
  const anyAi = W.items.some(i => i.arm === "ai_assisted");
  if (!anyAi && W.sort === "flags") W.sort = "priority";
  const items = visible();
  aiKeys.hidden = !anyAi;
  const heads = [["#"], ["Priority", "priority"], ["Case", "case"], ["Accession"], ["Study date"], ["Age"], ["Sex"], ["View"], ["Indication"],
    ["Study"], ["Arm"], ["Status"], ...(anyAi ? [["AI draft"], ["AI critical findings", "flags"]] : []), ["Assigned", "assigned"]];
  const thead = document.querySelector("[data-testid=worklist] thead");
  thead.replaceChildren(el("tr", {}, ...heads.map(([h, key]) => el("th", { "aria-sort": key && W.sort === key ? (W.desc ? "descending" : "ascending") : null },
    key ? el("button", { class: "sort", onclick: () => sortBy(key), title: `Sort by ${SORT_NAMES[key]}` }, h + (W.sort === key ? (W.desc ? " ▴" : " ▾") : "")) : h))));
  W.rows = items.map((it, i) => {
    const flags = it.critical_flags.map(f => el("span", { class: `flag ${f.status}`, title: `AI draft: ${f.status}` }, f.name,
      f.status === "uncertain" ? el("span", { class: "flag-status", text: " (uncertain)" }) : null));
    return el("tr", { "data-read-id": it.read_id, "data-priority": it.priority, class: `prio-${it.priority}`, onclick: () => open(it.read_id) },
      el("td", { text: String(i + 1) }),
      el("td", {}, el("span", { class: `prio ${it.priority}`, text: PRIO_LABEL[it.priority] || it.priority })),
      el("td", { class: "nowrap", text: it.case_label }),
      el("td", { class: "nowrap", text: it.accession || "—" }),
      el("td", { class: "nowrap", "data-testid": "study-date", text: it.study_date || "—" }),
      el("td", { class: "num", text: age(it) || "—" }),
      el("td", { text: it.patient_sex || "—" }),
      el("td", { text: it.view_position || "—" }),
      el("td", { class: "indication", text: it.indication || "", title: it.indication || "" }),
      el("td", { text: it.study || "—" }),
      el("td", { text: ARM[it.arm] + (it.period > 1 ? ` (period ${it.period})` : "") }),
      el("td", {}, el("span", { class: `badge ${it.status}`, text: it.status.replace("_", " ") })),
      ...(anyAi ? [el("td", { class: "nowrap", text: it.draft_status ? (it.draft_status === "pending" ? "draft pending" : `draft ${it.draft_status}`) : "—" }),
        el("td", {}, ...flags)] : []),
      el("td", { class: "muted", text: it.assigned_at ? new Date(it.assigned_at).toLocaleDateString() : "" }));
  });
  tbody.replaceChildren(...W.rows);
  const open_ = W.items.filter(i => i.status !== "signed").length;
  countBox.textContent = `${open_} to read · ${items.length} shown` + (W.status === "open" && W.items.length > open_ ? ` · ${W.items.length - open_} signed hidden (s)` : "");
  sortBox.textContent = `sorted by ${SORT_NAMES[W.sort]}${W.desc ? ", reversed" : ""}`;
  if (!items.length) tbody.append(el("tr", {}, el("td", { colspan: heads.length, class: "muted",
    text: W.items.length ? "No read matches these filters." : "Nothing assigned to you." })));
  const keep = W.rows.findIndex(r => +r.dataset.readId === W.selected);
  select(keep >= 0 ? keep : 0);
  remember();
}

function select(i) {
  if (!W.rows.length) { W.selected = null; return; }
  const j = Math.max(0, Math.min(W.rows.length - 1, i));
  W.rows.forEach((r, k) => r.classList.toggle("selected", k === j));
  W.selected = +W.rows[j].dataset.readId;
  W.rows[j].scrollIntoView({ block: "nearest", inline: "nearest" });
}

function index() { return W.rows.findIndex(r => +r.dataset.readId === W.selected); }
function open(readId) { location.href = `/read/${readId}`; }
function sortBy(key) { if (W.sort === key) W.desc = !W.desc; else { W.sort = key; W.desc = false; } render(); }

function controls() {
  const opt = (v, t) => el("option", { value: v }, t);
  search = el("input", { type: "search", placeholder: "Search case, accession, indication (/)", "aria-label": "Search", value: W.q,
    "data-testid": "worklist-search", oninput: () => { W.q = search.value; render(); } });
  statusSel = el("select", { "aria-label": "Status", "data-testid": "filter-status", onchange: () => { W.status = statusSel.value; render(); } },
    opt("open", "To read (new, in progress)"), ...labelled(CXR.read_statuses, READ_STATUS_LABEL).map(([v, t]) => opt(v, t)),
    opt("all", "All, signed too"));
  studySel = el("select", { "aria-label": "Study", "data-testid": "filter-study", onchange: () => { W.study = studySel.value; render(); } }, opt("", "All studies"));
  armSel = el("select", { "aria-label": "Arm", "data-testid": "filter-arm", onchange: () => { W.arm = armSel.value; render(); } },
    opt("", "Both arms"), ...labelled(CXR.arms, ARM).map(([v, t]) => opt(v, t)));
  fromBox = el("input", { type: "date", "aria-label": "Assigned from", value: W.from, onchange: () => { W.from = fromBox.value; render(); } });
  toBox = el("input", { type: "date", "aria-label": "Assigned until", value: W.to, onchange: () => { W.to = toBox.value; render(); } });
  statusSel.value = W.status; armSel.value = W.arm;
  return el("div", { class: "row worklist-filters" }, search, statusSel, studySel, armSel,
    el("label", {}, "assigned ", fromBox), el("label", {}, "to ", toBox));
}

function fillStudies() {
  const names = [...new Set(W.items.map(i => i.study).filter(Boolean))].sort();
  const keep = W.study;
  studySel.replaceChildren(el("option", { value: "" }, "All studies"), el("option", { value: "-" }, "Outside studies"),
    ...names.map(n => el("option", { value: n }, n)));
  studySel.value = [...studySel.options].some(o => o.value === keep) ? keep : "";
  W.study = studySel.value;
  // The arm filter only where the reader has both arms (a standard-practice reader sees no "AI").
  const arms = new Set(W.items.map(i => i.arm));
  armSel.hidden = arms.size < 2;
  if (armSel.hidden) { W.arm = ""; armSel.value = ""; }
}

function page() {
  countBox = el("span", { class: "muted", "data-testid": "worklist-count" });
  sortBox = el("span", { class: "muted", "data-testid": "worklist-sort" });
  tbody = el("tbody");
  const main = el("main", { class: "page" },
    el("h2", {}, "Worklist ", countBox),
    controls(),
    el("p", { class: "muted keys" }, el("kbd", {}, "↑"), " ", el("kbd", {}, "↓"), " (", el("kbd", {}, "j"), " ", el("kbd", {}, "k"),
      ") move, ", el("kbd", {}, "Enter"), " open, ", el("kbd", {}, "/"), " search, ", el("kbd", {}, "s"), " signed, sort by ",
      el("kbd", {}, "p"), " priority, ", aiKeys = el("span", {}, el("kbd", {}, "c"), " AI critical flags, "), el("kbd", {}, "t"), " time · ", sortBox),
    // the table scrolls sideways in its own box where the window is too narrow, never the page
    el("div", { class: "table-scroll" }, el("table", { class: "list", "data-testid": "worklist" }, el("thead"), tbody)));
  document.getElementById("root").replaceChildren(main);
}

window.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && isTyping(e)) { e.target.blur(); return; }  // out of a filter, back to the keys
  if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  const i = index();
  if (e.key === "ArrowDown" || e.key === "j") { select(i + 1); e.preventDefault(); }
  else if (e.key === "ArrowUp" || e.key === "k") { select(i - 1); e.preventDefault(); }
  else if (e.key === "Enter" && W.selected != null) open(W.selected);
  else if (e.key === "/") { e.preventDefault(); search.focus(); search.select(); }
  else if (e.key === "s") { W.status = W.status === "open" ? "all" : "open"; statusSel.value = W.status; render(); }
  else if (e.key === "p") sortBy("priority");
  else if (e.key === "c" && !aiKeys.hidden) sortBy("flags");
  else if (e.key === "t") sortBy("assigned");
});

async function refresh() {
  W.items = await api("GET", "/api/worklist");
  fillStudies();
  render();
  document.body.dataset.worklistReady = "1";
}

(async () => {
  try {
    await initPage("Worklist");
    page();
    await refresh();
    setInterval(() => refresh().catch(() => { /* retry later */ }), 20000);
  } catch (e) { showError("error", e); }
})();
