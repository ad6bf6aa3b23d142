// The read page's exam (GET /api/reads/{id}/exam): the current frontal with the exam's
// lateral beside it, and the patient's earlier exams ("priors") — listed in the side panel
// (date, accession, views, status, impression) and opened beside the current image with
// the report of it that the reader may see (their own signed one; never one written with
// the AI draft in a standard-practice read; never the prior's AI draft). In a reader study
// the server leaves out a prior that is a study case the reader has still to read.
//
// Layouts: the current image (left, always) alone; with the lateral (l) or a prior (b)
// beside it; or all three, frontal + lateral + prior (Shift+L). Each pane has every viewer
// tool and its own window/level; the keys act on the active pane (outlined; a click or x
// makes the next one active). Zoom and pan are linked (z) by default when comparing with a
// prior (the same view of the same patient: the same region in both) and not for the
// lateral (another projection); the link also carries the preset (by name) and invert. In
// the three-pane layout the link joins the current image and the prior, never the lateral.
// Window/level values are never copied (see docs/workstation.md: the values' meaning differs
// between exposures, processing and detectors, and the header cannot tell which match); a
// drag is linked relatively (viewer.js ViewLink.window: the same change in each pane's own
// units, as a fraction of its own width).
// Keys (outside text fields): l frontal + lateral, b compare with the newest prior (again:
// back to one view), Shift+B the next older prior, Shift+L frontal + lateral + prior,
// z link zoom/pan, x the next pane, ? the keys of the page (KeyHelp, below).
"use strict";

class ExamPanes {
  constructor({ readId, box, panes, main, side }) {
    Object.assign(this, { readId, box, panes, main, side });
    this.mode = null; this.priorIndex = 0;
    this.link = new ViewLink({ onChange: (on) => this.linkBtn && this.linkBtn.setAttribute("aria-pressed", String(on)) });
    this.link.add(main);
    // the panes beside the current image: the second (lateral or prior), the third (prior)
    this.slots = ["second", "third"].map(name => {
      const pane = el("div", { class: `pane ${name}`, "data-testid": `${name}-pane`, hidden: true });
      this.panes.append(pane);
      return { name, pane, viewer: null };
    });
  }

  get second() { return this.slots[0].viewer; }

  async load() {
    try { this.data = await api("GET", `/api/reads/${this.readId}/exam`); }
    catch (e) { this.side.append(el("p", { class: "error", text: `Exam: ${e.message}` })); return; }
    const { exam, priors } = this.data;
    if (!exam) return;  // an image without a DICOM study: one view, no priors
    const others = exam.images.filter(i => i.id !== exam.case_image_id);  // the main pane shows the case's image
    this.lateral = others.find(i => i.view === "lateral") || others[0] || null;
    if (this.lateral || priors.length) {
      this.main.setCaption(["Current", viewName(exam.images.find(i => i.id === exam.case_image_id)), exam.study_date].filter(Boolean).join(" · "));
      this.box.prepend(this.layoutBar());
      this.main.fit();
    }
    this.side.replaceChildren(this.priorsSection(priors));
    this.side.hidden = false;
    window.addEventListener("keydown", (e) => this.onKey(e));
    document.body.dataset.examReady = "1";
  }

