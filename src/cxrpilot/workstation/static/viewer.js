// cxrpilot viewer: full-depth pixels in the image's own units, window/level and presets,
// zoom/pan, exact 1:1, invert, rotate/flip, ruler and angle (mm where the header has a pixel
// spacing), a magnifier and the de-identified DICOM header.
//
// Pixels arrive as lossless 16-bit PNGs: the low-resolution first view inline in the
// viewer's answer (``/viewer?preview=true``; the read page asks ``/api/reads/{id}/viewer``
// as its first request, before it knows the case), decoded here (small), then the full
// image, asked for once the preview is in (so that the two do not share the link) and
// decoded by png16.js in a Web Worker while it downloads. Bench knobs: ?first=png asks the
// low-resolution PNG in a request of its own beside the full one and the metadata (the
// transfer before the inline preview); ?transfer=raw the old uncompressed pixels.
// Values: value = offset + t * scale (own units; presets and the W/L readout are in them);
// MONOCHROME1 images are shown inverted.
//
// Mouse: left-drag = the current tool (window/level by default: horizontal width, vertical
// level); right-, middle- or shift-drag = pan; wheel = zoom at the cursor.
// Keys (outside text fields): i invert, f fit, o 1:1, r reset, + - zoom, 1-9 presets,
// m ruler, a angle, g magnifier, t / Shift+T rotate 90° right / left, v / Shift+V flip
// horizontally / vertically, e header, Delete clear measurements, Esc back to window/level.
// The toolbar keeps one row whatever the pane's width (layoutTools): the tools that do not
// fit go, lowest rank first, into its "More" menu, and the pane's caption is cut short last.
// Layers (addLayer: an object with draw(ctx, viewer)) are drawn over the image in its own
// coordinates (0..w, 0..h), so they follow zoom, pan, rotation and flips; maps.js is one.
//
// Several panes (the read page's frontal + lateral, or current + prior): each is a Viewer
// with its own tools and state; the keys act on the active pane (the one last clicked,
// outlined). A ViewLink makes zoom and pan follow between panes (relative to each pane's
// fit, so images of different sizes show the same part), the preset (by name), invert, and
// a window/level drag relatively (each pane's level moves by the same fraction of its own
// width, its width by the same ratio): never the values themselves, because the images'
// units differ.
"use strict";

const TOOL_NAMES = { wl: "Window/level", ruler: "Ruler", angle: "Angle" };
const LOUPE_SIZE = 220, LOUPE_FACTOR = 3;
const CAPTION_SHARE = 0.6;  // of a narrow toolbar, what the pane's caption keeps before it is cut

// Fetch a read's viewer answer (with its preview) and full pixels into the browser cache
// (the read page does it for the next case while the reader reads this one). Resolves to
// the read's case id once cached.
async function prefetchRead(readId) {
  const info = await api("GET", `/api/reads/${readId}/viewer`);
  await fetch(info.png_urls.full, { credentials: "same-origin" }).then(r => r.arrayBuffer());
  return info.case_id;
}

// The read page's first request: its case's viewer answer with the preview ({info: promise,
// askedAt()}). The page's HTML preloads it (<link rel=preload>), so that it is asked for
// while the scripts load; askedAt: when it was asked for, ms since the navigation's start.
function startReadViewer(readId) {
  const url = `/api/reads/${readId}/viewer`, startedAt = performance.now();
  const askedAt = () => Math.min(startedAt, ...performance.getEntriesByName(new URL(url, location.href).href).map(e => e.startTime));
  return { info: api("GET", url), askedAt };
}

// Base64 (the inline preview) to bytes.
function base64Bytes(text) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
  const s = atob(text), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

