// One blinded evaluation form: Likert 1-5 and RADPEER per report, preference for a pair.
"use strict";
const taskId = +location.pathname.split("/").filter(Boolean).pop();
const RADPEER = labelled(CXR.radpeer_scores, { 1: "1 — concur", "2a": "2a — minor, unlikely significant",
  "2b": "2b — minor, likely significant", "3a": "3a — major, unlikely significant", "3b": "3b — major, likely significant" });

function radios(name, options, value, disabled, cls = "") {
  return el("fieldset", { class: cls }, ...options.map(([v, label]) => el("label", {},
    el("input", { type: "radio", name, value: v, checked: String(value) === String(v), disabled, required: true }), ` ${label}`)));
}

(async () => {
  try {
    await initPage("Evaluation");
    const t = await api("GET", `/api/evaluations/${taskId}`);
    const done = t.status === "submitted";
    const viewerBox = el("div", { class: "viewer" });
    const side = el("div", { class: "side" });
    document.getElementById("root").append(el("div", { class: "eval" }, viewerBox, side));
    new Viewer(viewerBox, t.case_id).load().catch(e => showError("error", e));
    const form = el("form", { "data-testid": "evaluation-form" });
    side.append(el("h3", { text: `${t.case_label}` }));
    if (t.indication) side.append(el("p", {}, el("b", {}, "Indication: "), t.indication));
    if (t.reference_text) side.append(el("div", { class: "report-box" }, el("b", {}, "Reference report"), el("pre", { text: t.reference_text })));
    for (const r of t.reports) {
      const title = t.reports.length > 1 ? `Report ${r.position === "left" ? "A (left)" : "B (right)"}` : "Report";
      form.append(el("div", { class: "report-box", "data-position": r.position },
        el("b", { text: title }),
        el("div", { class: "section-label", text: "FINDINGS" }), el("pre", { text: r.findings_text || "—" }),
        el("div", { class: "section-label", text: "IMPRESSION" }), el("pre", { text: r.impression_text || "—" }),
        el("div", { class: "question" }, "Quality (Likert, 1 poor — 5 excellent)"),
        radios(`${r.position}-likert`, [1, 2, 3, 4, 5].map(v => [v, String(v)]), r.likert, done),
        el("div", { class: "question" }, t.reference_text ? "RADPEER against the reference" : "RADPEER (your own reading of the image)"),
        radios(`${r.position}-radpeer`, RADPEER, r.radpeer, done, "stacked")));
    }
    if (t.reports.length > 1) {
      form.append(el("div", { class: "question" }, "Which report do you prefer?"),
        radios("preference", [["left", "A (left)"], ["right", "B (right)"], ["none", "No preference"]], t.preference, done));
    }
    const state = el("div", { class: "savestate", "data-testid": "eval-state", text: done ? "Submitted." : "" });
    form.append(el("div", { class: "actions" }, el("button", { class: "primary", type: "submit", disabled: done }, "Submit"),
      el("a", { href: "/evaluations" }, "Back to the list")), state);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const ratings = {};
      for (const r of t.reports) ratings[r.position] = { likert: +fd.get(`${r.position}-likert`), radpeer: fd.get(`${r.position}-radpeer`) };
      try {
        await api("POST", `/api/evaluations/${taskId}`, { ratings, preference: t.reports.length > 1 ? fd.get("preference") : null });
        state.textContent = "Submitted.";
        form.querySelectorAll("input, button[type=submit]").forEach(i => { i.disabled = true; });
        document.body.dataset.submitted = "1";
      } catch (err) { state.textContent = `Not submitted: ${err.message}`; }
    });
    side.append(form);
  } catch (e) { showError("error", e); }
})();
