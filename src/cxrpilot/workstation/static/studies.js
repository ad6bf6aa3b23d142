// Studies (coordinators, admins): the list with progress, and the form that creates a study.
// Every rule (designs, washout, criteria keys) is checked by the API; this page only collects.
"use strict";

const DESIGN_WORDS = {
  per_case: ["Per case, 1:1", "each case is randomised to one arm; every reader reads every case"],
  per_reader: ["Per reader, 1:1", "each reader is randomised to one arm for all cases (needs 2+ readers)"],
  crossover: ["Crossover with washout", "every reader reads every case in both arms, a balanced half aided first; the second period opens after the washout"],
};
const DESIGNS = CXR.designs.map(d => [d, ...(DESIGN_WORDS[d] || [d, ""])]);
const DESIGN_LABEL = Object.fromEntries(DESIGNS.map(([k, label]) => [k, label]));

// A criterion key from its question ("Frontal (PA/AP) view?" -> "frontal_pa_ap_view"), unique in `taken`.
function criterionKey(text, taken) {
  let key = text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 36);
  if (!/^[a-z]/.test(key)) key = ("c_" + key).slice(0, 36);
  let out = key, i = 2;
  while (taken.has(out)) out = `${key}_${i++}`;
  taken.add(out);
  return out;
}

function progressCell(done, total, what) {
  if (!total) return el("span", { class: "muted", text: "—" });
  const pct = Math.round((100 * done) / total);
  const bar = el("span", { class: "bar" }, el("span"));
  bar.firstChild.setAttribute("data-pct", pct);
  bar.firstChild.style.width = `${pct}%`; // CSSOM, allowed by the CSP (no style attribute in markup)
  return el("span", {}, bar, `${done} / ${total} ${what}`);
}

function studyList(rows) {
  const body = el("tbody");
  for (const r of rows) {
    const s = r.study, elig = r.cases_by_eligibility;
    body.append(el("tr", { "data-study-id": s.id, onclick: () => { location.href = `/studies/${s.id}`; } },
      el("td", {}, el("a", { href: `/studies/${s.id}`, text: s.name })),
      el("td", { text: DESIGN_LABEL[s.design] + (s.design === "crossover" ? ` (${s.washout_days} d)` : "") }),
      el("td", {}, el("span", { class: `phase ${s.status}`, text: s.status })),
      el("td", { text: `${r.cases}` + (elig.pending ? ` (${elig.pending} to check)` : "") +
        (elig.excluded ? ` (${elig.excluded} excluded)` : "") }),
      el("td", { text: `${r.readers} / ${r.evaluators}` }),
      el("td", {}, progressCell(r.reads_signed, r.reads, "signed")),
      el("td", {}, progressCell(r.evaluations_submitted, r.evaluations, "rated")),
      el("td", { class: "seed", text: s.seed == null ? "" : String(s.seed) })));
  }
  const table = el("table", { class: "list", "data-testid": "studies" },
    el("thead", {}, el("tr", {}, ...["Study", "Design", "Phase", "Cases", "Readers / evaluators", "Reads",
      "Evaluations", "Seed"].map(h => el("th", { text: h })))), body);
  return rows.length ? table : el("p", { class: "muted", text: "No studies yet: create one below." });
}

function criteriaEditor() {
  const box = el("div", { "data-testid": "criteria" });
  const add = (text = "", kind = "inclusion") => {
    const kindSel = el("select", { "aria-label": "Kind" },
      el("option", { value: "inclusion", text: "inclusion: must be yes" }),
      el("option", { value: "exclusion", text: "exclusion: must be no" }));
    kindSel.value = kind;
    const row = el("div", { class: "criteria-row" },
      el("input", { "aria-label": "Criterion", placeholder: "e.g. Frontal (PA/AP) view?", value: text }),
      kindSel,
      el("button", { type: "button", title: "Remove", onclick: () => row.remove() }, "Remove"));
    box.append(row);
  };
  add();
  const read = () => {
    const taken = new Set();
    return [...box.querySelectorAll(".criteria-row")].map(r => ({ text: r.querySelector("input").value.trim(),
      kind: r.querySelector("select").value })).filter(c => c.text).map(c => ({ ...c, key: criterionKey(c.text, taken) }));
  };
  return { box, add, read };
}

function createForm() {
  const name = el("input", { id: "study-name", required: true, maxlength: 128, placeholder: "e.g. CXR pilot 2026" });
  const description = el("textarea", { id: "study-description", rows: 2, placeholder: "optional" });
  const design = el("select", { id: "study-design" }, ...DESIGNS.map(([k, label]) => el("option", { value: k, text: label })));
  const designHint = el("div", { class: "hint" });
  const washout = el("input", { id: "study-washout", type: "number", min: 0, value: 0 });
  const washoutRow = [el("label", { for: "study-washout", text: "Washout (days)" }), washout];
  const criteria = criteriaEditor();
  const state = el("div", { class: "savestate", role: "status" });
  const sync = () => {
    designHint.textContent = DESIGNS.find(d => d[0] === design.value)[2];
    const x = design.value === "crossover";
    washoutRow.forEach(e => { e.hidden = !x; });
    if (x && +washout.value < 1) washout.value = 28;
    if (!x) washout.value = 0;
  };
  design.addEventListener("change", sync);
  const form = el("form", { "data-testid": "create-study" },
    el("div", { class: "form-grid" },
      el("label", { for: "study-name", text: "Name" }), name,
      el("label", { for: "study-description", text: "Description" }), description,
      el("span", { text: "Arms" }), el("span", {}, "AI-assisted (draft shown) and Standard practice (no AI), 1:1"),
      el("label", { for: "study-design", text: "Randomisation" }), el("div", {}, design, designHint),
      ...washoutRow,
      el("span", { text: "Eligibility checklist" }), el("div", {}, criteria.box,
        el("button", { type: "button", onclick: () => criteria.add() }, "Add a criterion"),
        el("div", { class: "hint", text: "One yes/no question per criterion, answered for every case. No criteria: every case is eligible." }))),
    el("div", { class: "actions" }, el("button", { class: "primary", type: "submit" }, "Create study")), state);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const s = await api("POST", "/api/studies", { name: name.value, description: description.value, design: design.value,
        washout_days: +washout.value, criteria: criteria.read() });
      location.href = `/studies/${s.id}`;
    } catch (err) { state.textContent = `Not created: ${err.message}`; state.className = "savestate error"; }
  });
  sync();
  return form;
}

(async () => {
  try {
    await initPage();
    const rows = await api("GET", "/api/studies");
    document.getElementById("root").append(el("main", { class: "page" },
      el("h2", { text: "Reader studies" }), el("div", { class: "table-gap" }, studyList(rows)),
      el("section", { class: "card" }, el("h3", { text: "New study" }), createForm())));
    document.body.dataset.ready = "1";
  } catch (e) { showError("error", e); }
})();
