// The case page: viewer, AI draft (ai_assisted arm), report editor (editor.js) with durable
// autosave, sign / amend, the printable signed report, and the reading-time events.
"use strict";
const readId = +location.pathname.split("/").filter(Boolean).pop();
const BACKUP = `cxrpilot-read-${readId}`;
const HEARTBEAT_MS = 5000;
const PRIORITY = { routine: "Routine", urgent: "Urgent", stat: "STAT" };
const S = { detail: null, report: null, dirty: false, saving: null, signed: false, shown: false, timer: 0 };
let editor, saveState, signBtn, amendBtn, printLink, draftPanel, banner, mapOverlay;
// The image first: its viewer answer with the first view inline is the page's first request,
// beside /api/auth/me and /api/reads/{id} rather than after them (viewer.js). Not with the
// transfer bench's before-knobs (?first=png, ?transfer=raw), which ask by case as before.
const EARLY_VIEW = /[?&](first|transfer)=/.test(location.search) ? null : startReadViewer(readId);
if (EARLY_VIEW) EARLY_VIEW.info.catch(() => {});  // a refusal is shown by main()

function now() { return new Date().toLocaleTimeString(); }
function setState(text, cls = "") { saveState.textContent = text; saveState.className = `savestate ${cls}`; }

async function sendEvent(kind, t = Date.now()) {
  if (S.signed) return;
  try {
    await api("POST", `/api/reads/${readId}/events`, { events: [{ kind, t, visible: !document.hidden,
      focused: document.hasFocus() }] }, { keepalive: kind === "visibility" });
  } catch (e) { /* a lost event only shortens active time */ }
}

function backup() {
  localStorage.setItem(BACKUP, JSON.stringify({ rev: S.report.rev, sections: editor.values(), at: Date.now() }));
}

function sectionsOf(report) {
  return Object.fromEntries(SECTION_NAMES.map(n => [n, report[`${n}_text`] || ""]));
}

function same(a, b) { return SECTION_NAMES.every(n => (a[n] || "") === (b[n] || "")); }

async function save() {
  if (S.signed || !S.dirty) return;
  if (S.saving) { S.again = true; return S.saving; }
  const sent = editor.values();
  const body = { rev: S.report.rev, ...editor.body() };
  setState("Saving…");
  S.saving = (async () => {
    try {
      const rep = await api("PUT", `/api/reads/${readId}/report`, body);
      S.report = rep;
      if (same(editor.values(), sent)) {
        S.dirty = false;
        localStorage.removeItem(BACKUP);
      } else backup();
      setState(`Saved · revision ${rep.rev} · ${now()}`, "ok");
    } catch (e) {
      if (e.status === 409 && e.body && e.body.current) {
        localStorage.setItem(BACKUP + "-conflict", JSON.stringify(sent));
        S.report = { ...S.report, ...e.body.current };
        editor.setValues(sectionsOf(e.body.current));
        S.dirty = false;
        if (e.body.current.status !== "preliminary") { lockSigned(); }
        setState("This report was changed elsewhere: the newer text is shown; your text is kept in this browser.", "error");
        showRestore(sent);
      } else {
        backup();
        setState(`Not saved (${e.message}) — kept in this browser, retrying…`, "error");
        setTimeout(save, 3000);
      }
    } finally {
      S.saving = null;
      if (S.again) { S.again = false; save(); }
    }
  })();
  return S.saving;
}

function showRestore(mine) {
  const b = el("button", { onclick: () => { editor.setValues(mine); S.dirty = true; b.remove(); save(); } }, "Put my text back");
  saveState.after(b);
}

function onEdit() {
  if (S.signed) return;
  S.dirty = true;
  backup();
  clearTimeout(S.timer);
  S.timer = setTimeout(save, 800);
}

function setBadge(status) {
  const b = document.getElementById("status-badge");
  if (b) { b.className = `badge ${status}`; b.textContent = status.replace("_", " "); }
}

// The banner above the editor: "AI draft — edit before signing" while an AI draft is being
// edited; once signed, who signed and when (and "AI-assisted" where the read's arm records it).
function setBanner() {
  if (!banner) return;
  const r = S.report;
  if (r && r.signed_at) {
    const who = r.signed_by || "the reader";
    banner.textContent = `Signed by ${who} at ${new Date(r.signed_at).toLocaleString()}` +
      (S.detail.read.arm === "ai_assisted" ? " · AI-assisted" : "");
    banner.className = "banner signed";
    banner.hidden = false;
  } else if (S.detail.draft) {
    banner.textContent = "AI draft — edit before signing";
    banner.className = "banner";
    banner.hidden = false;
  } else banner.hidden = true;
}

