// The native host client: answers checked, single flight, throttled, quiet without a host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NativeHost, parseAnswer, browserSend, HOST_NAME } from '../src/native.js';

const TOKEN = 'x'.repeat(43);

test('a good answer gives the companion and the token', () => {
  assert.deepEqual(parseAnswer({ ok: true, companion: 'http://127.0.0.1:9000/', token: TOKEN }),
    { companion: 'http://127.0.0.1:9000', token: TOKEN });
});

test('an answer naming a non-local address, no token, or an error is refused', () => {
  assert.throws(() => parseAnswer({ ok: true, companion: 'http://evil.example:80', token: TOKEN }), /not local/);
  assert.throws(() => parseAnswer({ ok: true, companion: 'http://127.0.0.1:9000', token: 'short' }), /no token/);
  assert.throws(() => parseAnswer({ ok: false, error: 'boom' }), /boom/);
  assert.throws(() => parseAnswer(undefined), /no answer/);
});

test('asks the Crumbs host by name, once at a time, and not again within the interval', async () => {
  let t = 0;
  const calls = [];
  let release;
  const host = new NativeHost({
    send: (name, msg) => { calls.push([name, msg]); return new Promise((r) => { release = r; }); },
    now: () => t, minIntervalMs: 5000,
  });
  const a = host.ask();
  const b = host.ask();
  assert.equal(a, b);
  release({ ok: true, companion: 'http://127.0.0.1:9000', token: TOKEN });
  assert.deepEqual(await a, { companion: 'http://127.0.0.1:9000', token: TOKEN });
  assert.deepEqual(calls, [[HOST_NAME, { type: 'companion' }]]);
  t = 1000;
  assert.equal(await host.ask(), null); // throttled
  assert.equal(calls.length, 1);
  const forced = host.ask({ force: true });
  release({ ok: true, companion: 'http://127.0.0.1:9001', token: TOKEN });
  assert.equal((await forced).companion, 'http://127.0.0.1:9001');
  t = 7000;
  const later = host.ask();
  release({ ok: true, companion: 'http://127.0.0.1:9002', token: TOKEN });
  assert.equal((await later).companion, 'http://127.0.0.1:9002');
});

test('no host installed: the ask fails quietly and says why', async () => {
  const host = new NativeHost({ send: () => Promise.reject(new Error('Specified native messaging host not found.')) });
  assert.equal(await host.ask(), null);
  assert.equal(host.available, false);
  assert.match(host.lastError, /not found/);
});

test('a browser without sendNativeMessage has no sender', async () => {
  assert.equal(browserSend({}), null);
  assert.equal(await new NativeHost({ send: null }).ask(), null);
});
