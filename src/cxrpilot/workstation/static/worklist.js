// Worklist: the reader's reads; arrows or j/k move, Enter opens.
"use strict";
const ARM = { ai_assisted: "AI-assisted", scp: "Standard" };
let rows = [], selected = 0;

function select(i) {
  if (!rows.length) return;
  selected = Math.max(0, Math.min(rows.length - 1, i));
  rows.forEach((r, j) => r.classList.toggle("selected", j === selected));
  rows[selected].scrollIntoView({ block: "nearest" });
}

function render(items) {
  const root = document.getElementById("root");
  root.replaceChildren();
  const main = el("main", { class: "page" },
    el("h2", {}, "Worklist ", el("span", { class: "muted", text: `${items.filter(i => i.status !== "signed").length} to read` })),
    el("p", { class: "muted" }, "Move with ", el("kbd", {}, "↑"), " ", el("kbd", {}, "↓"), " (or ", el("kbd", {}, "j"), " ",
      el("kbd", {}, "k"), "), open with ", el("kbd", {}, "Enter"), "."));
  const body = el("tbody");
  rows = items.map((it, i) => {
    const flags = it.critical_flags.map(f => el("span", { class: `flag ${f.status}`, title: `AI draft: ${f.status}` }, f.name,
      f.status === "uncertain" ? el("span", { class: "flag-status", text: " (uncertain)" }) : null));
    const tr = el("tr", { "data-read-id": it.read_id, onclick: () => open(it.read_id) },
      el("td", { text: String(i + 1) }),
      el("td", { text: it.case_label }),
      el("td", { text: it.study || "—" }),
      el("td", { text: ARM[it.arm] + (it.period > 1 ? ` (period ${it.period})` : "") }),
      el("td", {}, el("span", { class: `badge ${it.status}`, text: it.status.replace("_", " ") })),
      el("td", { text: it.draft_status ? (it.draft_status === "pending" ? "draft pending" : `draft ${it.draft_status}`) : "—" }),
      el("td", {}, ...flags));
    body.append(tr);
    return tr;
  });
  main.append(el("table", { class: "list", "data-testid": "worklist" },
    el("thead", {}, el("tr", {}, ...["#", "Case", "Study", "Arm", "Status", "AI draft", "Critical findings"].map(h => el("th", { text: h })))),
    body));
  if (!items.length) main.append(el("p", { class: "muted", text: "Nothing assigned to you." }));
  root.append(main);
  const first = items.findIndex(i => i.status !== "signed");
  select(first < 0 ? 0 : first);
}

function open(readId) { location.href = `/read/${readId}`; }

window.addEventListener("keydown", (e) => {
  if (isTyping(e)) return;
  if (e.key === "ArrowDown" || e.key === "j") { select(selected + 1); e.preventDefault(); }
  else if (e.key === "ArrowUp" || e.key === "k") { select(selected - 1); e.preventDefault(); }
  else if (e.key === "Enter" && rows[selected]) open(rows[selected].dataset.readId);
});

(async () => {
  try {
    await initPage("Worklist");
    render(await api("GET", "/api/worklist"));
    setInterval(async () => {
      try { const items = await api("GET", "/api/worklist"); const keep = selected; render(items); select(keep); } catch (e) { /* retry later */ }
    }, 20000);
  } catch (e) { showError("error", e); }
})();
