// cxrpilot workstation: the fetch wrapper every page uses (session cookie + CSRF header).
"use strict";

// The value sets the server owns (arms, roles, statuses, RADPEER scores, report sections, the CSRF
// cookie and header, each role's home page...), from the page's JSON (workstation/_page_constants.py).
// The scripts keep only their wording for these values.
const CXR = Object.freeze(JSON.parse(document.getElementById("cxr-constants").textContent));

// [value, label] pairs in the server's order (a value without a label shows as itself).
function labelled(values, labels) { return values.map(v => [v, labels[v] || v]); }

function csrfToken() {
  const name = CXR.csrf_cookie + "=";
  const c = document.cookie.split(/;\s*/).find(p => p.startsWith(name));
  return c ? decodeURIComponent(c.slice(name.length)) : "";
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
  if (method !== "GET") headers[CXR.csrf_header] = csrfToken();
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
const HOME = CXR.home;
const NAV = {
  radiologist: [["Worklist", "/worklist"]],
  evaluator: [["Evaluations", "/evaluations"]],
  coordinator: [["Studies", "/studies"], ["Cases & users", "/admin"]],
  admin: [["Studies", "/studies"], ["Cases & users", "/admin"], ["Interfaces", "/interfaces"]],
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
