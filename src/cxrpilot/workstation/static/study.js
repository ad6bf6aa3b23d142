// One study (coordinators, admins): cases and their eligibility checklists, readers and
// evaluators, randomisation with a recorded seed, the progress dashboard, the evaluation
// phase and the exports. Each button calls the /api/studies endpoints; the API enforces the rules.
"use strict";

const studyId = +location.pathname.split("/").filter(Boolean).pop();
const ARMS = labelled(CXR.arms, { ai_assisted: "AI-assisted", scp: "Standard practice" });
const READ_STATUSES = labelled(CXR.read_statuses, { new: "Not started", in_progress: "In progress", signed: "Signed" });
const DESIGN_TEXT = {
  per_case: "Per case, 1:1 — each case randomised to one arm; every reader reads every case",
  per_reader: "Per reader, 1:1 — each reader randomised to one arm for all cases",
  crossover: "Crossover — every reader reads every case in both arms, in two periods",
};

function card(step, title, ...children) {
  return el("section", { class: "card", "data-testid": `card-${title.toLowerCase().replace(/[^a-z]+/g, "-")}` },
    el("h3", {}, step ? el("span", { class: "step", text: step }) : null, title), ...children);
}

function statusLine() { return el("div", { class: "savestate", role: "status" }); }

function say(line, text, ok = true) { line.textContent = text; line.className = `savestate ${ok ? "ok" : "error"}`; }

// headers: "Text" or {text, num: true} (a right-aligned number column).
function simpleTable(headers, rows, attrs = {}) {
  const num = headers.map(h => (h.num ? "num" : null));
  return el("table", { class: "list compact static", ...attrs },
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { class: num[i], text: h.text || h })))),
    el("tbody", {}, ...rows.map(r => el("tr", {}, ...r.map((c, i) => (c && c.nodeType ? el("td", { class: num[i] }, c) :
      el("td", { class: num[i], text: c == null ? "" : String(c) })))))));
}

// --- overview -----------------------------------------------------------------------------
function overview(p, members) {
  const s = p.study;
  const readers = members.filter(m => m.role === "reader"), evaluators = members.filter(m => m.role === "evaluator");
  const facts = [
    ["Arms", "AI-assisted and Standard practice, 1:1"],
    ["Randomisation", DESIGN_TEXT[s.design] + (s.design === "crossover" ? `; washout ${s.washout_days} days` : "")],
    ["Seed", s.seed == null ? el("span", { class: "muted", text: "not randomised yet" })
      : el("span", {}, el("span", { class: "seed", "data-testid": "seed", text: String(s.seed) }),
        el("span", { class: "muted", text: `  recorded ${new Date(s.randomised_at).toLocaleString()}` }))],
    ["Readers", readers.length ? readers.map(m => m.username).join(", ") : "none yet"],
    ["Evaluators", evaluators.length ? evaluators.map(m => m.username).join(", ") : "none yet"],
  ];
  if (s.evaluation_seed != null) facts.push(["Evaluation seed", el("span", { class: "seed", text: String(s.evaluation_seed) })]);
  if (s.criteria.length) {
    facts.push(["Eligibility", el("ul", { class: "criteria" }, ...s.criteria.map(c => el("li", {}, c.text, el("span", { class: "muted", text: `  (${c.kind})` }))))]);
  }
  const grid = el("div", { class: "form-grid" });
  for (const [k, v] of facts) grid.append(el("span", { class: "muted", text: k }), typeof v === "string" ? el("span", { text: v }) : v);
  return card("", "Overview", s.description ? el("p", { text: s.description }) : null, grid);
}

