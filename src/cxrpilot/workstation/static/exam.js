// The read page's exam (GET /api/reads/{id}/exam): the current frontal with the exam's
// lateral beside it, and the patient's earlier exams ("priors") — listed in the side panel
// (date, accession, views, status, impression) and opened beside the current image with
// the report of it that the reader may see (their own signed one; never one written with
// the AI draft in a standard-practice read; never the prior's AI draft).
//
// Two panes at most: the current image (left, always) and a second one showing either the
// lateral or a prior. Each pane has every viewer tool and its own window/level (the
// images' units differ); the keys act on the active pane (outlined; a click or x makes the
// other one active). Zoom and pan are linked (z) by default when comparing with a prior (the
// same view of the same patient: the same region in both) and not for the lateral (another
// projection); the link also carries the preset (by name) and invert.
// Keys (outside text fields): l frontal + lateral, b compare with the newest prior (again:
// back to one view), Shift+B the next older prior, z link zoom/pan, x the other pane.
"use strict";

class ExamPanes {
  constructor({ readId, box, panes, main, side }) {
    Object.assign(this, { readId, box, panes, main, side });
    this.mode = null; this.prior = null; this.priorIndex = 0; this.second = null;
    this.link = new ViewLink({ onChange: (on) => this.linkBtn && this.linkBtn.setAttribute("aria-pressed", String(on)) });
    this.link.add(main);
    this.pane = el("div", { class: "pane second", "data-testid": "second-pane", hidden: true });
    this.panes.append(this.pane);
  }

  async load() {
    try { this.data = await api("GET", `/api/reads/${this.readId}/exam`); }
    catch (e) { this.side.append(el("p", { class: "error", text: `Exam: ${e.message}` })); return; }
    const { exam, priors } = this.data;
    if (!exam) return;  // an image without a DICOM study: one view, no priors
    const others = exam.images.filter(i => i.id !== exam.case_image_id);  // the main pane shows the case's image
    this.lateral = others.find(i => i.view === "lateral") || others[0] || null;
    if (this.lateral || priors.length) {
      this.main.toolbar.append(el("span", { class: "pane-caption", "data-testid": "pane-caption",
        text: ["Current", exam.study_date, viewName(exam.images.find(i => i.id === exam.case_image_id))].filter(Boolean).join(" · ") }));
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
    this.linkBtn = btn("Link zoom/pan (z)", "Zoom, pan, preset and invert follow between the panes (z)", () => this.link.set(!this.link.on), "link-toggle");
    this.linkBtn.hidden = true;
    return el("div", { class: "layoutbar", "data-testid": "layout-bar" }, el("span", { class: "muted", text: "Views:" }),
      this.lateralBtn, this.priorBtn, this.linkBtn,
      el("span", { class: "hint" }, el("kbd", {}, "x"), " other pane · keys act on the outlined pane"));
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
    else this.showPrior(this.priorIndex);
  }

  close() {
    if (this.second) { this.second.destroy(); this.second = null; }
    this.pane.replaceChildren();
    this.pane.hidden = true;
    this.panes.classList.remove("two");
    this.setMode(null);
    this.main.activate();
  }

  setMode(mode) {
    this.mode = mode;
    this.panes.dataset.layout = mode || "single";
    if (this.lateralBtn) this.lateralBtn.setAttribute("aria-pressed", String(mode === "lateral"));
    if (this.priorBtn) this.priorBtn.setAttribute("aria-pressed", String(mode === "prior"));
    this.linkBtn.hidden = !mode;
    (this.rows || []).forEach((r, i) => r.classList.toggle("selected", mode === "prior" && i === this.priorIndex));
  }

  // A fresh viewer in the second pane (the old one taken away), above ``below`` if given.
  open(examId, image, caption, below) {
    if (this.second) { this.second.destroy(); this.second = null; }
    const box = el("div", { class: "viewer", "data-testid": "second-viewer" });
    this.pane.replaceChildren(box, ...(below ? [below] : []));
    this.pane.hidden = false;
    this.panes.classList.add("two");
    const v = this.second = new Viewer(box, null, { base: image.pixels_base, caption });
    v.activate();
    // linked once it has its image: it then takes the current pane's zoom and pan
    v.load().then(() => { if (this.second === v) this.link.add(v); }).catch(e => showError("error", e));
  }

  showLateral() {
    const exam = this.data.exam;
    if (this.mode !== "lateral") { this.setMode("lateral"); this.link.set(false); }
    this.open(exam.id, this.lateral, ["Current", exam.study_date, viewName(this.lateral)].filter(Boolean).join(" · "));
  }

  showPrior(i, imageId = null) {
    const p = this.data.priors[i];
    if (!p || !p.images.length) return;
    this.priorIndex = i;
    const image = p.images.find(x => x.id === imageId) || p.images.find(x => x.view === "frontal") || p.images[0];
    const fresh = this.mode !== "prior";
    this.setMode("prior");
    if (fresh) this.link.set(true);
    this.open(p.id, image, ["Prior", p.study_date, p.accession_number, viewName(image)].filter(Boolean).join(" · "),
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

  onKey(e) {
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const n = this.data.priors.length;
    if (e.key === "l" && this.lateral) this.toggle("lateral");
    else if (e.key === "b" && n) this.toggle("prior");
    else if (e.key === "B" && n) this.showPrior(this.mode === "prior" ? (this.priorIndex + 1) % n : this.priorIndex);
    else if (e.key === "z" && this.mode) this.link.set(!this.link.on);
    else if (e.key === "x" && this.second) (Viewer.active === this.main ? this.second : this.main).activate();
    else return;
    e.preventDefault();
  }
}

function viewName(image) {
  if (!image) return "";
  return image.view ? image.view + (image.view_position ? ` (${image.view_position})` : "") : (image.view_position || "image");
}
