// Decode a greyscale PNG (8- or 16-bit, not interlaced) to its values, in the browser.
// The browser's own decoders give 8 bits per channel, which cannot be windowed; this reads
// the chunks, inflates the zlib stream with the browser's DecompressionStream, and undoes
// the PNG filters (None, Sub, Up, Average, Paeth) row by row. It decodes while the bytes
// arrive (decodePngStream(response)), so on a slow link the image is ready soon after its
// last byte. Returns {width, height, bitDepth, data}: data a Uint16Array (16-bit, big-endian
// in the file) or Uint8Array (8-bit).
//
// fetchPng(url) fetches and decodes in a Web Worker (this same file, run as the worker: see
// the end; one script, already in the browser's cache when the page starts it), so
// that the page's main thread does not spend the decode (~0.2-0.3 s for a 2k x 2k image)
// while it draws the low-resolution view, and the bytes never pass through it;
// decodePngResponse(response) transfers a response's body stream to a worker. Where workers
// are missing, or with ?decode=main (for the transfer benchmark's before/after), both
// decode on the main thread.
"use strict";

class PngError extends Error {}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

// Undo one row's filter in place: cur = the row, prev = the row above (zeros for the first).
function unfilterRow(f, src, cur, prev, bpp, y) {
  const n = cur.length;
  switch (f) {
    case 0: cur.set(src); break;
    case 1:  // the first bpp bytes have no left neighbour; the rest run without that test
      for (let i = 0; i < bpp; i++) cur[i] = src[i];
      for (let i = bpp; i < n; i++) cur[i] = src[i] + cur[i - bpp];
      break;
    case 2: for (let i = 0; i < n; i++) cur[i] = src[i] + prev[i]; break;
    case 3:
      for (let i = 0; i < bpp; i++) cur[i] = src[i] + (prev[i] >> 1);
      for (let i = bpp; i < n; i++) cur[i] = src[i] + ((cur[i - bpp] + prev[i]) >> 1);
      break;
    case 4:
      for (let i = 0; i < bpp; i++) cur[i] = src[i] + prev[i];
      for (let i = bpp; i < n; i++) {
        const a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        cur[i] = src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      break;
    default: throw new PngError(`PNG filter type ${f} on row ${y}`);
  }
}

// Decode a fetch Response (or anything with a readable .body) as it streams in.
async function decodePngStream(response) {
  const input = response.body.getReader();
  const inflater = new DecompressionStream("deflate");
  const sink = inflater.writable.getWriter();
  let header, headerReady;
  const gotHeader = new Promise((resolve, reject) => { headerReady = { resolve, reject }; });

  // Input: signature, then chunks (length, type, body, CRC); IDAT bodies go to the inflater
  // as they arrive, IHDR is read, the rest skipped.
  const feed = (async () => {
    let pending = new Uint8Array(0), state = "sig", need = 8, type = "", ihdr = [], ended = false;
    const take = (n) => { const out = pending.subarray(0, n); pending = pending.subarray(n); return out; };
    try {
      while (!ended) {
        const { value, done } = await input.read();
        if (done) break;
        pending = pending.length ? concatBytes(pending, value) : value;
        while (pending.length && !ended) {
          if (state === "body") {
            const part = take(Math.min(need, pending.length));
            need -= part.length;
            if (type === "IDAT") await sink.write(part.slice());
            else if (type === "IHDR") ihdr.push(part.slice());
            if (need === 0) {
              if (type === "IHDR") { header = parseIhdr(concatBytes(...ihdr)); headerReady.resolve(); }
              state = "crc"; need = 4;
            }
            continue;
          }
          if (pending.length < need) break;
          const bytes = take(need);
          if (state === "sig") {
            if (PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw new PngError("not a PNG file");
            state = "head"; need = 8;
          } else if (state === "head") {
            const len = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0);
            type = String.fromCharCode(...bytes.subarray(4, 8));
            if (type === "IEND") { ended = true; break; }
            if (!header && type !== "IHDR") throw new PngError("PNG without IHDR first");
            state = len ? "body" : "crc"; need = len || 4;
          } else if (state === "crc") { state = "head"; need = 8; }
        }
      }
      if (!header) throw new PngError("truncated PNG: no IHDR");
      await sink.close();
    } catch (e) { headerReady.reject(e); try { await sink.abort(e); } catch (_) { /* already failed */ } throw e; }
  })();

  // Output: the inflated rows, unfiltered as they come.
  const drain = (async () => {
    await gotHeader;
    const { width, height, bitDepth } = header, bpp = bitDepth / 8, stride = width * bpp;
    const out = new Uint8Array(height * stride), rowIn = new Uint8Array(stride + 1);
    const zeros = new Uint8Array(stride);
    let y = 0, fill = 0;
    const reader = inflater.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let p = 0;
      while (p < value.length && y < height) {
        const n = Math.min(stride + 1 - fill, value.length - p);
        rowIn.set(value.subarray(p, p + n), fill);
        fill += n; p += n;
        if (fill === stride + 1) {
          unfilterRow(rowIn[0], rowIn.subarray(1), out.subarray(y * stride, (y + 1) * stride),
            y ? out.subarray((y - 1) * stride, y * stride) : zeros, bpp, y);
          y++; fill = 0;
        }
      }
    }
    if (y < height) throw new PngError(`truncated PNG: ${y} of ${height} rows`);
    if (bitDepth === 8) return { width, height, bitDepth, data: out };
    const data = new Uint16Array(width * height);
    for (let i = 0, j = 0; i < data.length; i++, j += 2) data[i] = (out[j] << 8) | out[j + 1];
    return { width, height, bitDepth, data };
  })();
  const [, image] = await Promise.all([feed, drain]);
  return image;
}

