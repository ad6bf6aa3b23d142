// cxrpilot viewer: full-depth (uint16) pixels, window/level, zoom/pan, invert, presets.
// Mouse: left-drag = window (horizontal) / level (vertical); right- or shift-drag = pan;
// wheel = zoom at the cursor. Keys (outside text fields): i invert, f fit, r reset, 1-5 presets.
// Layers (addLayer: an object with draw(ctx, viewer)) are drawn over the image in its own
// coordinates (0..w, 0..h), so they follow zoom and pan; maps.js is one.
"use strict";

class Viewer {
  constructor(container, caseId, { onFirstDraw } = {}) {
    this.container = container;
    this.caseId = caseId;
    this.onFirstDraw = onFirstDraw;
    this.canvas = el("canvas", { "data-testid": "viewer-canvas" });
    this.readout = el("div", { class: "readout", "data-testid": "wl-readout" });
    this.presetSelect = el("select", { "aria-label": "Window preset", onchange: () => this.applyPreset(+this.presetSelect.value) });
    const bar = el("div", { class: "toolbar" },
      this.presetSelect,
      el("button", { onclick: () => this.toggleInvert(), title: "Invert (i)" }, "Invert"),
      el("button", { onclick: () => this.fit(), title: "Fit to window (f)" }, "Fit"),
      el("button", { onclick: () => this.reset(), title: "Reset window and zoom (r)" }, "Reset"),
      el("button", { onclick: () => this.zoomBy(1.25), title: "Zoom in (+)" }, "+"),
      el("button", { onclick: () => this.zoomBy(0.8), title: "Zoom out (-)" }, "−"));
    this.toolbar = bar;
    this.layers = [];
    container.append(this.canvas, bar, this.readout);
    this.center = 32768; this.width = 65536; this.invert = false;
    this.zoom = 1; this.panX = 0; this.panY = 0; this.drawn = false;
  }

  async load() {
    const info = await api("GET", `/api/cases/${this.caseId}/viewer`);
    const r = await fetch(info.pixels_url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(`image: HTTP ${r.status}`);
    this.info = info;
    this.w = info.width; this.h = info.height;
    this.px = new Uint16Array(await r.arrayBuffer());
    this.off = document.createElement("canvas");
    this.off.width = this.w; this.off.height = this.h;
    this.offCtx = this.off.getContext("2d");
    this.image = this.offCtx.createImageData(this.w, this.h);
    info.presets.forEach((p, i) => this.presetSelect.append(el("option", { value: i }, `${i + 1}. ${p.name}`)));
    this.bind();
    new ResizeObserver(() => this.fit()).observe(this.container);
    this.applyPreset(0);
    this.fit();
  }

  applyPreset(i) {
    const p = this.info.presets[i];
    if (!p) return;
    this.center = p.center; this.width = p.width; this.presetSelect.value = i;
    this.pixelsDirty = true;
    this.schedule();
  }

  renderPixels() {
    // 65,536-entry LUT from the current window, then one pass over the pixels.
    const lut = new Uint8ClampedArray(65536);
    const lo = this.center - this.width / 2, scale = 255 / Math.max(this.width, 1);
    for (let v = 0; v < 65536; v++) {
      const g = (v - lo) * scale;
      lut[v] = this.invert ? 255 - g : g;
    }
    const d = this.image.data, px = this.px;
    for (let i = 0, j = 0; i < px.length; i++, j += 4) {
      const g = lut[px[i]];
      d[j] = g; d[j + 1] = g; d[j + 2] = g; d[j + 3] = 255;
    }
    this.offCtx.putImageData(this.image, 0, 0);
    this.pixelsDirty = false;
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
    ctx.imageSmoothingEnabled = this.zoom < 2;
    ctx.setTransform(this.zoom * dpr, 0, 0, this.zoom * dpr, this.panX * dpr, this.panY * dpr);
    ctx.drawImage(this.off, 0, 0);
    for (const layer of this.layers) layer.draw(ctx, this);
    this.readout.textContent = `W ${Math.round(this.width)}  L ${Math.round(this.center)}  zoom ${this.zoom.toFixed(2)}` +
      (this.invert ? "  inverted" : "") + `  (${this.info.source}, ${this.w}×${this.h})`;
    this.canvas.dataset.window = Math.round(this.width);
    this.canvas.dataset.level = Math.round(this.center);
    if (!this.drawn) {
      this.drawn = true;
      this.canvas.dataset.ready = "1";
      if (this.onFirstDraw) this.onFirstDraw();
    }
  }

  addLayer(layer) { this.layers.push(layer); this.schedule(); }

  setWindow(center, width) {
    this.center = Math.min(Math.max(center, -65535), 131071);
    this.width = Math.min(Math.max(width, 1), 131072);
    this.pixelsDirty = true;
    this.schedule();
  }

  schedule() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = 0; this.render(); });
  }

  fit() {
    if (!this.px) return;
    const cw = this.canvas.clientWidth, ch = this.canvas.clientHeight;
    this.zoom = Math.min(cw / this.w, ch / this.h);
    this.panX = (cw - this.w * this.zoom) / 2; this.panY = (ch - this.h * this.zoom) / 2;
    this.schedule();
  }

  reset() { this.invert = false; this.applyPreset(0); this.fit(); }
  toggleInvert() { this.invert = !this.invert; this.pixelsDirty = true; this.schedule(); }

  zoomBy(f, cx, cy) {
    const x = cx ?? this.canvas.clientWidth / 2, y = cy ?? this.canvas.clientHeight / 2;
    const z = Math.min(Math.max(this.zoom * f, 0.05), 40);
    this.panX = x - (x - this.panX) * (z / this.zoom);
    this.panY = y - (y - this.panY) * (z / this.zoom);
    this.zoom = z;
    this.schedule();
  }

  bind() {
    const c = this.canvas;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("mousedown", (e) => {
      const pan = e.button === 2 || e.shiftKey || e.button === 1;
      const start = { x: e.clientX, y: e.clientY, c: this.center, w: this.width, px: this.panX, py: this.panY };
      const sens = this.width / 300;  // a 300 px drag changes the window by its own width
      const move = (m) => {
        const dx = m.clientX - start.x, dy = m.clientY - start.y;
        if (pan) { this.panX = start.px + dx; this.panY = start.py + dy; this.schedule(); }
        else this.setWindow(start.c - dy * sens * (this.invert ? -1 : 1), start.w + dx * sens);
      };
      const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
      e.preventDefault();
    });
    c.addEventListener("wheel", (e) => {
      const r = c.getBoundingClientRect();
      this.zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
      e.preventDefault();
    }, { passive: false });
    window.addEventListener("keydown", (e) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "i") this.toggleInvert();
      else if (e.key === "f") this.fit();
      else if (e.key === "r") this.reset();
      else if (e.key === "+" || e.key === "=") this.zoomBy(1.25);
      else if (e.key === "-") this.zoomBy(0.8);
      else if (/^[1-9]$/.test(e.key)) this.applyPreset(+e.key - 1);
    });
  }
}
