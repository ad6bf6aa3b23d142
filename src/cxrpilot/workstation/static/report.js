// The report of a read as a printable sheet: the latest signed version (or the current
// draft, marked as not signed), its sections, who signed it and when. Printing (Ctrl+P, or
// the button) gives paper or a PDF; the print stylesheet drops the page chrome.
"use strict";
const reportReadId = +location.pathname.split("/").filter(Boolean).slice(-2)[0];
const HEADINGS = CXR.report_sections.map(s => [s, s.toUpperCase()]);

function renderSheet(d) {
  const signed = d.reports.filter(r => r.signed_at);
  const r = signed.length ? signed[signed.length - 1] : d.reports[d.reports.length - 1];
  const c = d.case;
  const facts = [c.patient_age_years != null ? `${Math.floor(c.patient_age_years)} years` : null, c.patient_sex,
    c.view_position ? `view ${c.view_position}` : null, c.accession ? `accession ${c.accession}` : null,
    c.priority && c.priority !== "routine" ? c.priority.toUpperCase() : null].filter(Boolean);
  const sheet = el("article", { class: "report-sheet", "data-testid": "report-sheet" },
    el("header", {}, el("h1", {}, "Chest radiograph report"),
      el("p", {}, el("b", {}, c.label), facts.length ? ` · ${facts.join(" · ")}` : "")));
  if (!r) { sheet.append(el("p", { class: "error", text: "No report has been written for this case yet." })); return sheet; }
  if (!r.signed_at) sheet.append(el("p", { class: "unsigned", "data-testid": "unsigned", text: "PRELIMINARY — NOT SIGNED" }));
  for (const [key, heading] of HEADINGS) {
    const text = r[`${key}_text`];
    if (!text && key !== "findings" && key !== "impression") continue;
    sheet.append(el("section", { "data-section": key }, el("h2", { text: heading }), el("p", { class: "text", text: text || "—" })));
  }
  const sig = r.signed_at ? `Electronically signed by ${r.signed_by || "the reader"} on ${new Date(r.signed_at).toLocaleString()}` +
    ` · ${r.status} report, version ${r.version}` + (d.read.arm === "ai_assisted" ? " · AI-assisted" : "") : "";
  if (sig) sheet.append(el("p", { class: "signature", "data-testid": "signature", text: sig }));
  if (r.amendment_reason) sheet.append(el("p", { class: "muted", text: `Amended: ${r.amendment_reason}` }));
  sheet.append(el("p", { class: "disclaimer-print", text: "Research and demonstration software — not for clinical use." }));
  return sheet;
}

(async () => {
  try {
    await initPage("Report");
    const d = await api("GET", `/api/reads/${reportReadId}`);
    document.getElementById("root").append(
      el("div", { class: "report-actions no-print" }, el("a", { href: `/read/${reportReadId}` }, "← Back to the case"), " ",
        el("button", { class: "primary", onclick: () => window.print(), "data-testid": "print" }, "Print / save as PDF")),
      renderSheet(d));
    document.body.dataset.reportReady = "1";
  } catch (e) { showError("error", e); document.body.dataset.denied = String(e.status); }
})();