function parseIhdr(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const h = { width: v.getUint32(0), height: v.getUint32(4), bitDepth: b[8], colour: b[9], interlace: b[12] };
  if (h.colour !== 0 || (h.bitDepth !== 16 && h.bitDepth !== 8) || h.interlace !== 0) {
    throw new PngError(`PNG colour type ${h.colour}, ${h.bitDepth} bits, interlace ${h.interlace}: expected 8/16-bit greyscale, not interlaced`);
  }
  return h;
}

function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// Decode PNG bytes already in memory.
function decodePng16(buffer) { return decodePngStream(new Response(buffer)); }

// --- decoding in a worker ---------------------------------------------------------------
const PNG_WORKERS = 2;  // the low-resolution and the full image decode at once
// this file, by the versioned URL the page loaded it from (cached: no second request)
const PNG_WORKER_SCRIPT = (typeof document !== "undefined" && document.currentScript && document.currentScript.src) || "/static/png16.js";
const pngPool = { workers: [], jobs: new Map(), next: 0, broken: false };

function pngWorkerWanted() {
  if (typeof Worker === "undefined" || typeof window === "undefined" || pngPool.broken) return false;
  return new URLSearchParams(location.search).get("decode") !== "main";
}

function pngSpawn() {
  const w = { worker: new Worker(PNG_WORKER_SCRIPT), busy: 0 };
  w.worker.onmessage = (e) => {
    const job = pngPool.jobs.get(e.data.id);
    if (!job) return;
    pngPool.jobs.delete(e.data.id);
    job.w.busy--;
    if (e.data.error) job.reject(new PngError(e.data.error)); else job.resolve({ ...e.data.image, decodedIn: "worker" });
  };
  w.worker.onerror = (e) => {  // the worker could not start (or died): fail its jobs
    e.preventDefault();
    for (const [id, job] of pngPool.jobs) if (job.w === w) { pngPool.jobs.delete(id); job.reject(new PngError("PNG worker failed")); }
    pngPool.workers = pngPool.workers.filter(x => x !== w);
  };
  pngPool.workers.push(w);
  return w;
}

// The least busy worker (a new one while fewer than PNG_WORKERS exist and all are busy).
function pngWorker() {
  const idle = pngPool.workers.find(x => x.busy === 0);
  if (idle) return idle;
  if (pngPool.workers.length < PNG_WORKERS) return pngSpawn();
  return pngPool.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
}

// Started with the page (this script), so that they have loaded before the first PNG arrives.
if (pngWorkerWanted()) {
  try { while (pngPool.workers.length < PNG_WORKERS) pngSpawn(); } catch (e) { pngPool.broken = true; }
}

// Post a job to a worker: {body} (transferred) or {url}; resolves to the decoded image.
function pngJob(message, transfer) {
  const w = pngWorker();
  const id = ++pngPool.next;
  return new Promise((resolve, reject) => {
    pngPool.jobs.set(id, { resolve, reject, w });
    w.busy++;
    try { w.worker.postMessage({ id, ...message }, transfer); }
    catch (e) { pngPool.jobs.delete(id); w.busy--; reject(e); }
  });
}

// Fetch and decode the PNG at ``url`` (same origin): in a worker, which fetches it itself
// (so that the bytes never pass through the main thread), else here. Errors: "HTTP 404" etc.
// The image's decodedIn says where: "worker" or "main".
async function fetchPng(url) {
  if (pngWorkerWanted()) {
    try { return await pngJob({ url }, []); }
    catch (e) { if (!(e instanceof DOMException)) throw e; pngPool.broken = true; }  // no worker here
  }
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new PngError(`HTTP ${r.status}`);
  return { ...(await decodePngStream(r)), decodedIn: "main" };
}

// Decode a fetch Response in a worker (its body stream transferred there; on the main thread
// where workers or transferable streams are missing).
async function decodePngResponse(response) {
  if (pngWorkerWanted()) {
    try { return await pngJob({ body: response.body }, [response.body]); }
    catch (e) { if (!(e instanceof DOMException) || response.bodyUsed) throw e; pngPool.broken = true; }
  }
  return { ...(await decodePngStream(response)), decodedIn: "main" };
}

// --- run as the worker ------------------------------------------------------------------
// Given a URL the worker fetches the PNG itself (same origin: the page's cookies and HTTP
// cache) or given a response body (a transferred ReadableStream) it reads that; it
// inflates and unfilters the bytes as they arrive and transfers the values back. Allowed by
// the page's CSP (worker-src 'self').
if (typeof WorkerGlobalScope !== "undefined" && self instanceof WorkerGlobalScope) {
  self.onmessage = async (e) => {
    const { id, body, url } = e.data;
    try {
      let source = { body };
      if (url) {
        source = await fetch(url, { credentials: "same-origin" });
        if (!source.ok) throw new Error(`HTTP ${source.status}`);
      }
      const image = await decodePngStream(source);
      self.postMessage({ id, image }, [image.data.buffer]);
    } catch (err) {
      self.postMessage({ id, error: String((err && err.message) || err) });
    }
  };
}
