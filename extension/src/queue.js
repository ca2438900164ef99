/**
 * A bounded FIFO queue of pending reports that counts what it had to drop.
 *
 * Why: while the companion is down, reports wait in extension storage. Storage is finite, so the
 * queue keeps the newest `max` items, drops the oldest first, and counts the drops so the person
 * can be told how much history went missing. It serialises to plain JSON for chrome.storage.
 */
export class BoundedQueue {
  constructor(max = 5000, items = [], dropped = 0) {
    if (!(max > 0)) throw new RangeError('max must be positive');
    this.max = max;
    this.items = [];
    this.dropped = dropped;
    this.push(...items);
  }

  get length() { return this.items.length; }

  /** Append items; if over the bound, drop the oldest and count them. Returns how many were dropped. */
  push(...items) {
    this.items.push(...items);
    const over = this.items.length - this.max;
    if (over > 0) {
      this.items.splice(0, over);
      this.dropped += over;
      return over;
    }
    return 0;
  }

  /** The first n items, without removing them (removed only once delivered: see `remove`). */
  peek(n) { return this.items.slice(0, n); }

  /** Remove the first n items (after they were delivered). */
  remove(n) { this.items.splice(0, n); }

  toJSON() { return { max: this.max, items: this.items, dropped: this.dropped }; }

  static fromJSON(obj, max) {
    if (!obj || !Array.isArray(obj.items)) return new BoundedQueue(max);
    return new BoundedQueue(max ?? obj.max ?? 5000, obj.items, Number(obj.dropped) || 0);
  }
}