class Viewer {
  // base: where the image's viewer data is (a case's by default; an exam image's
  // /api/exams/{id}/images/{image_id}); caption: what the pane shows (in its toolbar);
  // early: the answer already asked for (startReadViewer), used instead of asking again.
  constructor(container, caseId, { onFirstDraw, base, caption, early } = {}) {
    this.container = container;
    this.caseId = caseId;
    this.base = base || (caseId == null ? null : `/api/cases/${caseId}`);
    this.early = early || null;
    this.onFirstDraw = onFirstDraw;
    this.canvas = el("canvas", { "data-testid": "viewer-canvas" });
    this.readout = el("div", { class: "readout", "data-testid": "wl-readout" });
    this.note = el("div", { class: "viewer-note", "data-testid": "spacing-note", role: "status", hidden: true });
    this.loupe = el("canvas", { class: "loupe", "data-testid": "loupe", width: LOUPE_SIZE, height: LOUPE_SIZE, hidden: true });
    this.presetSelect = el("select", { "aria-label": "Window preset", "data-testid": "preset",
      onchange: () => { if (this.presetSelect.value !== "custom") this.applyPreset(+this.presetSelect.value); } });
    // a glyph in the bar, its name in the "More" menu
    const glyph = (g, name) => el("span", {}, el("span", { class: "glyph", text: g }), el("span", { class: "long", text: name }));
    // rank: which tools stay in a narrow pane's bar longest (see layoutTools); key: shown in the menu
    const btn = (label, title, onclick, rank, key, attrs = {}) =>
      el("button", { title, onclick, "data-rank": rank, "data-key": key, ...attrs }, label);
    this.toolButtons = {
      ruler: btn("Ruler", "Ruler: drag to measure (m)", () => this.setTool("ruler"), 7, "m", { "data-tool": "ruler", "aria-pressed": "false" }),
      angle: btn("Angle", "Angle: click three points, the vertex second (a)", () => this.setTool("angle"), 4, "a", { "data-tool": "angle", "aria-pressed": "false" }),
    };
    this.loupeButton = btn("Loupe", `Magnifier ×${LOUPE_FACTOR} (g)`, () => this.toggleLoupe(), 5, "g", { "data-testid": "loupe-toggle", "aria-pressed": "false" });
    this.tools = [
      btn("Invert", "Invert (i)", () => this.toggleInvert(), 11, "i"),
      btn("Fit", "Fit to window (f)", () => this.fit(), 12, "f"),
      btn("1:1", "One image pixel per screen pixel (o)", () => this.oneToOne(), 10, "o", { "data-testid": "one-to-one" }),
      btn(glyph("+", "Zoom in"), "Zoom in (+)", () => this.zoomBy(1.25), 9, "+", { "aria-label": "Zoom in" }),
      btn(glyph("−", "Zoom out"), "Zoom out (-)", () => this.zoomBy(0.8), 8, "-", { "aria-label": "Zoom out" }),
      btn(glyph("⟳", "Rotate right"), "Rotate 90° right (t; Shift+T left)", () => this.rotate(1), 3, "t", { "aria-label": "Rotate right" }),
      btn(glyph("⇋", "Flip horizontally"), "Flip horizontally (v; Shift+V vertically)", () => this.flip("h"), 2, "v", { "aria-label": "Flip horizontally" }),
      this.toolButtons.ruler, this.toolButtons.angle, this.loupeButton,
      btn("Header", "DICOM header, de-identified (e)", () => this.toggleHeader(), 0, "e", { "data-testid": "header-toggle" }),
      btn("Reset", "Reset window, zoom, rotation, measurements (r)", () => this.reset(), 1, "r"),
    ];
    // a pane too narrow for every tool keeps them in one row: the rest go into "More"
    this.moreMenu = el("div", { class: "toolmenu", "data-testid": "tool-menu", hidden: true,
      onclick: (e) => { if (e.target.closest("button")) this.toggleMenu(false); } });
    this.moreButton = el("button", { class: "more", "data-testid": "tool-more", "aria-haspopup": "true", "aria-expanded": "false",
      title: "More tools (each also on its key)", onclick: () => this.toggleMenu() }, "More ▾");
    this.more = el("span", { class: "toolmore", hidden: true }, this.moreButton, this.moreMenu);
    this.presetSelect.dataset.rank = "12.5";  // the keys 1-9 choose a preset too
    this.tools.unshift(this.presetSelect);
    const bar = el("div", { class: "toolbar", "data-testid": "viewer-toolbar" }, ...this.tools, this.more);
    this.toolbar = bar;
    if (caption) this.setCaption(caption);
    this.headerPanel = el("div", { class: "header-panel", "data-testid": "header-panel", hidden: true });
    this.layers = [];
    this.measurements = [];
    this.pending = null;  // the measurement being drawn
    container.append(this.canvas, bar, this.note, this.readout, this.loupe, this.headerPanel);
    this.center = 32768; this.width = 65536; this.invert = false;
    this.zoom = 1; this.panX = 0; this.panY = 0; this.rot = 0; this.flipH = false; this.flipV = false;
    this.tool = "wl"; this.drawn = false; this.resolution = null; this.custom = false;
    this.link = null; this.lastLinked = "";
    Viewer.all.add(this);
    if (!Viewer.active) this.activate();
  }

  // The pane the keys act on (outlined when there are several).
  activate() {
    Viewer.active = this;
    for (const v of Viewer.all) v.container.classList.toggle("active", v === this);
  }

  // The pane's caption, at the toolbar's right end (cut short with "…" where the pane is narrow).
  setCaption(text) {
    if (!this.caption) this.caption = el("span", { class: "pane-caption", "data-testid": "pane-caption" });
    Object.assign(this.caption, { textContent: text, title: text });
    this.toolbar.append(this.caption);
    this.layoutTools();
  }

