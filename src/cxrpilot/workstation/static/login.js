"use strict";

document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  document.getElementById("error").hidden = true;
  try {
    // The server checks ?next= (a same-origin path only) and answers where to go.
    const out = await api("POST", "/api/auth/login", {
      username: document.getElementById("username").value,
      password: document.getElementById("password").value,
      next: new URLSearchParams(location.search).get("next"),
    }, { noRedirect: true });
    location.href = out.redirect || HOME[out.user.role];
  } catch (err) {
    showError("error", err);
  }
});
