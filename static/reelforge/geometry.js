// Pure geometry of the project editors: crop windows, speed-mapped time, ellipses.

/** Linear interpolation of numeric keys between keyframes sorted by `t` (held at the ends). */
export function interpolate(keyframes, t, keys) {
  if (!keyframes.length) return null;
  if (t <= keyframes[0].t) return pick(keyframes[0], keys);
  const last = keyframes[keyframes.length - 1];
  if (t >= last.t) return pick(last, keys);
  const i = keyframes.findIndex((kf) => kf.t > t);
  const a = keyframes[i - 1];
  const b = keyframes[i];
  const f = (t - a.t) / (b.t - a.t || 1);
  return Object.fromEntries(keys.map((k) => [k, a[k] + (b[k] - a[k]) * f]));
}

function pick(kf, keys) {
  return Object.fromEntries(keys.map((k) => [k, kf[k]]));
}

/** The largest window of the preset's aspect, centred: what a clip without keyframes shows. */
export function defaultWindow(source, ratio) {
  let h = source.height;
  let w = Math.round(h * ratio);
  if (w > source.width) {
    w = source.width;
    h = Math.round(w / ratio);
  }
  return { x: Math.round((source.width - w) / 2), y: Math.round((source.height - h) / 2), w, h };
}

export function cropAt(keyframes, t, source, ratio) {
  return interpolate(keyframes, t, ["x", "y", "w", "h"]) || defaultWindow(source, ratio);
}

/**
 * A crop window of the preset's aspect dragged from (x0, y0) to (x1, y1), in source pixels:
 * its width follows the drag, its height the aspect; it is kept inside the frame.
 * w and h are whole pixels with w = round(h * ratio), as the server checks.
 */
export function dragWindow(x0, y0, x1, y1, source, ratio) {
  const maxH = Math.min(source.height, source.width / ratio);
  let h = Math.min(Math.max(Math.abs(x1 - x0) / ratio, Math.abs(y1 - y0)), maxH);
  h = Math.max(1, Math.floor(h));
  let w = Math.round(h * ratio);
  if (w > source.width) {
    w = source.width;
    h = Math.floor(w / ratio);
  }
  let x = x1 < x0 ? x0 - w : x0;
  let y = y1 < y0 ? y0 - h : y0;
  x = Math.round(Math.min(Math.max(0, x), source.width - w));
  y = Math.round(Math.min(Math.max(0, y), source.height - h));
  return { x, y, w, h };
}

/** Where source time `t` of a clip lands in its output after the speed segments. */
export function outputTime(t, segments) {
  let out = t;
  for (const seg of segments) {
    if (seg.start >= t) continue;
    const covered = Math.min(t, seg.end) - seg.start;
    out += covered / seg.speed - covered;
  }
  return out;
}

export function round(value, digits = 2) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