  // A tool from outside (the AI map): in the bar after the viewer's own, before the caption.
  addTool(button, { rank = 13, key = "" } = {}) {
    Object.assign(button.dataset, { rank: String(rank), key });
    this.tools.push(button);
    this.more.before(button);
    this.layoutTools();
  }

  // One row whatever the pane's width: the caption keeps its length (up to CAPTION_SHARE of
  // the bar), and the tools that do not fit move, lowest rank first, into the "More" menu (in
  // the bar's order); the caption gives way last (down to "…").
  layoutTools() {
    const bar = this.toolbar, cap = this.caption;
    this.toggleMenu(false);
    for (const t of this.tools) this.more.before(t);
    this.more.hidden = true;
    if (!bar.clientWidth) return;  // a hidden pane: laid out when it is shown (resize)
    if (cap) cap.style.minWidth = `${Math.floor(Math.min(cap.scrollWidth, bar.clientWidth * CAPTION_SHARE))}px`;
    const over = () => bar.scrollWidth > bar.clientWidth + 1;
    const moved = new Set();
    for (const t of [...this.tools].sort((x, y) => x.dataset.rank - y.dataset.rank)) {
      if (!over()) break;
      this.more.hidden = false;
      this.moreMenu.append(t); moved.add(t);
    }
    for (const t of this.tools) if (moved.has(t)) this.moreMenu.append(t); else this.more.before(t);
    this.more.hidden = !moved.size;
    if (cap && over()) cap.style.minWidth = "0";
    bar.dataset.inMenu = String(moved.size);
  }

  toggleMenu(open = this.moreMenu.hidden) {
    if (open === !this.moreMenu.hidden) return;
    this.moreMenu.hidden = !open;
    this.moreButton.setAttribute("aria-expanded", String(open));
    if (open) this.activate();  // Esc and the keys act on this pane
    if (!open) { document.removeEventListener("pointerdown", this.onOutside); return; }
    this.onOutside = this.onOutside || ((e) => { if (!this.more.contains(e.target)) this.toggleMenu(false); });
    document.addEventListener("pointerdown", this.onOutside);
    const first = this.moreMenu.querySelector("button");
    if (first) first.focus();
  }

  // Take the pane away: its keys, its size observer, its place in a link.
  destroy() {
    window.removeEventListener("keydown", this.onKey || (() => {}));
    document.removeEventListener("pointerdown", this.onOutside);
    if (this.resizer) this.resizer.disconnect();
    if (this.link) this.link.remove(this);
    Viewer.all.delete(this);
    if (Viewer.active === this) { Viewer.active = null; const first = [...Viewer.all][0]; if (first) first.activate(); }
  }

  async load() {
    const params = new URLSearchParams(location.search), cases = !!this.base && this.base.startsWith("/api/cases/");
    const raw = params.get("transfer") === "raw" && cases, separate = params.get("first") === "png" && cases;
    const early = raw || separate ? null : this.early;
    let t0 = performance.now();
    // data-first-ms / data-full-ms: since the viewer asked for the image; data-first-at /
    // data-full-at: since the page was asked for (the navigation's start)
    const mark = (name) => {
      const t = performance.now();
      this.canvas.dataset[`${name}Ms`] = String(Math.round(t - t0));
      this.canvas.dataset[`${name}At`] = String(Math.round(t));
    };
    const png = (url, res) => fetchPng(url).catch(e => { throw new Error(`image (${res}): ${e.message}`); });
    // before the inline preview (?first=png): both PNGs at once, beside the metadata
    const pngs = separate ? { low: png(`${this.base}/pixels.png?resolution=low`, "low"),
      full: png(`${this.base}/pixels.png?resolution=full`, "full") } : null;
    const info = await (early ? early.info : api("GET", `${this.base}/viewer${raw || separate ? "" : "?preview=true"}`));
    if (early) t0 = early.askedAt();
    this.info = info;
    this.w = info.width; this.h = info.height;
    info.presets.forEach((p, i) => this.presetSelect.append(el("option", { value: i }, `${i + 1}. ${p.name}`)));
    this.customOption = el("option", { value: "custom", hidden: true }, "Custom");
    this.presetSelect.append(this.customOption);
    this.bind();
    this.resizer = new ResizeObserver(() => { this.layoutTools(); this.fit(); });
    this.resizer.observe(this.container);
    this.applyPreset(0);
    this.fit();
    if (raw) {
      const r = await fetch(info.pixels_url, { credentials: "same-origin" });
      if (!r.ok) throw new Error(`image: HTTP ${r.status}`);
      this.setPixels(new Uint16Array(await r.arrayBuffer()), this.w, this.h, "full");
      mark("first"); mark("full");
      return;
    }
    const full = pngs ? pngs.full : png(info.png_urls.full, "full");
    full.catch(() => {});  // awaited below; not an unhandled rejection while the preview is drawn
    try {
      const low = pngs ? await pngs.low : await decodePng16(base64Bytes(info.preview.png));
      if (this.resolution !== "full") { this.setPixels(low.data, low.width, low.height, "low"); mark("first"); }
    } catch (e) { /* the full image still comes */ }
    const f = await full;
    this.canvas.dataset.decoder = f.decodedIn;  // "worker" (main thread only as a fallback)
    this.setPixels(f.data, f.width, f.height, "full");
    if (!this.canvas.dataset.firstMs) mark("first");
    mark("full");
  }

