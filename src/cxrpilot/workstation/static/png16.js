// Decode a greyscale PNG (8- or 16-bit, not interlaced) to its values, in the browser.
// The browser's own decoders give 8 bits per channel, which cannot be windowed; this reads
// the chunks, inflates the zlib stream with the browser's DecompressionStream, and undoes
// the PNG filters (None, Sub, Up, Average, Paeth). Returns {width, height, bitDepth, data}
// with data a Uint16Array (16-bit, big-endian in the file) or Uint8Array (8-bit).
"use strict";

class PngError extends Error {}

async function inflate(chunks) {
  const stream = new Blob(chunks).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function decodePng16(buffer) {
  const bytes = new Uint8Array(buffer), view = new DataView(buffer);
  const SIG = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 33 || SIG.some((b, i) => bytes[i] !== b)) throw new PngError("not a PNG file");
  let pos = 8, width = 0, height = 0, bitDepth = 0, colour = -1, interlace = 0;
  const idat = [];
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos), type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8); height = view.getUint32(pos + 12);
      bitDepth = bytes[pos + 16]; colour = bytes[pos + 17]; interlace = bytes[pos + 20];
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  if (colour !== 0 || (bitDepth !== 16 && bitDepth !== 8) || interlace !== 0) {
    throw new PngError(`PNG colour type ${colour}, ${bitDepth} bits, interlace ${interlace}: expected 8/16-bit greyscale, not interlaced`);
  }
  const raw = await inflate(idat);
  const bpp = bitDepth / 8, stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new PngError(`truncated PNG: ${raw.length} bytes of image data for ${width}×${height}`);
  const out = new Uint8Array(height * stride);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)], src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = out.subarray(y * stride, (y + 1) * stride);
    switch (f) {
      case 0: cur.set(src); break;
      case 1: for (let i = 0; i < stride; i++) cur[i] = src[i] + (i >= bpp ? cur[i - bpp] : 0); break;
      case 2: for (let i = 0; i < stride; i++) cur[i] = src[i] + prev[i]; break;
      case 3: for (let i = 0; i < stride; i++) cur[i] = src[i] + (((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1); break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          cur[i] = src[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default: throw new PngError(`PNG filter type ${f} on row ${y}`);
    }
    prev = cur;
  }
  if (bitDepth === 8) return { width, height, bitDepth, data: out };
  const data = new Uint16Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 2) data[i] = (out[j] << 8) | out[j + 1];
  return { width, height, bitDepth, data };
}