function lockSigned() {
  S.signed = true;
  setBadge("signed");
  setBanner();
  document.getElementById("signed-box").hidden = false;
  document.getElementById("signed-box").textContent = `Signed — ${S.report.status} report, read-only` +
    (S.report.signed_at ? ` (${new Date(S.report.signed_at).toLocaleString()})` : "") + ". Amend to change it.";
  editor.readOnly = true;
  // out of the (now read-only) text, so that the page's keys (n, p) work at once
  if (document.activeElement && document.activeElement.tagName === "TEXTAREA") document.activeElement.blur();
  signBtn.disabled = true;
  amendBtn.hidden = false;
  printLink.hidden = false;
}

async function sign(confirmUnedited = false) {
  if (S.signed) return;
  clearTimeout(S.timer);
  if (S.saving) await S.saving;
  signBtn.disabled = true;
  setState("Signing…");
  try {
    const rep = await api("POST", `/api/reads/${readId}/sign`, { rev: S.report.rev, ...editor.body(),
      ...(confirmUnedited ? { confirm_unedited: true } : {}) });
    S.report = rep; S.dirty = false;
    localStorage.removeItem(BACKUP);
    lockSigned();
    setState(`Signed · ${rep.status} · ${now()}`, "ok");
    document.body.dataset.signed = "1";
    renderVersions();
  } catch (e) {
    signBtn.disabled = false;
    // The server asks the reader to confirm signing the AI draft unedited.
    if (e.status === 409 && e.body && e.body.code === "unedited_draft" && !confirmUnedited && confirm(e.message)) return sign(true);
    setState(`Not signed: ${e.message}`, "error");
  }
}

async function amend() {
  const reason = prompt("Reason for the amendment:");
  if (!reason) return;
  try {
    S.report = await api("POST", `/api/reads/${readId}/amend`, { reason });
    S.signed = false;
    document.getElementById("signed-box").hidden = true;
    setBadge("in_progress");
    editor.readOnly = false;
    signBtn.disabled = false; amendBtn.hidden = true; printLink.hidden = true;
    setBanner();
    setState(`Amending (version ${S.report.version})`);
    renderVersions();
  } catch (e) { setState(`Cannot amend: ${e.message}`, "error"); }
}

// The next case to read (the worklist's order), and its pixels fetched into the browser
// cache while this one is read: opening it then shows the image without waiting.
async function nextRead() {
  const items = await api("GET", "/api/worklist");
  return items.find(i => i.status !== "signed" && i.read_id !== readId);
}

async function prefetchNext() {
  try {
    const next = await nextRead();
    if (next) document.body.dataset.prefetched = String(await prefetchRead(next.read_id));
  } catch (e) { /* prefetch is an optimisation only */ }
}

async function nextCase() {
  if (S.dirty) await save();
  const next = await nextRead();
  location.href = next ? `/read/${next.read_id}` : "/worklist";
}

function renderVersions() {
  const box = document.getElementById("versions");
  api("GET", `/api/reads/${readId}`).then(d => {
    box.replaceChildren(el("b", {}, "Versions: "), ...d.reports.map(r =>
      el("span", { class: "muted" }, ` v${r.version} ${r.status}${r.signed_at ? " " + new Date(r.signed_at).toLocaleString() : ""};`)));
  }).catch(() => {});
}