  // Values (low or full resolution) to show; drawn over the full image's coordinates.
  setPixels(data, pw, ph, resolution) {
    this.px = data; this.pw = pw; this.ph = ph; this.resolution = resolution;
    this.off = document.createElement("canvas");
    this.off.width = pw; this.off.height = ph;
    this.offCtx = this.off.getContext("2d");
    this.image = this.offCtx.createImageData(pw, ph);
    this.canvas.dataset.resolution = resolution;
    this.canvas.dataset.resolutions = [this.canvas.dataset.resolutions, resolution].filter(Boolean).join(",");
    this.pixelsDirty = true;
    this.render();
  }

  applyPreset(i, { linked = false } = {}) {
    const p = this.info.presets[i];
    if (!p) return;
    if (this.link && !linked) this.link.preset(this, p.name);
    this.center = p.center; this.width = p.width; this.presetSelect.value = i;
    this.custom = false; this.customOption.hidden = true;
    this.canvas.dataset.preset = p.name;
    this.pixelsDirty = true;
    this.schedule();
  }

  markCustom() {
    if (this.custom) return;
    this.custom = true;
    this.customOption.hidden = false;
    this.presetSelect.value = "custom";
    this.canvas.dataset.preset = "custom";
  }

  // 65,536-entry LUT over the transfer values from the window (own units), then one pass.
  renderPixels() {
    const { offset, scale, monochrome1 } = this.info;
    const lut = new Uint8ClampedArray(65536);
    const lo = (this.center - this.width / 2 - offset) / scale, k = 255 * scale / Math.max(this.width, 1e-9);
    const inv = this.invert !== monochrome1;
    for (let v = 0; v < 65536; v++) {
      const g = (v - lo) * k;
      lut[v] = inv ? 255 - g : g;
    }
    const d = this.image.data, px = this.px;
    for (let i = 0, j = 0; i < px.length; i++, j += 4) {
      const g = lut[px[i]];
      d[j] = g; d[j + 1] = g; d[j + 2] = g; d[j + 3] = 255;
    }
    this.offCtx.putImageData(this.image, 0, 0);
    this.pixelsDirty = false;
  }

  // The image-to-canvas (CSS px) transform: p = pan + zoom · R(rot) · F · (q − centre).
  matrix() {
    const cos = [1, 0, -1, 0][this.rot], sin = [0, 1, 0, -1][this.rot];
    const fx = this.flipH ? -1 : 1, fy = this.flipV ? -1 : 1, z = this.zoom;
    const a = z * cos * fx, b = z * sin * fx, c = -z * sin * fy, d = z * cos * fy;
    const e = this.panX - (a * this.w / 2 + c * this.h / 2), f = this.panY - (b * this.w / 2 + d * this.h / 2);
    return [a, b, c, d, e, f];
  }

  toImage(cx, cy) {
    const [a, b, c, d, e, f] = this.matrix(), det = a * d - b * c;
    const x = cx - e, y = cy - f;
    return { x: (d * x - c * y) / det, y: (-b * x + a * y) / det };
  }

  toCanvas(x, y) {
    const [a, b, c, d, e, f] = this.matrix();
    return { x: a * x + c * y + e, y: b * x + d * y + f };
  }

  drawImageTo(ctx, m, scale) {
    ctx.setTransform(m[0] * scale, m[1] * scale, m[2] * scale, m[3] * scale, m[4] * scale, m[5] * scale);
    ctx.imageSmoothingEnabled = this.zoom * (this.w / this.pw) < 2;
    ctx.drawImage(this.off, 0, 0, this.w, this.h);
    this.drawScale = scale;
    for (const layer of this.layers) layer.draw(ctx, this);
    this.drawMeasurements(ctx);
  }

