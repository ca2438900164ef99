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
