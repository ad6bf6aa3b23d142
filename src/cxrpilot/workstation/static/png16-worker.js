// A Web Worker that decodes the viewer's 16-bit PNGs off the page's main thread (png16.js,
// the same code): given a URL it fetches the PNG itself (same origin, the page's cookies and
// HTTP cache) or given a response body (a transferred ReadableStream) it reads that; it
// inflates and unfilters the bytes as they arrive and transfers the values back. The main
// thread stays free to draw the low-resolution view, follow the mouse and run the editor
// while the full image decodes. Loaded under the page's CSP (worker-src 'self').
"use strict";
importScripts("/static/png16.js");

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
