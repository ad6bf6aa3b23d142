// Administration (admins and coordinators): cases, users, assignments; studies have their own pages.
"use strict";

function section(title, ...children) { return el("section", { class: "page" }, el("h2", { text: title }), ...children); }

function table(headers, rows) {
  return el("table", { class: "list" }, el("thead", {}, el("tr", {}, ...headers.map(h => el("th", { text: h })))),
    el("tbody", {}, ...rows.map(r => el("tr", {}, ...r.map(c => el("td", {}, c))))));
}

// Image import: files with an indication, a reference report and a priority; one result
// row per file (thumbnail, the file's name, the case or the error) that lasts: the list is
// kept in this browser (file names are never sent to be stored: they can carry patient
// names) until cleared.
const IMPORTS = "cxrpilot-imports";
const importLog = () => JSON.parse(localStorage.getItem(IMPORTS) || "[]");

function importRows() {
  const rows = importLog();
  if (!rows.length) return [el("p", { class: "muted", text: "No imports from this browser yet." })];
  return [table(["", "File", "Result", "Indication", "When"], rows.map(r => [
    r.case_id ? el("img", { class: "thumb small", src: `/api/cases/${r.case_id}/thumbnail`, alt: `${r.name}` }) : "",
    el("span", { class: "mono", text: r.name }),
    r.error ? el("span", { class: "error", text: r.error }) :
      el("span", {}, el("b", { text: r.label }), r.created ? ` imported · draft ${r.draft_status}` : " · already imported (same image)"),
    r.indication || "", new Date(r.at).toLocaleString()])),
  el("p", {}, el("button", { onclick: () => { localStorage.removeItem(IMPORTS); document.getElementById("import-results").replaceChildren(...importRows()); } }, "Clear this list"))];
}

function importSection(user) {
  const file = el("input", { type: "file", multiple: true, id: "import-files", "data-testid": "import-files",
    accept: ".dcm,.dicom,.png,.jpg,.jpeg,application/dicom,image/*" });
  const indication = el("textarea", { id: "import-indication", rows: 2, maxlength: 2000, placeholder: "e.g. Cough and fever." });
  const reference = el("textarea", { id: "import-reference", rows: 3, maxlength: 20000, placeholder: "FINDINGS: … IMPRESSION: … (for evaluation)" });
  const priority = el("select", { id: "import-priority" }, ...CXR.priorities.map(p => el("option", { value: p, text: p === "stat" ? "STAT" : p })));
  const results = el("div", { id: "import-results", "data-testid": "import-results" }, ...importRows());
  const progress = el("div", { class: "savestate", role: "status", "data-testid": "import-progress" });
  const go = el("button", { class: "primary", "data-testid": "import", onclick: async () => {
    const files = [...file.files];
    go.disabled = true;
    for (const [i, f] of files.entries()) {
      progress.textContent = `Importing ${i + 1} of ${files.length}: ${f.name}…`;
      const fd = new FormData();
      fd.append("file", f); fd.append("indication", indication.value); fd.append("reference_text", reference.value);
      fd.append("priority", priority.value);
      const row = { name: f.name, at: Date.now(), indication: indication.value };
      try {
        const r = await api("POST", "/api/cases", fd);
        Object.assign(row, { case_id: r.case.id, label: r.case.label, created: r.created, draft_status: r.draft_status });
      } catch (e) { row.error = e.message; }
      localStorage.setItem(IMPORTS, JSON.stringify([row, ...importLog()].slice(0, 500)));
      results.replaceChildren(...importRows());
    }
    progress.textContent = files.length ? `Done: ${files.length} file(s).` : "Choose files first.";
    go.disabled = false; file.value = "";
    if (files.length) await load(user);  // the cases list with the new ones; the results stay
    document.body.dataset.imported = String(Date.now());
  } }, "Import");
  return section("Import images",
    el("div", { class: "form-grid" },
      el("label", { for: "import-files" }, "Files (DICOM, PNG, JPEG)"), file,
      el("label", { for: "import-indication" }, "Indication"), indication,
      el("label", { for: "import-reference" }, "Reference report"), reference,
      el("label", { for: "import-priority" }, "Priority"), priority,
      el("span"), el("div", {}, go, progress)),
    el("h4", { text: "Results (kept in this browser)" }), results);
}

async function load(user) {
  const root = document.getElementById("root");
  root.replaceChildren();
  const [cases, users, studies] = await Promise.all([api("GET", "/api/cases"), api("GET", "/api/users"),
    api("GET", "/api/studies")]);
  const msg = el("div", { class: "savestate", role: "status" });

  root.append(importSection(user), section("Cases",
    table(["", "Case", "Imported", "Priority", "AI draft", "Reads", ""], cases.map(c => [
      el("img", { class: "thumb small", src: `/api/cases/${c.case.id}/thumbnail`, alt: "", loading: "lazy" }),
      c.case.label, new Date(c.case.created_at).toLocaleString(), c.case.priority || "routine",
      c.draft_status + (c.draft_error ? `: ${c.draft_error}` : ""), String(c.reads),
      c.draft_status === "failed" ? el("button", { onclick: () => api("POST", `/api/cases/${c.case.id}/draft`).then(() => load(user)) }, "Redraft") : ""]))));

  const readers = users.filter(u => u.role === "radiologist" && u.active);
  const caseSel = el("select", {}, ...cases.map(c => el("option", { value: c.case.id, text: c.case.label })));
  const readerSel = el("select", {}, ...readers.map(u => el("option", { value: u.id, text: u.username })));
  const armSel = el("select", {}, ...labelled(CXR.arms, { ai_assisted: "AI-assisted", scp: "Standard" })
    .map(([value, text]) => el("option", { value, text })));
  root.append(section("Assign a case (outside studies)", el("p", {}, caseSel, " to ", readerSel, " ", armSel, " ",
    el("button", { onclick: async () => {
      try { await api("POST", "/api/reads", { case_id: +caseSel.value, reader_id: +readerSel.value, arm: armSel.value }); msg.textContent = "Assigned."; }
      catch (e) { msg.textContent = e.message; }
    } }, "Assign")), msg));

  if (user.role === "admin") {
    const name = el("input", { placeholder: "user name" }), pw = el("input", { type: "password", placeholder: "password (10+ characters)" });
    const role = el("select", {}, ...CXR.roles.map(r => el("option", { value: r, text: r, selected: r === "radiologist" })));
    root.append(section("Users", el("p", {}, name, " ", pw, " ", role, " ", el("button", { onclick: async () => {
      try { await api("POST", "/api/users", { username: name.value, password: pw.value, role: role.value }); load(user); }
      catch (e) { msg.textContent = e.message; }
    } }, "Create")), table(["User", "Role", "Active"], users.map(u => [u.username, u.role, u.active ? "yes" : "no"]))));
  }
  root.append(section("Studies", el("p", {}, el("a", { href: "/studies" }, "Set up and follow studies"),
    studies.length ? ` (${studies.length}: ${studies.map(r => r.study.name).join(", ")})` : " (none yet)")));
}

(async () => {
  try { const user = await initPage("Cases & users"); await load(user); } catch (e) { showError("error", e); }
})();