  render() {
    if (!this.px) return;
    if (this.pixelsDirty !== false) this.renderPixels();
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const cw = Math.round(c.clientWidth * dpr), ch = Math.round(c.clientHeight * dpr);
    if (c.width !== cw || c.height !== ch) { c.width = cw; c.height = ch; }
    const ctx = c.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, cw, ch);
    this.drawImageTo(ctx, this.matrix(), dpr);
    this.renderLoupe();
    const oneToOne = Math.abs(this.zoom * dpr - 1) < 1e-6;
    // one line (cut with "…" in a narrow pane; the whole in its tooltip): the view's state first
    const readout = `W ${fmt(this.width)}  L ${fmt(this.center)} ·` +
      `  zoom ${oneToOne ? "1:1" : this.zoom.toFixed(2)}` + (this.invert ? "  inverted" : "") +
      (this.rot ? `  rotated ${this.rot * 90}°` : "") + (this.flipH ? "  flipped ⇋" : "") + (this.flipV ? "  flipped ⇵" : "") +
      ` · ${this.info.units}  (${this.info.source}, ${this.w}×${this.h}${this.resolution === "low" ? ", low resolution — loading full…" : ""})`;
    if (readout !== this.readout.textContent) { this.readout.textContent = readout; this.readout.title = readout; }
    this.publish();
    if (!this.drawn) {
      this.drawn = true;
      this.canvas.dataset.ready = "1";
      if (this.onFirstDraw) this.onFirstDraw();
    }
  }

  renderLoupe() {
    if (!this.loupeOn || !this.mouse || this.loupe.hidden) return;
    const ctx = this.loupe.getContext("2d"), { x, y } = this.mouse, s = LOUPE_SIZE;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, s, s);
    // the main transform, magnified about the cursor, which sits at the loupe's centre
    const [a, b, c, d, e, f] = this.matrix(), k = LOUPE_FACTOR;
    this.drawImageTo(ctx, [a * k, b * k, c * k, d * k, (e - x) * k + s / 2, (f - y) * k + s / 2], 1);
  }

  addLayer(layer) { this.layers.push(layer); this.schedule(); }

  setWindow(center, width) {
    const span = 65536 * this.info.scale;
    this.center = Math.min(Math.max(center, this.info.offset - span), this.info.offset + 2 * span);
    this.width = Math.min(Math.max(width, this.info.scale), 2 * span);
    this.pixelsDirty = true;
    this.schedule();
  }

  // The view's state on the canvas element (read by tests and scripts), at once; and to
  // the linked panes, when zoom or pan changed.
  publish() {
    if (this.link) {
      const s = this.linkedState(), key = s ? JSON.stringify(s) : "";
      if (key && key !== this.lastLinked) { this.lastLinked = key; this.link.view(this, s); }
    }
    const o = this.toCanvas(0, 0);  // where the image's first pixel corner is (CSS px)
    Object.assign(this.canvas.dataset, { window: Math.round(this.width), level: Math.round(this.center),
      zoom: this.zoom.toFixed(4), originX: o.x.toFixed(2), originY: o.y.toFixed(2),
      rotation: String(this.rot * 90), flip: (this.flipH ? "h" : "") + (this.flipV ? "v" : "") });
  }

  schedule() {
    this.publish();
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.render(); });
  }

  // Fit the image below the toolbar and above the readout, so that neither covers it.
  fitParams() {
    const cw = this.canvas.clientWidth, ch = this.canvas.clientHeight;
    const top = this.toolbar.offsetTop + this.toolbar.offsetHeight + 4, bottom = 30;  // the readout's line
    const avail = Math.max(ch - top - bottom, ch / 2);
    const [ew, eh] = this.shown();
    return { zoom: Math.min(cw / ew, avail / eh), panX: cw / 2, panY: avail === ch / 2 ? ch / 2 : top + avail / 2 };
  }

  shown() { return this.rot % 2 ? [this.h, this.w] : [this.w, this.h]; }

  fit() {
    if (!this.info) return;
    Object.assign(this, this.fitParams());
    this.schedule();
  }

  // Zoom and pan relative to the fit (null while the pane is hidden): what a link shares.
  linkedState() {
    if (!this.info || !this.canvas.clientWidth) return null;
    const f = this.fitParams(), [ew, eh] = this.shown();
    if (!(f.zoom > 0)) return null;
    const r = (v) => Math.round(v * 1e5) / 1e5;
    return { z: r(this.zoom / f.zoom), x: r((this.panX - f.panX) / (this.zoom * ew)), y: r((this.panY - f.panY) / (this.zoom * eh)) };
  }

  applyLinked(s) {
    if (!this.info || !this.canvas.clientWidth) return;
    const f = this.fitParams(), [ew, eh] = this.shown();
    if (!(f.zoom > 0)) return;
    this.zoom = s.z * f.zoom;
    this.panX = f.panX + s.x * this.zoom * ew; this.panY = f.panY + s.y * this.zoom * eh;
    const now = this.linkedState();
    this.lastLinked = now ? JSON.stringify(now) : "";
    this.schedule();
  }

  // Exactly one image pixel per device pixel, about the canvas centre.
  oneToOne() { this.zoomBy(1 / ((window.devicePixelRatio || 1) * this.zoom)); }

  reset() {
    this.invert = false; this.rot = 0; this.flipH = this.flipV = false;
    this.measurements = []; this.pending = null; this.setTool("wl");
    this.applyPreset(0); this.fit();
  }

  toggleInvert({ linked = false } = {}) {
    this.invert = !this.invert; this.pixelsDirty = true; this.schedule();
    if (this.link && !linked) this.link.invert(this, this.invert);
  }
  rotate(k) { this.rot = (this.rot + k + 4) % 4; this.fit(); }
  flip(axis) { if (axis === "h") this.flipH = !this.flipH; else this.flipV = !this.flipV; this.schedule(); }

  zoomBy(f, cx, cy) {
    const x = cx ?? this.canvas.clientWidth / 2, y = cy ?? this.canvas.clientHeight / 2;
    const z = Math.min(Math.max(this.zoom * f, 0.02), 40);
    this.panX = x - (x - this.panX) * (z / this.zoom);
    this.panY = y - (y - this.panY) * (z / this.zoom);
    this.zoom = z;
    this.schedule();
  }

  // --- measurements -------------------------------------------------------------------
  setTool(tool) {
    this.tool = this.tool === tool && tool !== "wl" ? "wl" : tool;
    this.pending = null;
    for (const [name, b] of Object.entries(this.toolButtons)) {
      b.setAttribute("aria-pressed", String(this.tool === name)); b.classList.toggle("on", this.tool === name);
    }
    this.canvas.dataset.tool = this.tool;
    this.canvas.style.cursor = this.tool === "wl" ? "" : "crosshair";
    this.updateNote();
    this.schedule();
  }

  updateNote() {
    const measuring = this.tool !== "wl" || this.measurements.length;
    if (!measuring || !this.info) { this.note.hidden = true; return; }
    const sp = this.info.spacing;
    this.note.hidden = false;
    this.note.className = `viewer-note ${sp ? "" : "warn"}`;
    this.note.textContent = sp ? `${TOOL_NAMES[this.tool] || "Measurements"} in mm · ${this.info.spacing_note}`
      : `⚠ ${this.info.spacing_note}`;
  }

  // Length of a..b (image px) in mm where the header has a spacing, else in px.
  length(a, b) {
    const sp = this.info.spacing, dx = b.x - a.x, dy = b.y - a.y;
    return sp ? Math.hypot(dx * sp.col_mm, dy * sp.row_mm) : Math.hypot(dx, dy);
  }

  angle(a, v, c) {
    const sp = this.info.spacing || { row_mm: 1, col_mm: 1 };
    const u = [(a.x - v.x) * sp.col_mm, (a.y - v.y) * sp.row_mm], w = [(c.x - v.x) * sp.col_mm, (c.y - v.y) * sp.row_mm];
    const cos = (u[0] * w[0] + u[1] * w[1]) / (Math.hypot(...u) * Math.hypot(...w) || 1);
    return Math.acos(Math.min(1, Math.max(-1, cos))) * 180 / Math.PI;
  }

  label(m) {
    if (m.kind === "ruler") return `${this.length(m.points[0], m.points[1]).toFixed(1)} ${this.info.spacing ? "mm" : "px"}`;
    return m.points.length === 3 ? `${this.angle(...m.points).toFixed(1)}°` : "";
  }

  publishMeasurements() {
    this.canvas.dataset.measurements = JSON.stringify(this.measurements.map(m => ({ kind: m.kind, label: this.label(m) })));
    this.updateNote();
  }

  drawMeasurements(ctx) {
    const all = this.pending ? [...this.measurements, this.pending] : this.measurements;
    if (!all.length) return;
    // Points through the current (image -> device pixel) transform; lines and text are then
    // drawn in device pixels, the same size whatever the zoom.
    const T = ctx.getTransform(), s = this.drawScale || 1;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    for (const m of all) {
      const pts = m.points.map(p => T.transformPoint(new DOMPoint(p.x, p.y)));
      ctx.lineWidth = 1.5 * s; ctx.strokeStyle = "#ffd54a"; ctx.fillStyle = "#ffd54a";
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
      ctx.stroke();
      for (const p of pts) { ctx.beginPath(); ctx.arc(p.x, p.y, 3 * s, 0, 2 * Math.PI); ctx.fill(); }
      const text = this.label(m), at = pts[1];
      if (text) {
        ctx.font = `${13 * s}px 'DejaVu Sans', sans-serif`;
        const tw = ctx.measureText(text).width;
        ctx.fillStyle = "rgba(0,0,0,.7)"; ctx.fillRect(at.x + 8 * s, at.y - 18 * s, tw + 8 * s, 18 * s);
        ctx.fillStyle = "#ffd54a"; ctx.fillText(text, at.x + 12 * s, at.y - 5 * s);
      }
    }
    ctx.restore();
  }

  // --- header panel -------------------------------------------------------------------
  async toggleHeader() {
    const p = this.headerPanel;
    if (!p.hidden) { p.hidden = true; return; }
    p.hidden = false;
    if (p.dataset.loaded) { p.querySelector("input").focus(); return; }
    p.replaceChildren(el("p", { class: "muted", text: "Loading header…" }));
    try {
      const h = await api("GET", this.info.header_url);
      const filter = el("input", { type: "search", placeholder: "filter (tag, name, value)", "aria-label": "Filter header" });
      const rows = h.elements.map(e => el("tr", { "data-search": `${e.tag} ${e.keyword} ${e.name} ${e.value}`.toLowerCase(),
          title: e.keyword }, el("td", { class: "mono", text: e.tag }),
        el("td", { text: "· ".repeat(e.depth) + (e.name || e.keyword) }), el("td", { class: "mono", text: e.vr }),
        el("td", { class: "mono", text: e.value })));
      filter.addEventListener("input", () => {
        const q = filter.value.toLowerCase();
        for (const r of rows) r.hidden = q && !r.dataset.search.includes(q);
      });
      filter.addEventListener("keydown", (e) => { if (e.key === "Escape") { p.hidden = true; this.canvas.focus(); } });
      p.replaceChildren(el("div", { class: "header-top" }, el("b", {}, "DICOM header"), " ",
        el("span", { class: "muted", text: h.note }), el("button", { onclick: () => { p.hidden = true; } , "aria-label": "Close header" }, "×")),
        ...(h.available ? [filter, el("table", { class: "header-table" }, el("tbody", {}, ...rows))]
          : [el("p", { class: "muted", text: h.note })]));
      p.dataset.loaded = "1";
      if (h.available) filter.focus();
    } catch (e) { p.replaceChildren(el("p", { class: "error", text: `Header: ${e.message}` })); }
  }

  toggleLoupe() {
    this.loupeOn = !this.loupeOn;
    this.loupeButton.setAttribute("aria-pressed", String(this.loupeOn));
    this.loupeButton.classList.toggle("on", this.loupeOn);
    this.loupe.hidden = !(this.loupeOn && this.mouse);
    this.canvas.dataset.loupe = this.loupeOn ? "1" : "";
    this.placeLoupe();
  }

  placeLoupe() {
    if (!this.loupeOn || !this.mouse) return;
    const { x, y } = this.mouse, cw = this.canvas.clientWidth;
    this.loupe.hidden = false;
    this.loupe.style.left = `${Math.min(x + 24, cw - LOUPE_SIZE - 4)}px`;
    this.loupe.style.top = `${Math.max(y - LOUPE_SIZE - 24, 4)}px`;
    this.renderLoupe();
  }

  bind() {
    const c = this.canvas;
    c.tabIndex = 0;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("mousemove", (e) => {
      const r = c.getBoundingClientRect();
      this.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
      if (this.pending && this.pending.kind === "angle") {
        this.pending.points[this.pending.points.length - 1] = this.toImage(this.mouse.x, this.mouse.y);
        this.schedule();
      }
      this.placeLoupe();
    });
    c.addEventListener("mouseleave", () => { this.mouse = null; this.loupe.hidden = true; });
    c.addEventListener("focus", () => this.activate());
    c.addEventListener("mousedown", (e) => {
      this.activate();
      const r = c.getBoundingClientRect(), at = { x: e.clientX - r.left, y: e.clientY - r.top };
      const pan = e.button === 2 || e.shiftKey || e.button === 1;
      e.preventDefault();
      c.focus({ preventScroll: true });
      if (!pan && this.tool === "angle") { this.angleClick(this.toImage(at.x, at.y)); return; }
      const start = { x: e.clientX, y: e.clientY, c: this.center, w: this.width, px: this.panX, py: this.panY };
      if (!pan && this.tool === "wl" && this.link) this.link.beginWindow(this);
      const sens = this.width / 300;  // a 300 px drag changes the window by its own width
      if (!pan && this.tool === "ruler") {
        const p = this.toImage(at.x, at.y);
        this.pending = { kind: "ruler", points: [p, { ...p }] };
      }
      const move = (m) => {
        const dx = m.clientX - start.x, dy = m.clientY - start.y;
        if (pan) { this.panX = start.px + dx; this.panY = start.py + dy; this.schedule(); }
        else if (this.pending && this.pending.kind === "ruler") {
          this.pending.points[1] = this.toImage(m.clientX - r.left, m.clientY - r.top); this.schedule();
        } else if (this.tool === "wl") {
          this.markCustom();
          const sign = (this.invert !== this.info.monochrome1) ? -1 : 1;
          this.setWindow(start.c - dy * sens * sign, start.w + dx * sens);
          if (this.link) this.link.window(this, (this.center - start.c) / start.w, this.width / start.w);
        }
      };
      const up = () => {
        window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up);
        if (this.pending && this.pending.kind === "ruler") {
          const [a, b] = this.pending.points;
          if (Math.hypot(a.x - b.x, a.y - b.y) * this.zoom > 3) this.measurements.push(this.pending);
          this.pending = null; this.publishMeasurements(); this.schedule();
        }
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
    c.addEventListener("wheel", (e) => {
      const r = c.getBoundingClientRect();
      this.zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
      e.preventDefault();
    }, { passive: false });
    this.onKey = (e) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey || Viewer.active !== this) return;
      const k = e.key, act = {
        i: () => this.toggleInvert(), f: () => this.fit(), o: () => this.oneToOne(), r: () => this.reset(),
        "+": () => this.zoomBy(1.25), "=": () => this.zoomBy(1.25), "-": () => this.zoomBy(0.8),
        m: () => this.setTool("ruler"), a: () => this.setTool("angle"), g: () => this.toggleLoupe(),
        t: () => this.rotate(1), T: () => this.rotate(-1), v: () => this.flip("h"), V: () => this.flip("v"),
        e: () => this.toggleHeader(),
        Delete: () => { this.measurements = []; this.pending = null; this.publishMeasurements(); this.schedule(); },
        Escape: () => { this.headerPanel.hidden = true; this.toggleMenu(false); this.setTool("wl"); },
      }[k];
      if (act) { act(); if (k !== "Escape") e.preventDefault(); }
      else if (/^[1-9]$/.test(k)) this.applyPreset(+k - 1);
    };
    window.addEventListener("keydown", this.onKey);
  }

  angleClick(p) {
    if (!this.pending) { this.pending = { kind: "angle", points: [p, { ...p }] }; }
    else if (this.pending.points.length === 2) { this.pending.points[1] = p; this.pending.points.push({ ...p }); }
    else {
      this.pending.points[2] = p;
      this.measurements.push(this.pending); this.pending = null; this.publishMeasurements();
    }
    this.schedule();
  }
}