// --- cases and eligibility ----------------------------------------------------------------
function checklistForm(study, sc, reload) {
  const line = statusLine();
  const boxes = study.criteria.map(c => {
    const input = el("input", { type: "checkbox", name: c.key, checked: !!sc.checklist[c.key] });
    return [c, input];
  });
  const note = el("input", { placeholder: "note (optional)", value: sc.note || "", "aria-label": "Note" });
  const save = el("button", { type: "button", "data-testid": "save-eligibility", onclick: async () => {
    const answers = Object.fromEntries(boxes.map(([c, i]) => [c.key, i.checked]));
    try {
      const r = await api("PUT", `/api/studies/${studyId}/cases/${sc.case_id}/eligibility`, { answers, note: note.value });
      say(line, r.eligibility);
      reload();
    } catch (e) { say(line, e.message, false); }
  } }, sc.eligibility === "pending" ? "Record" : "Update");
  return el("div", { class: "checklist" },
    ...boxes.map(([c, input]) => el("label", {}, input, ` ${c.text}`, el("span", { class: "kind", text: c.kind }))),
    el("div", { class: "row" }, note, save), line);
}

function casesTable(study, cases, reload) {
  const setup = study.status === "setup";
  const headers = ["Case", "Eligibility"];
  if (study.criteria.length) headers.push(setup ? "Checklist (tick what is true for the image)" : "Checklist");
  const rows = cases.map(sc => {
    const tr = el("tr", { "data-case-id": sc.case_id },
      el("td", {}, el("div", { class: "case-cell" }, el("a", { href: `/api/cases/${sc.case_id}/image`, target: "_blank", rel: "noopener",
        title: "Open the image" }, el("img", { class: "thumb", src: `/api/cases/${sc.case_id}/image`, loading: "lazy", alt: "" })),
        el("div", {}, el("div", { text: sc.case_label }), el("div", { class: "muted", text: sc.indication || "" })))),
      el("td", {}, el("span", { class: `elig ${sc.eligibility}`, "data-testid": "eligibility", text: sc.eligibility })));
    if (study.criteria.length) {
      tr.append(el("td", {}, setup ? checklistForm(study, sc, reload) : el("span", { class: "muted",
        text: study.criteria.map(c => `${c.text} ${sc.checklist[c.key] ? "yes" : "no"}`).join("; ") })));
    }
    return tr;
  });
  if (!cases.length) return el("p", { class: "muted", text: "No cases in this study yet." });
  return el("table", { class: "list compact static", "data-testid": "study-cases" },
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", { text: h })))), el("tbody", {}, ...rows));
}

function casePicker(cases, reload) {
  const inStudy = new Set(cases.map(c => c.case_id));
  const search = el("input", { type: "search", placeholder: "search label or indication", "aria-label": "Search cases",
    "data-testid": "case-search" });
  const draft = el("select", { "aria-label": "AI draft" }, el("option", { value: "", text: "any AI draft state" }),
    ...["ready", "pending", "failed"].map(s => el("option", { value: s, text: `draft ${s}` })));
  const list = el("div", { class: "picker", "data-testid": "case-picker" });
  const line = statusLine();
  let shown = [];
  const refresh = async () => {
    const found = await api("GET", `/api/cases?limit=1000&q=${encodeURIComponent(search.value)}`);
    shown = found.filter(c => !inStudy.has(c.case.id) && (!draft.value || c.draft_status === draft.value));
    list.replaceChildren(...shown.map(c => el("label", { class: "row" },
      el("input", { type: "checkbox", value: c.case.id, "data-label": c.case.label }),
      el("span", { text: c.case.label }),
      el("span", { class: "muted", text: `${c.case.indication || ""} · draft ${c.draft_status}` }))));
    if (!shown.length) list.append(el("p", { class: "muted", text: "No other cases match." }));
  };
  let timer = 0;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  draft.addEventListener("change", refresh);
  const selectAll = el("button", { type: "button", onclick: () => list.querySelectorAll("input").forEach(i => { i.checked = true; }) },
    "Select all shown");
  const add = el("button", { class: "primary", type: "button", "data-testid": "add-cases", onclick: async () => {
    const ids = [...list.querySelectorAll("input:checked")].map(i => +i.value);
    if (!ids.length) return say(line, "Tick the cases to add first.", false);
    try { const r = await api("POST", `/api/studies/${studyId}/cases`, { case_ids: ids }); say(line, `${r.added} case(s) added.`); reload(); }
    catch (e) { say(line, e.message, false); }
  } }, "Add selected cases");
  refresh().catch(e => say(line, e.message, false));
  return el("div", {}, el("div", { class: "row" }, search, draft, selectAll, add), list, line);
}

// --- readers and evaluators ---------------------------------------------------------------
function memberPicker(role, users, members, reload) {
  const present = new Set(members.filter(m => m.role === role).map(m => m.user_id));
  const want = CXR.member_roles[role];  // the user role a study member of this kind must have
  const candidates = users.filter(u => u.role === want && u.active && !present.has(u.id));
  const line = statusLine();
  const list = el("div", { class: "pill-list", "data-testid": `${role}-picker` }, ...candidates.map(u => el("label", { class: "pill" },
    el("input", { type: "checkbox", value: u.id }), ` ${u.display_name || u.username}`,
    u.display_name ? el("span", { class: "muted", text: ` (${u.username})` }) : null)));
  if (!candidates.length) list.append(el("span", { class: "muted", text: `No other active ${want}s to add (an admin creates users on the Cases & users page).` }));
  const add = el("button", { type: "button", "data-testid": `add-${role}s`, onclick: async () => {
    const ids = [...list.querySelectorAll("input:checked")].map(i => +i.value);
    if (!ids.length) return say(line, `Tick the ${want}s to add first.`, false);
    try { const r = await api("POST", `/api/studies/${studyId}/members`, { user_ids: ids, role }); say(line, `${r.added} ${role}(s) added.`); reload(); }
    catch (e) { say(line, e.message, false); }
  } }, role === "reader" ? "Add as readers" : "Add as evaluators");
  const current = members.filter(m => m.role === role);
  return el("div", {},
    el("p", {}, el("b", { text: role === "reader" ? "Readers: " : "Evaluators: " }),
      current.length ? current.map(m => m.username).join(", ") : el("span", { class: "muted", text: "none yet" })),
    list, candidates.length ? el("div", { class: "row" }, add) : null, line);
}

// --- randomisation, dashboard, evaluation, export -----------------------------------------
function seedForm(label, url, testid, done, reload) {
  const seed = el("input", { type: "number", min: 0, step: 1, placeholder: "blank: drawn at random", "aria-label": "Seed",
    "data-testid": `${testid}-seed` });
  const line = statusLine();
  const go = el("button", { class: "primary", type: "button", "data-testid": testid, onclick: async () => {
    go.disabled = true;
    try {
      const r = await api("POST", url, { seed: seed.value === "" ? null : Number(seed.value) });
      say(line, done(r));
      reload();
    } catch (e) { say(line, e.message, false); go.disabled = false; }
  } }, label);
  return el("div", {}, el("div", { class: "row" }, el("label", { text: "Seed" }), seed, go), line);
}

function dashboard(p) {
  const arms = p.reads_by_arm, byReaderArm = p.reads_by_reader_arm;
  const total = o => Object.values(o || {}).reduce((a, b) => a + b, 0);
  const num = (o, k) => (o && o[k]) || 0;
  const mean = a => (p.mean_active_seconds[a] == null ? "—" : `${p.mean_active_seconds[a].toFixed(1)} s`);
  const armRows = ARMS.map(([a, label]) => [label, ...READ_STATUSES.map(([k]) => num(arms[a], k)), total(arms[a]), mean(a)]);
  const readerRows = [];
  for (const name of Object.keys(byReaderArm).sort()) {
    for (const [a, label] of ARMS) {
      if (!byReaderArm[name][a]) continue;
      const o = byReaderArm[name][a];
      readerRows.push([name, label, ...READ_STATUSES.map(([k]) => num(o, k)), total(o)]);
    }
  }
  const counts = READ_STATUSES.map(([, t]) => ({ text: t, num: true }));
  const all = Object.values(arms).reduce((a, o) => a + total(o), 0);
  const signed = Object.values(arms).reduce((a, o) => a + num(o, "signed"), 0);
  const ev = p.evaluations_by_status;
  return el("div", { "data-testid": "dashboard" },
    el("p", {}, el("b", { text: `${signed} of ${all} reads signed` }),
      el("span", { class: "muted", text: ` · cases: ${p.cases_by_eligibility.eligible || 0} eligible, ${p.cases_by_eligibility.excluded || 0} excluded` +
        (total(ev) ? ` · evaluation forms: ${num(ev, "submitted")} of ${total(ev)} submitted` : "") })),
    el("h4", { text: "By arm" }),
    simpleTable(["Arm", ...counts, { text: "Total", num: true }, { text: "Mean active time", num: true }], armRows, { "data-testid": "by-arm" }),
    el("h4", { text: "By reader and arm" }),
    simpleTable(["Reader", "Arm", ...counts, { text: "Total", num: true }], readerRows, { "data-testid": "by-reader" }));
}

function exports() {
  const link = (href, text, testid) => el("a", { href, download: "", "data-testid": testid, class: "pill" }, text);
  const base = `/api/studies/${studyId}/export`;
  return el("div", {},
    el("div", { class: "row" },
      link(`${base}/reads?format=csv`, "Reads (CSV)", "export-reads-csv"),
      link(`${base}/evaluations?format=csv`, "Evaluations (CSV)", "export-evaluations-csv"),
      link(`${base}/reads?format=json`, "Reads (JSON)", "export-reads-json"),
      link(`${base}/evaluations?format=json`, "Evaluations (JSON)", "export-evaluations-json"),
      link(base, "Both, one JSON file", "export-json")),
    el("p", { class: "hint", text: "Tidy tables: one row per signed read, one per rated report (docs/evaluation.md). " +
      `Analyse with: cxrpilot eval study study-${studyId}.json --html report.html ` +
      "(or save the two CSV files as reads.csv and evaluations.csv in one folder and give the folder)." }));
}

async function load() {
  const [p, cases, members, users] = await Promise.all([api("GET", `/api/studies/${studyId}`),
    api("GET", `/api/studies/${studyId}/cases`), api("GET", `/api/studies/${studyId}/members`), api("GET", "/api/users")]);
  const s = p.study;
  document.getElementById("crumb").textContent = s.name;
  document.title = `${s.name} · cxrpilot`;
  const main = el("main", { class: "page" },
    el("h2", {}, s.name, " ", el("span", { class: `phase ${s.status}`, "data-testid": "phase", text: s.status })),
    overview(p, members));
  const pending = cases.filter(c => c.eligibility === "pending").length;
  const eligible = cases.filter(c => c.eligibility === "eligible").length;
  const readers = members.filter(m => m.role === "reader").length;
  if (s.status === "setup") {
    main.append(
      card("1", "Cases", casesTable(s, cases, load), el("h4", { text: "Add imported cases" }), casePicker(cases, load)),
      card("2", "Readers and evaluators", ...Object.keys(CXR.member_roles).map(r => memberPicker(r, users, members, load))),
      card("3", "Randomise",
        el("p", { "data-testid": "randomise-summary", text: `${eligible} eligible case(s), ${pending} without a checklist, ${readers} reader(s). ` +
          "Randomisation creates every reader's reads from the eligible cases; cases and readers are fixed afterwards." }),
        seedForm("Randomise", `/api/studies/${studyId}/randomise`, "randomise", r => `${r.reads} reads created with seed ${r.seed}.`, load)));
  } else {
    main.append(card("", "Progress", dashboard(p)));
    if (s.status === "reading") {
      main.append(card("", "Evaluation phase", memberPicker("evaluator", users, members, load),
        el("p", { class: "hint", text: "Starting the evaluation creates blinded forms (left/right order randomised) from the signed reports." }),
        seedForm("Start evaluation", `/api/studies/${studyId}/evaluation`, "start-evaluation", r => `${r.tasks} forms created with seed ${r.seed}.`, load)));
    }
    main.append(card("", "Cases", casesTable(s, cases, load)));
  }
  main.append(card("", "Export", exports()));
  document.getElementById("root").replaceChildren(main);
  document.body.dataset.ready = String(Date.now());
}

(async () => {
  try {
    await initPage();
    await load();
    setInterval(() => {
      if (document.hidden || document.activeElement && isTyping({ target: document.activeElement })) return;
      const ph = document.querySelector("[data-testid=phase]");
      if (ph && ph.textContent !== "setup") load().catch(() => {});
    }, 15000);
  } catch (e) {
    showError("error", e);
    if (e.status) document.body.dataset.denied = String(e.status);
  }
})();