  layoutBar() {
    const { priors } = this.data;
    const btn = (label, title, onclick, testid) => el("button", { title, onclick, "data-testid": testid, "aria-pressed": "false" }, label);
    this.lateralBtn = this.lateral ? btn(`Frontal + ${this.lateral.view || "other view"} (l)`, "The exam's other view beside the frontal (l)", () => this.toggle("lateral"), "layout-lateral") : null;
    this.priorBtn = priors.length ? btn("Compare with prior (b)", "The newest prior beside the current image (b; Shift+B the next older)",
      () => this.toggle("prior"), "layout-prior") : null;
    this.threeBtn = this.lateral && priors.length ? btn("Frontal + lateral + prior (Shift+L)",
      "Three panes: the current frontal, its lateral and a prior (Shift+L; Shift+B the next older prior)",
      () => this.toggle("three"), "layout-three") : null;
    this.linkBtn = btn("Link views (z)", "Zoom, pan, preset, invert and window/level drags (relatively) follow between the current image and the prior or lateral (z)", () => this.link.set(!this.link.on), "link-toggle");
    this.linkBtn.hidden = true;
    return el("div", { class: "layoutbar", "data-testid": "layout-bar" }, el("span", { class: "muted", text: "Views:" }),
      this.lateralBtn, this.priorBtn, this.threeBtn, this.linkBtn,
      el("span", { class: "hint", title: "The keys act on the outlined pane; a click or x changes it" },
        el("span", { class: "hint-x" }, el("kbd", {}, "x"), " next pane · "),
        el("button", { class: "small", "data-testid": "key-help-open", title: "All the keys of this page (?)",
          onclick: () => KeyHelp.install().set(true) }, "Keys (?)")));
  }

  priorsSection(priors) {
    const box = el("details", { class: "priors", "data-testid": "priors", open: true });
    box.append(el("summary", {}, el("b", {}, "Priors"), el("span", { class: "muted",
      text: priors.length ? ` · ${priors.length} earlier exam${priors.length > 1 ? "s" : ""} of this patient` : " · no earlier exam of this patient" })));
    if (!priors.length) return box;
    this.rows = priors.map((p, i) => el("tr", { "data-prior-id": p.id },
      el("td", { class: "nowrap" }, p.study_date || "—", el("br"), el("span", { class: "muted", text: p.accession_number || "—" })),
      el("td", { text: p.views.join(", ") }),
      el("td", {}, el("span", { class: `badge ${p.status.replace(" ", "_")}`, text: p.status.replace("_", " ") })),
      el("td", { class: p.report ? "" : "muted", "data-testid": "prior-impression",
        text: p.report ? p.report.impression_text || "(no impression)" : p.report_note }),
      el("td", {}, el("button", { class: "small", "data-testid": "prior-open", title: "Open beside the current image",
        onclick: () => this.showPrior(i) }, "Compare"))));
    box.append(el("table", { class: "findings priors-table", "data-testid": "priors-table" },
      el("thead", {}, el("tr", {}, ...["Date · accession", "Views", "Status", "Impression", ""].map(h => el("th", { text: h })))),
      el("tbody", {}, ...this.rows)));
    return box;
  }

  toggle(mode) {
    if (this.mode === mode) this.close();
    else if (mode === "lateral") this.showLateral();
    else if (mode === "three") this.showThree();
    else this.showPrior(this.priorIndex, null, "prior");
  }

  closeSlot(slot) {
    if (slot.viewer) { slot.viewer.destroy(); slot.viewer = null; }
    slot.pane.replaceChildren();
    slot.pane.hidden = true;
  }

  close() {
    this.slots.forEach(s => this.closeSlot(s));
    this.setMode(null);
    this.main.activate();
  }

  setMode(mode) {
    this.mode = mode;
    this.panes.dataset.layout = mode || "single";
    this.panes.classList.toggle("two", mode === "lateral" || mode === "prior");
    this.panes.classList.toggle("three", mode === "three");
    if (mode !== "three") this.closeSlot(this.slots[1]);
    if (this.lateralBtn) this.lateralBtn.setAttribute("aria-pressed", String(mode === "lateral"));
    if (this.priorBtn) this.priorBtn.setAttribute("aria-pressed", String(mode === "prior"));
    if (this.threeBtn) this.threeBtn.setAttribute("aria-pressed", String(mode === "three"));
    this.linkBtn.hidden = !mode;
    const priorShown = mode === "prior" || mode === "three";
    (this.rows || []).forEach((r, i) => r.classList.toggle("selected", priorShown && i === this.priorIndex));
  }

