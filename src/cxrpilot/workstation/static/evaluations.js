// The evaluator's list of blinded forms.
"use strict";
(async () => {
  try {
    await initPage("Evaluations");
    const tasks = await api("GET", "/api/evaluations");
    const body = el("tbody");
    tasks.forEach((t, i) => body.append(el("tr", { onclick: () => { location.href = `/evaluation/${t.task_id}`; } },
      el("td", { text: String(i + 1) }), el("td", { text: t.case_label }),
      el("td", { text: t.paired ? "two reports" : "one report" }),
      el("td", {}, el("span", { class: `badge ${t.status === "submitted" ? "signed" : "new"}`, text: t.status })))));
    document.getElementById("root").append(el("main", { class: "page" },
      el("h2", {}, `Evaluations (${tasks.filter(t => t.status !== "submitted").length} open)`),
      el("table", { class: "list", "data-testid": "tasks" },
        el("thead", {}, el("tr", {}, ...["#", "Case", "Form", "Status"].map(h => el("th", { text: h })))), body)));
  } catch (e) { showError("error", e); }
})();
