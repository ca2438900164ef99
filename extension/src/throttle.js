/**
 * A write that may be asked for often but should reach storage at most once per `ms`.
 *
 * The first call after a quiet period writes at once; calls within `ms` of the last write are folded
 * into one trailing write at the end of that window, which writes the state of that moment. So a
 * call is never lost, and is on disk at most `ms` later. `flushNow()` writes a pending trailing
 * write at once (used when the background is about to be unloaded).
 */
export function throttle(fn, ms, { now = Date.now, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let last = -Infinity;
  let timer = null;
  const run = () => {
    timer = null;
    last = now();
    fn();
  };
  const call = () => {
    if (timer !== null) return; // a write is already due within the window: it will carry this change
    const wait = last + ms - now();
    if (wait <= 0) run();
    else timer = setTimer(run, wait);
  };
  call.flushNow = () => {
    if (timer === null) return;
    clearTimer(timer);
    run();
  };
  return call;
}

/**
 * A write that waits for things to settle: made once no call came for `quietMs`, and at the latest
 * `maxMs` after the first call it carries (so steady activity still reaches storage). A page loading
 * makes one write after its last request rather than one a second while it loads.
 */
export function whenQuiet(fn, quietMs, maxMs, { now = Date.now, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let first = null; // when the oldest unwritten call came
  let last = null; // when the latest call came
  let timer = null;
  // A call only notes the time (it comes with every settled request: no timer churn); the timer, when it
  // fires, writes or waits again for what is left of the quiet spell.
  const due = () => Math.min(last + quietMs, first + maxMs);
  const fire = () => {
    timer = null;
    const wait = due() - now();
    if (wait > 0) { timer = setTimer(fire, wait); return; }
    first = null;
    fn();
  };
  const call = () => {
    last = now();
    if (first === null) first = last;
    if (timer === null) timer = setTimer(fire, due() - last);
  };
  call.flushNow = () => {
    if (timer === null) return;
    clearTimer(timer);
    timer = null;
    first = null;
    fn();
  };
  return call;
}