  // A fresh viewer in ``slot`` (the old one taken away), above ``below`` if given; it joins
  // the zoom/pan link once it has its image (it then takes the current pane's view) if ``linked``.
  open(slot, image, caption, below, { linked = true } = {}) {
    this.closeSlot(slot);
    const box = el("div", { class: "viewer", "data-testid": `${slot.name}-viewer` });
    slot.pane.replaceChildren(box, ...(below ? [below] : []));
    slot.pane.hidden = false;
    const v = slot.viewer = new Viewer(box, null, { base: image.pixels_base, caption });
    v.activate();
    v.load().then(() => { if (slot.viewer === v && linked) this.link.add(v); }).catch(e => showError("error", e));
  }

  lateralCaption() {
    const exam = this.data.exam;
    // the view first: where a narrow pane cuts the caption short, it keeps what tells the panes apart
    return ["Current", viewName(this.lateral), exam.study_date].filter(Boolean).join(" · ");
  }

  showLateral() {
    if (this.mode !== "lateral") { this.setMode("lateral"); this.link.set(false); }
    this.open(this.slots[0], this.lateral, this.lateralCaption());
  }

  // Frontal + lateral + prior: the lateral in the second pane (outside the link), the prior
  // in the third (linked with the current image, as when comparing).
  showThree() {
    if (!this.lateral || !this.data.priors.length) return;
    this.setMode("three");
    this.link.set(true);
    this.open(this.slots[0], this.lateral, this.lateralCaption(), null, { linked: false });
    this.showPrior(this.priorIndex, null, "three");
    this.main.activate();
  }

  // Prior ``i`` (its image ``imageId``, else its frontal) beside the current image: in the
  // second pane ("prior"), or in the third one ("three"). ``layout`` null: the one shown now.
  showPrior(i, imageId = null, layout = null) {
    const p = this.data.priors[i];
    if (!p || !p.images.length) return;
    this.priorIndex = i;
    const image = p.images.find(x => x.id === imageId) || p.images.find(x => x.view === "frontal") || p.images[0];
    const mode = layout || (this.mode === "three" ? "three" : "prior");
    const fresh = this.mode !== mode;
    this.setMode(mode);  // also marks the selected row
    if (fresh) this.link.set(true);
    const slot = mode === "three" ? this.slots[1] : this.slots[0];
    this.open(slot, image, ["Prior", p.study_date, p.accession_number, viewName(image)].filter(Boolean).join(" · "),
      this.priorReport(p, image));
  }

  priorReport(p, shown) {
    const views = p.images.length > 1 ? p.images.map(img => el("button", { class: "small", "aria-pressed": String(img.id === shown.id),
      "data-testid": "prior-view", onclick: () => this.showPrior(this.priorIndex, img.id) }, viewName(img))) : [];
    const head = el("div", { class: "prior-head" }, el("b", {}, `Prior ${p.study_date || "(no date)"}`),
      el("span", { class: "muted", text: ` · ${p.accession_number || "no accession"}` }), ...views);
    const box = el("div", { class: "prior-report", "data-testid": "prior-report" }, head);
    const r = p.report;
    if (!r) { box.append(el("p", { class: "muted", "data-testid": "prior-report-note", text: `Report: ${p.report_note}.` })); return box; }
    box.append(el("p", { class: "muted", text: `Your ${r.status} report (version ${r.version}), signed` +
      (r.signed_by ? ` by ${r.signed_by}` : "") + (r.signed_at ? ` ${new Date(r.signed_at).toLocaleString()}` : "") }));
    for (const [name, text] of [["COMPARISON", r.comparison_text], ["FINDINGS", r.findings_text], ["IMPRESSION", r.impression_text]]) {
      if (!text && name === "COMPARISON") continue;
      box.append(el("div", { class: "section-label", text: name }), el("p", { class: "prior-text", text: text || "—" }));
    }
    return box;
  }

  // The panes in screen order (the current image first).
  openViewers() { return [this.main, ...this.slots.map(s => s.viewer).filter(Boolean)]; }

