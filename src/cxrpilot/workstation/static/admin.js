// Administration (admins and coordinators): cases, users, assignments; studies have their own pages.
"use strict";

function section(title, ...children) { return el("section", { class: "page" }, el("h2", { text: title }), ...children); }

function table(headers, rows) {
  return el("table", { class: "list" }, el("thead", {}, el("tr", {}, ...headers.map(h => el("th", { text: h })))),
    el("tbody", {}, ...rows.map(r => el("tr", {}, ...r.map(c => el("td", {}, c))))));
}

async function load(user) {
  const root = document.getElementById("root");
  root.replaceChildren();
  const [cases, users, studies] = await Promise.all([api("GET", "/api/cases"), api("GET", "/api/users"),
    api("GET", "/api/studies")]);
  const msg = el("div", { class: "savestate", role: "status" });

  const file = el("input", { type: "file", multiple: true, accept: ".dcm,.dicom,.png,.jpg,.jpeg,application/dicom,image/*" });
  const upload = el("button", { class: "primary", onclick: async () => {
    for (const f of file.files) {
      const fd = new FormData(); fd.append("file", f);
      try { const r = await api("POST", "/api/cases", fd); msg.textContent = `${f.name}: case ${r.case.label}${r.created ? "" : " (already imported)"}`; }
      catch (e) { msg.textContent = `${f.name}: ${e.message}`; }
    }
    load(user);
  } }, "Import");
  root.append(section("Cases", el("p", {}, file, " ", upload), msg,
    table(["Case", "Imported", "AI draft", "Reads", ""], cases.map(c => [c.case.label, new Date(c.case.created_at).toLocaleString(),
      c.draft_status + (c.draft_error ? `: ${c.draft_error}` : ""), String(c.reads),
      c.draft_status === "failed" ? el("button", { onclick: () => api("POST", `/api/cases/${c.case.id}/draft`).then(() => load(user)) }, "Redraft") : ""]))));

  const readers = users.filter(u => u.role === "radiologist" && u.active);
  const caseSel = el("select", {}, ...cases.map(c => el("option", { value: c.case.id, text: c.case.label })));
  const readerSel = el("select", {}, ...readers.map(u => el("option", { value: u.id, text: u.username })));
  const armSel = el("select", {}, el("option", { value: "ai_assisted", text: "AI-assisted" }), el("option", { value: "scp", text: "Standard" }));
  root.append(section("Assign a case (outside studies)", el("p", {}, caseSel, " to ", readerSel, " ", armSel, " ",
    el("button", { onclick: async () => {
      try { await api("POST", "/api/reads", { case_id: +caseSel.value, reader_id: +readerSel.value, arm: armSel.value }); msg.textContent = "Assigned."; }
      catch (e) { msg.textContent = e.message; }
    } }, "Assign"))));

  if (user.role === "admin") {
    const name = el("input", { placeholder: "user name" }), pw = el("input", { type: "password", placeholder: "password (10+ characters)" });
    const role = el("select", {}, ...["radiologist", "evaluator", "coordinator", "admin"].map(r => el("option", { value: r, text: r })));
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
