// An init script (page.addInitScript(THROTTLE_TIMERS, mode)) that makes the page's timers behave
// as Chrome throttles them in a hidden tab, and counts the PINGREQs the page sends.
//
// mode 'chrome': Chrome's policy for hidden pages (developer.chrome.com/blog/timer-throttling-in-
//   chrome-88): a timer fires on the next whole second; once it is 5 or more deep in a chain of
//   timers set from timer callbacks, on the next 10 s boundary (Chrome: 1 min).
// mode 'all': every timer on the next 10 s boundary, chain or not (harsher than any browser).
export function THROTTLE_TIMERS(mode) {
  const realSetTimeout = window.setTimeout.bind(window);
  const LONG = 10_000, SHORT = 1_000;
  let nesting = 0;
  window.__maxTimerNesting = 0;
  window.__pings = 0;
  window.setTimeout = function (fn, ms = 0, ...args) {
    const level = nesting + 1;
    window.__maxTimerNesting = Math.max(window.__maxTimerNesting, level);
    const align = mode === 'all' || level >= 5 ? LONG : SHORT;
    const due = performance.now() + Math.max(0, ms);
    const at = Math.ceil(due / align) * align;
    return realSetTimeout(() => {
      const outer = nesting;
      nesting = level;
      try { typeof fn === 'function' ? fn(...args) : null; } finally { nesting = outer; }
    }, at - performance.now());
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const b = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
    if (b && b.length === 2 && b[0] === 0xc0 && b[1] === 0x00) window.__pings++;
    return send.call(this, data);
  };
}