  onKey(e) {
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const n = this.data.priors.length, comparing = this.mode === "prior" || this.mode === "three";
    if (e.key === "l" && this.lateral) this.toggle("lateral");
    else if (e.key === "L" && this.lateral && n) this.toggle("three");
    else if (e.key === "b" && n) this.toggle("prior");
    else if (e.key === "B" && n) this.showPrior(comparing ? (this.priorIndex + 1) % n : this.priorIndex);
    else if (e.key === "z" && this.mode) this.link.set(!this.link.on);
    else if (e.key === "x" && this.second) {
      const vs = this.openViewers();
      vs[(vs.indexOf(Viewer.active) + 1) % vs.length].activate();
    } else return;
    e.preventDefault();
  }
}

function viewName(image) {
  if (!image) return "";
  return image.view ? image.view + (image.view_position ? ` (${image.view_position})` : "") : (image.view_position || "image");
}

// The read page's keys in one overlay (? or the layout bar's hint; Esc or ? again closes).
const KEY_HELP = [
  ["Mouse (on a pane)", [
    ["drag", "window / level (across: width, up/down: level)"], ["Shift- or right-drag", "pan"],
    ["wheel", "zoom at the cursor"], ["click", "makes the pane the outlined one"]]],
  ["Image (the outlined pane)", [
    ["1–9", "window presets (own units)"], ["i", "invert"], ["f", "fit"],
    ["o", "1:1 (image pixel = screen pixel)"], ["+ / −", "zoom"], ["t / Shift+T", "rotate right / left"],
    ["v / Shift+V", "flip across / up-down"], ["m", "ruler"], ["a", "angle (vertex second)"],
    ["Delete", "clear measurements"], ["g", "magnifier"], ["e", "DICOM header"], ["r", "reset"],
    ["Esc", "back to window / level"]]],
  ["Views", [
    ["l", "frontal + lateral (again: one view)"], ["b", "compare with the newest prior (again: one view)"],
    ["Shift+B", "the next older prior"], ["Shift+L", "frontal + lateral + prior (three panes)"],
    ["x", "next pane"], ["z", "link zoom / pan / preset / invert / W-L drag, relative (current image and prior or lateral)"]]],
  ["Report", [
    ["Ctrl+Enter", "sign"], ["n", "next case"], ["p", "print / PDF (signed)"], ["F2", "normal template"],
    ["F3 F4 F6–F9", "macros"], ["w", "into FINDINGS"], ["d", "hide / show the AI draft (AI-assisted)"],
    ["h / Shift+H", "AI map / next mapped finding (AI-assisted)"], ["Alt+key", "n, d while typing"]]],
];

class KeyHelp {
  // The page's one overlay (created, with its ? key, on the first call).
  static install() { return KeyHelp.instance || (KeyHelp.instance = new KeyHelp()); }

  constructor() {
    this.box = el("div", { class: "keyhelp", "data-testid": "key-help", role: "dialog", "aria-label": "Keys", hidden: true },
      el("div", { class: "keyhelp-top" }, el("b", {}, "Keys"), el("span", { class: "muted", text: " · outside text fields · ? or Esc closes" }),
        el("button", { "aria-label": "Close keys", onclick: () => this.set(false) }, "×")),
      el("div", { class: "keyhelp-cols" }, ...KEY_HELP.map(([title, rows]) => el("section", {}, el("h4", { text: title }),
        el("table", {}, el("tbody", {}, ...rows.map(([k, what]) => el("tr", {}, el("td", {}, el("kbd", {}, k)), el("td", { text: what })))))))));
    document.body.append(this.box);
    window.addEventListener("keydown", (e) => {
      if (e.key === "?" && !isTyping(e) && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); this.set(this.box.hidden); }
      else if (e.key === "Escape" && !this.box.hidden) { this.set(false); }
    });
  }
  set(on) { this.box.hidden = !on; document.body.dataset.keyHelp = on ? "1" : ""; }
}
