// The AI draft's maps of where the model looked, over the viewer's image. Loaded by the read
// page only, and used there only when the draft is shown (AI-assisted arm): evaluators and the
// standard-practice arm never get it. A map is a small grid over the whole image (rows top to
// bottom, the image's aspect ratio, values 0-1, relative to the finding's own maximum); it is
// interpolated bilinearly between cell centres, coloured, and drawn as a viewer layer in the
// image's coordinates, so it follows zoom and pan. Keys: h show/hide, Shift+H next finding.
"use strict";

const MAP_ALPHA = 0.55;  // opacity where the map is highest
// Colour scale (value, r, g, b): blue, cyan, green, yellow, red; low values stay transparent.
const MAP_STOPS = [[0, 40, 60, 255], [0.25, 0, 200, 255], [0.5, 0, 220, 60], [0.75, 255, 220, 0], [1, 255, 30, 0]];

function mapColour(v) {
  for (let i = 1; i < MAP_STOPS.length; i++) {
    const [v1, ...c1] = MAP_STOPS[i];
    if (v <= v1 || i === MAP_STOPS.length - 1) {
      const [v0, ...c0] = MAP_STOPS[i - 1];
      const f = Math.min(Math.max((v - v0) / (v1 - v0), 0), 1);
      return c0.map((c, k) => Math.round(c + (c1[k] - c) * f));
    }
  }
}

function mapAlpha(v) { return MAP_ALPHA * Math.min(Math.max((v - 0.15) / 0.45, 0), 1); }

// The grid, interpolated and coloured, on a canvas of the image's aspect ratio (256 px on the
// longer side; the viewer scales it to the image with smoothing).
function mapCanvas(grid, w, h) {
  const rows = grid.length, cols = grid[0].length, s = 256 / Math.max(w, h);
  const W = Math.max(2, Math.round(w * s)), H = Math.max(2, Math.round(h * s));
  const c = document.createElement("canvas");
  c.width = W; c.height = H;
  const ctx = c.getContext("2d"), img = ctx.createImageData(W, H), d = img.data;
  const axis = (i, n, cells) => {
    const g = Math.min(Math.max((i + 0.5) / n * cells - 0.5, 0), cells - 1), i0 = Math.floor(g);
    return [i0, Math.min(i0 + 1, cells - 1), g - i0];
  };
  for (let y = 0; y < H; y++) {
    const [y0, y1, fy] = axis(y, H, rows);
    for (let x = 0; x < W; x++) {
      const [x0, x1, fx] = axis(x, W, cols);
      const v = (grid[y0][x0] * (1 - fx) + grid[y0][x1] * fx) * (1 - fy) +
                (grid[y1][x0] * (1 - fx) + grid[y1][x1] * fx) * fy;
      const [r, g, b] = mapColour(v), j = (y * W + x) * 4;
      d[j] = r; d[j + 1] = g; d[j + 2] = b; d[j + 3] = Math.round(255 * mapAlpha(v));
    }
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function mapLegend() {
  const c = el("canvas", { class: "maplegend", width: 96, height: 8, "aria-hidden": "true" });
  const ctx = c.getContext("2d");
  for (let x = 0; x < c.width; x++) {
    const v = x / (c.width - 1), [r, g, b] = mapColour(v);
    ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${Math.max(mapAlpha(v) / MAP_ALPHA, 0.08)})`;
    ctx.fillRect(x, 0, 1, c.height);
  }
  return c;
}

class MapOverlay {
  // maps: [{name, grid}]; statusOf(name) -> "present" | "uncertain"; onChange(name | null).
  constructor(viewer, maps, { statusOf = () => "", onChange } = {}) {
    this.viewer = viewer; this.maps = maps; this.statusOf = statusOf; this.onChange = onChange;
    this.index = 0; this.on = false; this.cache = new Map();
    this.button = el("button", { "data-testid": "map-toggle", "aria-pressed": "false",
      title: "AI output: where the model looked (h; Shift+H next finding)", onclick: () => this.toggle() }, "AI map (h)");
    this.label = el("div", { class: "maplabel", "data-testid": "map-label", role: "status", hidden: true });
    viewer.addTool(this.button, { rank: 13 });  // the last to go into "More"
    viewer.container.append(this.label);
    viewer.addLayer(this);
    window.addEventListener("keydown", (e) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "h") this.toggle();
      else if (e.key === "H") this.step(1);
    });
  }

  get current() { return this.maps[this.index]; }
  toggle() { this.set(!this.on); }
  step(k) { this.index = (this.index + k + this.maps.length) % this.maps.length; this.set(true); }

  show(name) {
    const i = this.maps.findIndex(m => m.name === name);
    if (i < 0) return;
    if (this.on && i === this.index) { this.set(false); return; }
    this.index = i; this.set(true);
  }

  set(on) {
    this.on = on;
    const m = this.current, status = this.statusOf(m.name);
    this.button.setAttribute("aria-pressed", String(on));
    this.button.classList.toggle("on", on);
    this.label.hidden = !on;
    if (on) {
      this.label.replaceChildren(
        el("div", {}, el("b", {}, "AI output"), " — where the model looked: ",
          el("b", { "data-testid": "map-name", text: m.name }), status ? ` (${status})` : ""),
        el("div", { class: "maphint" }, "low ", mapLegend(), " high · relative, not a segmentation · ",
          el("kbd", {}, "h"), " hide", ...(this.maps.length > 1
            ? [" · ", el("kbd", {}, "Shift+H"), ` next (${this.index + 1} of ${this.maps.length})`] : [])));
    }
    this.viewer.canvas.dataset.map = on ? m.name : "";
    this.viewer.schedule();
    if (this.onChange) this.onChange(on ? m.name : null);
  }

  draw(ctx, viewer) {
    if (!this.on) return;
    const m = this.current;
    let c = this.cache.get(m.name);
    if (!c) { c = mapCanvas(m.grid, viewer.w, viewer.h); this.cache.set(m.name, c); }
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(c, 0, 0, viewer.w, viewer.h);
  }
}
