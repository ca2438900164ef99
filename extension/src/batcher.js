/**
 * Decides when to send: at once when a batch is full, otherwise a short delay after the first item.
 *
 * Why: one POST per request would flood the companion on busy pages, while waiting too long would
 * leave the badge stale. Timers are injected so tests can drive time by hand.
 */
export class Batcher {
  /**
   * @param {{maxSize?: number, delayMs?: number, onFlush: () => void,
   *          setTimer?: (fn: () => void, ms: number) => any, clearTimer?: (t: any) => void}} opts
   */
  constructor({ maxSize = 100, delayMs = 300, onFlush, setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (t) => clearTimeout(t) }) {
    // (Wrapped: browsers refuse setTimeout called as a method of another object: "Illegal invocation".)
    this.maxSize = maxSize;
    this.delayMs = delayMs;
    this.onFlush = onFlush;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.pending = 0;
    this.timer = null;
  }

  /** Note that `n` items were queued. */
  added(n = 1) {
    this.pending += n;
    if (this.pending >= this.maxSize) {
      this.fire();
    } else if (this.timer === null) {
      this.timer = this.setTimer(() => { this.timer = null; this.fire(); }, this.delayMs);
    }
  }

  fire() {
    if (this.timer !== null) { this.clearTimer(this.timer); this.timer = null; }
    this.pending = 0;
    this.onFlush();
  }
}

/** Delay before retry number `attempt` (0-based): doubling from `baseMs`, capped at `maxMs`. */
export function backoffDelay(attempt, { baseMs = 1000, maxMs = 10000 } = {}) {
  const a = Math.max(0, Math.min(30, Math.floor(attempt)));
  return Math.min(maxMs, baseMs * 2 ** a);
}
