// A small live time-series chart on a canvas: one line per series, auto-scaled, no dependencies.

const COLORS = ['#38bdf8', '#f472b6', '#34d399', '#fbbf24', '#a78bfa', '#fb923c', '#22d3ee', '#f87171', '#a3e635', '#e879f9'];

export class LiveChart {
  constructor(canvas, { windowSeconds = 60, maxPoints = 2000 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.windowMs = windowSeconds * 1000;
    this.maxPoints = maxPoints;
    this.series = new Map(); // name -> { color, points: [[t, v]], hidden }
    this.dirty = true;
    new ResizeObserver(() => { this.dirty = true; }).observe(canvas);
  }

  setWindow(seconds) {
    this.windowMs = seconds * 1000;
    this.dirty = true;
  }

  add(name, t, v) {
    let s = this.series.get(name);
    if (!s) {
      s = { color: COLORS[this.series.size % COLORS.length], points: [], hidden: false };
      this.series.set(name, s);
    }
    s.points.push([t, v]);
    // Keep the longest window the page offers (15 min) and no more than maxPoints.
    const cutoff = t - 15 * 60 * 1000;
    let drop = 0;
    while (drop < s.points.length && s.points[drop][0] < cutoff) drop++;
    if (s.points.length - drop > this.maxPoints) drop = s.points.length - this.maxPoints;
    if (drop) s.points.splice(0, drop);
    this.dirty = true;
    return s;
  }

  toggle(name) {
    const s = this.series.get(name);
    if (s) { s.hidden = !s.hidden; this.dirty = true; }
    return s;
  }

  draw(now = Date.now()) {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const t1 = now, t0 = now - this.windowMs;
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series.values()) {
      if (s.hidden) continue;
      for (const [t, v] of s.points) {
        if (t < t0) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo > 0 && lo < hi * 0.5) lo = 0; // anchor at zero when it costs little
    if (hi === lo) { hi += 1; lo -= 1; }
    const pad = (hi - lo) * 0.08;
    hi += pad; if (lo !== 0) lo -= pad;
    const step = niceStep((hi - lo) / 4);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;

    const left = 56, right = 10, top = 8, bottom = 22;
    const pw = w - left - right, ph = h - top - bottom;
    const x = (t) => left + ((t - t0) / (t1 - t0)) * pw;
    const y = (v) => top + ph - ((v - lo) / (hi - lo)) * ph;

    // Grid and axes.
    ctx.font = '11px ui-monospace, "DejaVu Sans Mono", monospace';
    ctx.fillStyle = '#8b9ab5';
    ctx.strokeStyle = '#1d2a45';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = lo; v <= hi + step / 2; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, yy); ctx.lineTo(w - right, yy); ctx.stroke();
      ctx.fillText(formatValue(v), left - 6, yy);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const tickEvery = this.windowMs <= 60_000 ? 10_000 : this.windowMs <= 300_000 ? 60_000 : 180_000;
    for (let t = Math.ceil(t0 / tickEvery) * tickEvery; t <= t1; t += tickEvery) {
      const xx = Math.round(x(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(xx, top); ctx.lineTo(xx, top + ph); ctx.stroke();
      ctx.fillText(new Date(t).toLocaleTimeString([], { hour12: false }), xx, top + ph + 5);
    }

    // Lines, each with a soft fill under the most recent series.
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, pw, ph); ctx.clip();
    for (const s of this.series.values()) {
      if (s.hidden || !s.points.length) continue;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.8;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      let started = false, lastX = 0, lastY = 0;
      for (const [t, v] of s.points) {
        if (t < t0 - this.windowMs * 0.05) continue;
        const xx = x(t), yy = y(v);
        if (!started) { ctx.moveTo(xx, yy); started = true; } else ctx.lineTo(xx, yy);
        lastX = xx; lastY = yy;
      }
      ctx.stroke();
      if (started) {
        ctx.fillStyle = s.color;
        ctx.beginPath(); ctx.arc(lastX, lastY, 3, 0, Math.PI * 2); ctx.fill();
      }
    }
    ctx.restore();
    this.dirty = false;
  }
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

export function formatValue(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(a >= 10 ? 1 : 2);
}
