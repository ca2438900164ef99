import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedQueue } from '../src/queue.js';
import { Batcher, backoffDelay } from '../src/batcher.js';

test('queue keeps the newest items and counts the oldest it drops', () => {
  const q = new BoundedQueue(3);
  assert.equal(q.push(1, 2), 0);
  assert.equal(q.push(3, 4, 5), 2);
  assert.deepEqual(q.items, [3, 4, 5]);
  assert.equal(q.dropped, 2);
  q.push(6);
  assert.equal(q.dropped, 3);
  assert.deepEqual(q.peek(2), [4, 5]);
  q.remove(2);
  assert.deepEqual(q.items, [6]);
});

test('queue survives a JSON round trip (as chrome.storage stores it)', () => {
  const q = new BoundedQueue(2, [1, 2, 3]);
  const back = BoundedQueue.fromJSON(JSON.parse(JSON.stringify(q)));
  assert.deepEqual(back.items, [2, 3]);
  assert.equal(back.dropped, 1);
  assert.equal(back.max, 2);
  assert.equal(BoundedQueue.fromJSON(null, 7).length, 0);
  // a smaller bound on reload drops the oldest again, and counts them
  const smaller = BoundedQueue.fromJSON({ items: [1, 2, 3, 4], dropped: 5 }, 2);
  assert.deepEqual(smaller.items, [3, 4]);
  assert.equal(smaller.dropped, 7);
});

function fakeTimers() {
  const timers = new Map();
  let next = 1;
  return {
    setTimer: (fn, ms) => { const id = next++; timers.set(id, { fn, ms }); return id; },
    clearTimer: (id) => { timers.delete(id); },
    fireAll() { const all = [...timers.values()]; timers.clear(); all.forEach((t) => t.fn()); },
    get count() { return timers.size; },
    get last() { return [...timers.values()].at(-1); },
  };
}

test('batcher flushes when the batch is full, without waiting', () => {
  const t = fakeTimers();
  let flushes = 0;
  const b = new Batcher({ maxSize: 3, delayMs: 300, onFlush: () => { flushes += 1; }, ...t });
  b.added(); b.added();
  assert.equal(flushes, 0);
  assert.equal(t.count, 1);
  b.added();
  assert.equal(flushes, 1);
  assert.equal(t.count, 0, 'the pending delay was cancelled');
});

test('batcher flushes a short delay after the first item, once', () => {
  const t = fakeTimers();
  let flushes = 0;
  const b = new Batcher({ maxSize: 100, delayMs: 250, onFlush: () => { flushes += 1; }, ...t });
  b.added(); b.added(); b.added();
  assert.equal(t.count, 1, 'one timer for the whole batch');
  assert.equal(t.last.ms, 250);
  t.fireAll();
  assert.equal(flushes, 1);
  b.added();
  assert.equal(t.count, 1, 'a new batch starts a new delay');
});

test('backoff doubles and is capped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 50].map((a) => backoffDelay(a)), [1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(backoffDelay(2, { baseMs: 10, maxMs: 1e9 }), 40);
});
