"use strict";

document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  document.getElementById("error").hidden = true;
  try {
    const out = await api("POST", "/api/auth/login", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
    }, { noRedirect: true });
    const next = new URLSearchParams(location.search).get("next");
    location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : HOME[out.user.role];
  } catch (err) {
    showError("error", err);
  }
});