Viewer.all = new Set();
Viewer.active = null;

// Panes whose zoom and pan follow each other while the link is on (see the top of the file).
class ViewLink {
  constructor({ onChange } = {}) { this.members = new Set(); this.on = false; this.onChange = onChange; }
  // A pane joining takes the view of one already there (while the link is on).
  add(v) {
    const src = [...this.members].find(m => m.linkedState());
    this.members.add(v); v.link = this;
    const s = this.on && src && src.linkedState();
    if (s) v.applyLinked(s);
  }
  remove(v) { this.members.delete(v); if (v.link === this) v.link = null; }
  set(on) {
    this.on = on;
    if (on) this.align();
    if (this.onChange) this.onChange(on);
  }
  // The others follow the active pane (else the first), as it is now.
  align() {
    const src = this.members.has(Viewer.active) ? Viewer.active : [...this.members][0];
    const s = src && src.linkedState();
    if (s) this.view(src, s);
  }
  view(src, s) { if (this.on) for (const v of this.members) if (v !== src) v.applyLinked(s); }
  preset(src, name) {
    if (!this.on) return;
    for (const v of this.members) {
      const i = v !== src && v.info ? v.info.presets.findIndex(p => p.name === name) : -1;
      if (i >= 0) v.applyPreset(i, { linked: true });
    }
  }
  invert(src, on) { if (this.on) for (const v of this.members) if (v !== src && v.invert !== on) v.toggleInvert({ linked: true }); }
  // A window/level drag, relative: each other pane moves its own level by the same fraction
  // of its own width and scales its width by the same ratio (from where it was when the drag
  // began), so that no pane takes another's values (their units differ; see the top).
  beginWindow(src) {
    this.windowStart = new Map([...this.members].filter(v => v !== src && v.info).map(v => [v, { c: v.center, w: v.width }]));
  }
  window(src, levelShift, widthRatio) {
    if (!this.on || !this.windowStart) return;
    for (const [v, s] of this.windowStart) {
      if (!this.members.has(v)) continue;
      v.markCustom();
      v.setWindow(s.c + levelShift * s.w, s.w * widthRatio);
    }
  }
}

function fmt(v) { return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(1); }
