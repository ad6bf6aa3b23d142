// The logged-in user's account: change the password (the generated first password says to).
"use strict";

(async () => {
  try {
    const user = await initPage("Account");
    const current = el("input", { id: "current", type: "password", autocomplete: "current-password", required: true });
    const fresh = el("input", { id: "new", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
    const again = el("input", { id: "again", type: "password", autocomplete: "new-password", required: true });
    const msg = el("div", { class: "savestate", role: "status", "data-testid": "password-state" });
    const form = el("form", { class: "form-grid", "data-testid": "password-form" },
      el("label", { for: "current" }, "Current password"), current,
      el("label", { for: "new" }, "New password"), el("div", {}, fresh, el("div", { class: "hint", text: "At least 10 characters." })),
      el("label", { for: "again" }, "New password again"), again,
      el("span"), el("div", {}, el("button", { class: "primary", type: "submit" }, "Change password"), msg));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (fresh.value !== again.value) { msg.textContent = "The two new passwords differ."; msg.className = "savestate error"; return; }
      try {
        await api("POST", "/api/auth/password", { old_password: current.value, new_password: fresh.value }, { noRedirect: true });
        msg.textContent = "Password changed."; msg.className = "savestate ok";
        form.reset();
      } catch (err) { msg.textContent = `Not changed: ${err.message}`; msg.className = "savestate error"; }
    });
    document.getElementById("root").append(el("section", { class: "page" },
      el("h2", { text: `Account · ${user.display_name || user.username}` }),
      el("section", { class: "card" }, el("h3", { text: "Change your password" }),
        el("p", { class: "hint", text: "A password generated for you when your account was created is shown once: change it here." }), form)));
    current.focus();
  } catch (e) { showError("error", e); }
})();
