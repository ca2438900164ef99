import test from 'node:test';
import assert from 'node:assert/strict';
import { throttle } from '../src/throttle.js';

function clock() {
  const c = { t: 0, timers: [] };
  c.now = () => c.t;
  c.setTimer = (fn, ms) => { const h = { fn, at: c.t + ms }; c.timers.push(h); return h; };
  c.clearTimer = (h) => { c.timers = c.timers.filter((x) => x !== h); };
  c.advance = (ms) => {
    c.t += ms;
    for (const h of c.timers.filter((x) => x.at <= c.t)) { c.clearTimer(h); h.fn(); }
  };
  return c;
}

test('first call writes at once, calls within the window fold into one trailing write', () => {
  const c = clock();
  const writes = [];
  let state = 0;
  const save = throttle(() => writes.push(state), 1000, c);
  state = 1; save();
  assert.deepEqual(writes, [1]);
  c.advance(100); state = 2; save();
  c.advance(100); state = 3; save();
  assert.deepEqual(writes, [1]); // nothing more yet
  c.advance(799);
  assert.deepEqual(writes, [1]);
  c.advance(1);
  assert.deepEqual(writes, [1, 3], 'the trailing write carries the latest state, 1 s after the first');
  c.advance(5000);
  assert.deepEqual(writes, [1, 3], 'no write without a call');
  state = 4; save();
  assert.deepEqual(writes, [1, 3, 4], 'after a quiet second, at once again');
});

test('at most one write per window however many calls', () => {
  const c = clock();
  let n = 0;
  const save = throttle(() => { n += 1; }, 1000, c);
  for (let i = 0; i < 500; i++) { save(); c.advance(10); } // 5 s of calls every 10 ms
  c.advance(1000);
  assert.ok(n >= 5 && n <= 6, `wrote ${n} times`);
});

test('flushNow writes a pending change at once, and nothing when none is pending', () => {
  const c = clock();
  const writes = [];
  let state = 'a';
  const save = throttle(() => writes.push(state), 1000, c);
  save();
  save.flushNow();
  assert.deepEqual(writes, ['a']);
  state = 'b'; save();
  save.flushNow();
  assert.deepEqual(writes, ['a', 'b']);
  c.advance(2000);
  assert.deepEqual(writes, ['a', 'b'], 'the cancelled timer does not write again');
});

test('whenQuiet: one write after the calls stop, or at the latest maxMs after the first', async () => {
  const { whenQuiet } = await import('../src/throttle.js');
  const c = clock();
  const writes = [];
  let state = 0;
  const save = whenQuiet(() => writes.push(state), 500, 3000, c);
  state = 1; save();
  c.advance(400); state = 2; save();
  c.advance(400);
  assert.deepEqual(writes, [], 'still busy: nothing yet');
  c.advance(100);
  assert.deepEqual(writes, [2], 'quiet for 500 ms: written with the latest state');
  for (let i = 0; i < 100; i += 1) { state = 10 + i; save(); c.advance(100); } // 10 s of calls every 100 ms
  assert.ok(writes.length >= 4 && writes.length <= 5, `steady calls still written every 3 s: ${writes.length}`);
  c.advance(500);
  assert.equal(writes[writes.length - 1], 109, 'the last state is written once calls stop');
  const n = writes.length;
  c.advance(10000);
  assert.equal(writes.length, n, 'no write without a call');
  save(); save.flushNow();
  assert.equal(writes.length, n + 1, 'flushNow writes a pending change at once');
  save.flushNow();
  assert.equal(writes.length, n + 1, 'and nothing when none is pending');
});
