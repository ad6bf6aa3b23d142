// Interfaces (admins): the outbox of documents sent to the PACS and the FHIR server, with a
// retry for failed items; and the API tokens of machine clients: create (the token is shown
// once), list, revoke. Everything goes through /api/outbox and /api/tokens.
"use strict";

const OUTBOX_KINDS = { report_sr: "Report SR", ai_sr: "AI findings SR", fhir_report: "FHIR DiagnosticReport" };
const SCOPE_LABELS = { ingest: "ingest (import images)", "read:results": "read:results (reports, FHIR)" };

const when = t => t ? new Date(t).toLocaleString() : "";

function pageSection(title, id, ...children) {
  return el("section", { class: "page", id }, el("h2", { text: title }), ...children);
}

function listTable(testid, headers, rows, empty) {
  if (!rows.length) return el("p", { class: "muted", "data-testid": `${testid}-empty`, text: empty });
  return el("table", { class: "list static compact", "data-testid": testid },
    el("thead", {}, el("tr", {}, ...headers.map(h => el("th", { text: h })))),
    el("tbody", {}, ...rows.map(([attrs, cells]) => el("tr", attrs, ...cells.map(c => el("td", {}, c))))));
}

async function outboxSection() {
  const items = await api("GET", "/api/outbox");
  const retry = item => el("button", { "data-testid": "retry", onclick: async () => {
    let note;
    try {
      await api("POST", `/api/outbox/${item.id}/retry`);
      note = `Item ${item.id} is queued again.`;
    } catch (e) { note = e.message; }
    await render(undefined, note);
  } }, "Retry");
  return pageSection("Outbox", "outbox",
    el("p", { class: "muted", text: "Documents sent on signing: SRs to the PACS, the FHIR report to the FHIR server. " +
      "A failed item is sent again only when retried here." }),
    listTable("outbox", ["#", "Kind", "Destination", "State", "Attempts", "Last error", "Next try", "Sent", ""],
      items.map(i => [{ "data-id": i.id, "data-status": i.status }, [
        String(i.id), OUTBOX_KINDS[i.kind] || i.kind, el("span", { class: "mono", text: i.destination }),
        el("b", { text: i.status }), String(i.attempts),
        i.last_error ? el("span", { class: "error", text: i.last_error }) : "",
        ["pending", "sending"].includes(i.status) ? when(i.next_attempt_at) : "",
        when(i.sent_at) + (i.ack ? ` (${i.ack})` : ""),
        i.status === "failed" ? retry(i) : ""]]),
      "Nothing sent yet."));
}

async function tokensSection(created) {
  const [tokens, users] = await Promise.all([api("GET", "/api/tokens"), api("GET", "/api/users")]);
  const names = Object.fromEntries(users.map(u => [u.id, u.username]));
  const revoke = t => el("button", { "data-testid": "revoke", onclick: async () => {
    if (!confirm(`Revoke the token "${t.name}"? Clients using it are refused at once.`)) return;
    let note;
    try {
      await api("POST", `/api/tokens/${t.id}/revoke`);
      note = `Token "${t.name}" revoked.`;
    } catch (e) { note = e.message; }
    await render(undefined, note);
  } }, "Revoke");

  const name = el("input", { id: "token-name", maxlength: 128, placeholder: "e.g. PACS bridge" });
  const scopes = CXR.token_scopes.map(s => el("input", { type: "checkbox", value: s, id: `scope-${s}` }));
  const owner = el("select", { id: "token-user" }, ...users.filter(u => u.active).map(u =>
    el("option", { value: u.id, text: `${u.username} (${u.role})` })));
  const days = el("input", { id: "token-days", type: "number", min: 1, max: 3650, placeholder: "never" });
  const state = el("div", { class: "savestate", role: "status", "data-testid": "token-state" });
  const create = el("button", { class: "primary", "data-testid": "create-token", onclick: async () => {
    const body = { name: name.value, scopes: scopes.filter(c => c.checked).map(c => c.value), user_id: +owner.value };
    if (days.value !== "") body.expires_days = Number(days.value);
    try {
      const made = await api("POST", "/api/tokens", body);
      await render({ token: made.token, name: made.name });
    } catch (e) { state.textContent = `Not created: ${e.message}`; }
  } }, "Create token");

  const shown = created ? el("div", { class: "secret", "data-testid": "new-token" },
    el("p", {}, el("b", { text: `Token "${created.name}" — copy it now: it is not shown again ` +
      "(only its SHA-256 is stored)." })),
    el("p", {}, el("code", { class: "mono", "data-testid": "new-token-value", text: created.token }))) : "";

  return pageSection("API tokens", "tokens",
    el("p", { class: "muted", text: "Machine clients (a PACS bridge, a RIS) send \"Authorization: Bearer cxrp_...\"; " +
      "a token acts as its account, only on the routes of its scopes." }),
    shown,
    el("div", { class: "form-grid" },
      el("label", { for: "token-name" }, "Name"), name,
      el("span", { text: "Scopes" }), el("div", { class: "checks" }, ...scopes.map(c =>
        el("label", { for: c.id }, c, ` ${SCOPE_LABELS[c.value] || c.value}`))),
      el("label", { for: "token-user" }, "Acts as"), owner,
      el("label", { for: "token-days" }, "Expires after (days)"), days,
      el("span"), el("div", {}, create, state)),
    listTable("tokens", ["Name", "Prefix", "Scopes", "Acts as", "Created", "Expires", "Last used", "Uses", "Revoked", ""],
      tokens.map(t => [{ "data-id": t.id, "data-revoked": t.revoked_at ? "yes" : "no" }, [
        t.name, el("span", { class: "mono", text: `${t.prefix}…` }), t.scopes.join(", "),
        names[t.user_id] || `user ${t.user_id}`, when(t.created_at), when(t.expires_at) || "never",
        t.last_used_at ? `${when(t.last_used_at)} from ${t.last_used_ip || "?"}` : "never", String(t.use_count),
        when(t.revoked_at), t.revoked_at ? "" : revoke(t)]]),
      "No API tokens yet."));
}

const message = el("div", { class: "savestate", role: "status", "data-testid": "interop-message" });

// Draw both sections again; then say what was done (``note``) or show a new token (``created``).
async function render(created, note = "") {
  const root = document.getElementById("root");
  const parts = await Promise.all([outboxSection(), tokensSection(created)]);
  message.textContent = note;
  root.replaceChildren(message, ...parts);
  document.body.dataset.rendered = String(Date.now());
}

(async () => {
  try { await initPage("Interfaces"); await render(); } catch (e) { showError("error", e); }
})();