function draftSection(d) {
  const panel = el("section", { "data-testid": "draft-panel" });
  if (d.draft_status === "pending") {
    panel.append(el("p", { class: "muted", "data-testid": "draft-pending" }, "AI draft pending… the page will update when it is ready."));
    setTimeout(() => location.reload(), 3000);
    return panel;
  }
  if (!d.draft && d.draft_status === "none" && d.draft_error) {
    // a case that is never drafted (an exam with only a lateral): why, and how to go on
    panel.append(el("p", { class: "notassessed", "data-testid": "no-draft" }, el("b", {}, "No AI draft: "),
      `${d.draft_error}. Write the report from the image; it is signed as any other.`));
    return panel;
  }
  if (!d.draft) {
    panel.append(el("p", { class: "error" }, `No AI draft: ${d.draft_error || d.draft_status}`));
    return panel;
  }
  // The draft's machine facts: statuses, probabilities, model id, what was not assessed. They
  // stay here, beside the editor; the report text holds report language only.
  const dr = d.draft;
  panel.append(
    el("p", { class: "muted draftinfo", "data-testid": "draft-model" }, `${dr.banner}. Model ${dr.model_id} ${dr.model_version}. `,
      el("kbd", {}, "d"), " hides or shows; a click on a finding puts its sentence in FINDINGS (✓) or takes it out."));
  const crit = new Set(dr.critical_flags.map(f => f.name));
  const assessed = dr.findings.filter(f => f.status !== "not_assessed");
  const notAssessed = dr.findings.filter(f => f.status === "not_assessed").map(f => f.name);
  // Findings the model mapped get a button that shows where it looked (over the image; h).
  const mapped = new Set((dr.maps || []).map(m => m.name));
  const rows = assessed.map(f => el("tr", {},
    el("td", {}, el("button", { class: "finding-phrase", "data-finding": f.name, "data-status": f.status, "aria-pressed": "false",
      title: `Put "${(editor.t.phrases[f.name] || {})[f.status] || ""}" in FINDINGS, or take it out`,
      onclick: () => { editor.togglePhrase(f.name, f.status); editor.refreshPhrases(); } }, (crit.has(f.name) ? "⚠ " : "") + f.name)),
    el("td", { class: `status-${f.status}`, text: f.status === "not_assessed" ? "not assessed" : f.status }),
    el("td", { class: "muted num", text: f.probability == null ? "" : f.probability.toFixed(2) }),
    el("td", {}, mapped.has(f.name) ? el("button", { class: "mapbtn", "data-testid": "map-show", "data-finding": f.name,
      "aria-pressed": "false", title: `AI output: where the model looked for ${f.name} (h)`,
      onclick: () => mapOverlay && mapOverlay.show(f.name) }, "map") : null)));
  panel.append(el("table", { class: "findings", "data-testid": "findings" },
    el("thead", {}, el("tr", {}, el("th", { text: "Finding (⚠ critical, flagged)" }), el("th", { text: "Status" }),
      el("th", { class: "num", text: "Probability" }), el("th", { text: mapped.size ? "Where" : "" }))),
    el("tbody", {}, ...rows)));
  if (notAssessed.length) {
    panel.append(el("p", { class: "notassessed", "data-testid": "not-assessed" },
      el("b", {}, "Not assessed by the model: "), notAssessed.join(", ") + "."));
  }
  return panel;
}

async function openReport() {
  for (;;) {
    try { return await api("POST", `/api/reads/${readId}/open`); }
    catch (e) {
      if (e.status === 409 && e.message.startsWith("draft pending")) { await new Promise(r => setTimeout(r, 2000)); continue; }
      throw e;
    }
  }
}

// Age, sex and view of the exam (clinical facts of the order and image, no AI).
function examLine(c) {
  const bits = [];
  const who = [c.patient_age_years != null ? `${Math.floor(c.patient_age_years)} y` : null, c.patient_sex, c.view_position].filter(Boolean);
  if (who.length) bits.push(el("span", { class: "muted", text: who.join(" · ") }));
  return bits.length ? el("p", { class: "examline", "data-testid": "exam-line" }, ...bits) : null;
}

