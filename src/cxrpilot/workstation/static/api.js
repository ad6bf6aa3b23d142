// cxrpilot workstation: the fetch wrapper every page uses (session cookie + CSRF header).
"use strict";

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)cxrpilot_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

async function api(method, url, body, opts = {}) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const r = await fetch(url, { method, headers, body: payload, credentials: "same-origin", keepalive: !!opts.keepalive });
  if (r.status === 401 && !opts.noRedirect) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
    throw new ApiError(401, "not logged in");
  }
  const type = r.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await r.json() : r;
  if (!r.ok) throw new ApiError(r.status, (data && data.detail) || r.statusText, data);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function showError(where, err) {
  const box = document.getElementById(where);
  if (box) {
    box.textContent = err.message || String(err);
    box.hidden = false;
  }
}

async function logout() {
  try { await api("POST", "/api/auth/logout"); } catch (e) { /* already out */ }
  location.href = "/login";
}

function isTyping(ev) {
  const t = ev.target;
  return t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT" || t.isContentEditable);
}

// Each role's start page, and the pages in its header navigation.
const HOME = { radiologist: "/worklist", evaluator: "/evaluations", admin: "/admin", coordinator: "/studies" };
const NAV = {
  radiologist: [["Worklist", "/worklist"]],
  evaluator: [["Evaluations", "/evaluations"]],
  coordinator: [["Studies", "/studies"], ["Cases & users", "/admin"]],
  admin: [["Studies", "/studies"], ["Cases & users", "/admin"]],
};

// The page header: navigation, who is logged in, log out. Returns the current user.
async function initPage(crumb) {
  const me = await api("GET", "/api/auth/me");
  const nav = document.getElementById("nav");
  if (nav) {
    nav.replaceChildren(...(NAV[me.user.role] || []).map(([text, href]) => el("a", { href, text,
      class: location.pathname === href || location.pathname.startsWith(href + "/") ? "current" : null })));
  }
  document.getElementById("who").replaceChildren(el("a", { href: "/account", title: "Your account: change your password",
    class: "who" }, `${me.user.display_name || me.user.username} (${me.user.role})`));
  const btn = document.getElementById("logout");
  btn.hidden = false;
  btn.addEventListener("click", logout);
  const navTexts = (NAV[me.user.role] || []).map(([text]) => text);
  if (crumb && !navTexts.includes(crumb)) document.getElementById("crumb").textContent = crumb;
  return me.user;
}