async function main() {
  // The panes first (exam.js: this case's image, and the lateral or a prior beside it): the
  // image is drawn as soon as its answer is in (EARLY_VIEW), while the rest of the page loads.
  const viewerBox = el("div", { class: "viewer" });
  const panes = el("div", { class: "panes", "data-layout": "single" }, viewerBox);
  const viewers = el("div", { class: "viewers" }, panes);
  const side = el("div", { class: "side" });
  const reader = el("div", { class: "reader" }, viewers, side);
  document.getElementById("root").append(reader);
  const viewer = new Viewer(viewerBox, null, { early: EARLY_VIEW, onFirstDraw: () => {
    S.shown = true;
    const t = Date.now();
    sendEvent("image_shown", t).then(() => { document.body.dataset.imageShown = String(t); });
  } });
  const shown = EARLY_VIEW ? viewer.load() : null;
  if (shown) shown.catch(() => {});  // shown below, unless the read itself is refused
  await initPage();
  let d, templates;
  try { [d, templates] = await Promise.all([api("GET", `/api/reads/${readId}`), api("GET", "/api/report-templates")]); }
  catch (e) { viewer.destroy(); reader.remove(); showError("error", e); document.body.dataset.denied = String(e.status); return; }
  S.detail = d;
  document.getElementById("crumb").textContent = `${d.case.label} · ${d.read.arm === "scp" ? "Standard practice" : "AI-assisted"}`;
  viewer.caseId = d.case.id;
  viewer.base = `/api/cases/${d.case.id}`;
  (shown || viewer.load()).then(prefetchNext).catch(e => showError("error", e));

  editor = new ReportEditor(templates, { onInput: onEdit });
  const prio = d.case.priority && d.case.priority !== "routine"
    ? el("span", { class: `prio ${d.case.priority}`, "data-testid": "priority", text: PRIORITY[d.case.priority] }) : null;
  side.append(el("h3", { class: "casehead" }, d.case.label, " ", el("span", { id: "status-badge", class: `badge ${d.read.status}`,
    text: d.read.status.replace("_", " ") }), prio ? " " : null, prio));
  const line = examLine(d.case);
  if (line) side.append(line);
  const priorsBox = el("div", { hidden: true });
  side.append(priorsBox);
  new ExamPanes({ readId, box: viewers, panes, main: viewer, side: priorsBox }).load();
  KeyHelp.install();  // ? shows the page's keys (exam.js)
  if (templates.warning) side.append(el("p", { class: "error", text: `Templates: ${templates.warning}` }));
  banner = el("div", { class: "banner", "data-testid": "ai-banner", role: "status", hidden: true });
  side.append(banner);
  if (d.read.arm === "ai_assisted") { draftPanel = draftSection(d); side.append(draftPanel); }
  // The draft's maps of where the model looked: only where the draft itself is shown.
  if (d.read.arm === "ai_assisted" && d.draft && d.draft.maps && d.draft.maps.length) {
    const status = Object.fromEntries(d.draft.findings.map(f => [f.name, f.status]));
    mapOverlay = new MapOverlay(viewer, d.draft.maps, { statusOf: n => status[n], onChange: (name) => {
      for (const b of draftPanel.querySelectorAll("[data-testid=map-show]")) {
        b.setAttribute("aria-pressed", String(b.dataset.finding === name));
      }
    } });
  }
  saveState = el("div", { class: "savestate", "data-testid": "save-state", role: "status" });
  signBtn = el("button", { class: "primary", onclick: () => sign(), "data-testid": "sign" }, "Sign (Ctrl+Enter)");
  amendBtn = el("button", { onclick: amend, hidden: true }, "Amend…");
  printLink = el("a", { class: "button", href: `/read/${readId}/report`, "data-testid": "print-link", hidden: true,
    title: "The signed report, ready to print or save as PDF (p)" }, "Print / PDF (p)");
  side.append(el("div", { class: "editor" },
    el("div", { id: "signed-box", class: "signed-box", "data-testid": "signed-box", hidden: true }),
    ...editor.render(),
    saveState,
    el("div", { class: "actions" }, signBtn, amendBtn, printLink, el("button", { onclick: nextCase }, "Next case (n)")),
    editor.phrasePanel()),
    el("div", { id: "versions", class: "versions" }),
    el("p", { class: "muted disclaimer", text: "Research and demonstration software — not for clinical use." }));

  const rep = await openReport();
  S.report = rep;
  setBanner();
  editor.setValues(sectionsOf(rep));
  const saved = JSON.parse(localStorage.getItem(BACKUP) || "null");
  if (saved && saved.sections && saved.rev === rep.rev && !rep.read_only && !same(saved.sections, sectionsOf(rep))) {
    editor.setValues(saved.sections);
    S.dirty = true;
    setState("Restored text typed before the page was closed; saving…");
    save();
  } else if (saved && saved.rev !== rep.rev) localStorage.removeItem(BACKUP);
  if (rep.read_only) { lockSigned(); setState(`Signed · ${rep.status}`, "ok"); }
  else setBadge("in_progress");
  for (const box of Object.values(editor.boxes)) box.addEventListener("blur", save);
  editor.refreshPhrases();
  renderVersions();
  document.body.dataset.editorReady = "1";

  document.addEventListener("visibilitychange", () => sendEvent("visibility"));
  window.addEventListener("focus", () => sendEvent("focus"));
  window.addEventListener("blur", () => sendEvent("blur"));
  setInterval(() => { if (S.shown && !S.signed && !document.hidden) sendEvent("heartbeat"); }, HEARTBEAT_MS);
  window.addEventListener("beforeunload", (e) => { if (S.dirty) { backup(); save(); e.preventDefault(); } });
  window.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); sign(); return; }
    const plain = !isTyping(e) && !e.ctrlKey && !e.metaKey;
    if ((e.altKey && e.key === "n") || (plain && !e.altKey && e.key === "n")) { e.preventDefault(); nextCase(); }
    else if (plain && !e.altKey && e.key === "p" && S.signed) { e.preventDefault(); location.href = printLink.href; }
    else if (draftPanel && ((e.altKey && e.key === "d") || (plain && !e.altKey && e.key === "d"))) {
      e.preventDefault(); draftPanel.hidden = !draftPanel.hidden;
      if (draftPanel.hidden && mapOverlay && mapOverlay.on) mapOverlay.set(false);  // no AI on screen
    }
  });
}

main().catch(e => showError("error", e));
