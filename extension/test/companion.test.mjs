import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { CompanionClient, CompanionError, pairWithCode, isLoopbackBase } from '../src/companion.js';
import { expectedProof, newNonce, sameProof } from '../src/proof.js';

const TOKEN = 'tok-' + 'x'.repeat(40);

test('proof matches the companion\'s HMAC-SHA256 recipe', async () => {
  const nonce = newNonce();
  assert.match(nonce, /^[0-9a-f]{32}$/);
  const want = createHmac('sha256', TOKEN).update(`crumbs-proof:${nonce}`).digest('hex');
  assert.equal(await expectedProof(TOKEN, nonce), want);
  assert.ok(sameProof(want, want.toUpperCase()));
  assert.ok(!sameProof(want, want.slice(0, -1) + (want.endsWith('0') ? '1' : '0')));
  assert.ok(!sameProof(undefined, want));
});

/** A fake companion: records every request; `impostor` answers health without a valid proof. */
function fakeServer({ impostor = false, status = 200, token = TOKEN } = {}) {
  const seen = [];
  const fetch = async (url, init = {}) => {
    const headers = new Headers(init.headers || {});
    seen.push({ url, method: init.method || 'GET', headers, body: init.body });
    const path = new URL(url).pathname;
    if (path === '/api/v1/health') {
      const nonce = headers.get('X-Crumbs-Challenge');
      const proof = impostor ? 'ab'.repeat(32) : createHmac('sha256', token).update(`crumbs-proof:${nonce}`).digest('hex');
      return new Response(JSON.stringify({ status: 'ok' }), { headers: { 'X-Crumbs-Proof': proof } });
    }
    if (path === '/api/v1/pair') {
      const { code } = JSON.parse(init.body);
      if (code !== '12345678') return new Response(JSON.stringify({ error: 'wrong code' }), { status: 403 });
      return new Response(JSON.stringify({ companion: 'http://127.0.0.1:9999', token }));
    }
    if (headers.get('Authorization') !== `Bearer ${TOKEN}`) return new Response('{"error":"no"}', { status: 401 });
    return new Response(JSON.stringify({ path, got: init.body ? JSON.parse(init.body) : null }), { status });
  };
  return { fetch, seen };
}

const paired = async () => ({ companion: 'http://127.0.0.1:9999', token: TOKEN });

test('the client checks the proof once, then sends the token', async () => {
  const srv = fakeServer();
  const c = new CompanionClient({ getConfig: paired, fetch: srv.fetch });
  const a = await c.post('/api/v1/events', { events: [] });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, { path: '/api/v1/events', got: { events: [] } });
  await c.get('/api/v1/choices');
  assert.deepEqual(srv.seen.map((r) => new URL(r.url).pathname), ['/api/v1/health', '/api/v1/events', '/api/v1/choices']);
  assert.equal(srv.seen[0].headers.get('Authorization'), null, 'no token before the proof');
});

test('an impostor on the port never sees the token', async () => {
  const srv = fakeServer({ impostor: true });
  const c = new CompanionClient({ getConfig: paired, fetch: srv.fetch });
  await assert.rejects(c.post('/api/v1/events', { events: [{ url: 'https://secret.example/' }] }),
    (e) => e instanceof CompanionError && e.kind === 'impostor');
  assert.equal(srv.seen.length, 1);
  assert.equal(srv.seen[0].headers.get('Authorization'), null);
  assert.equal(srv.seen[0].body, undefined);
});

test('a server proving a different token is an impostor too', async () => {
  const srv = fakeServer({ token: 'another-token' });
  const c = new CompanionClient({ getConfig: paired, fetch: srv.fetch });
  await assert.rejects(c.get('/api/v1/choices'), (e) => e.kind === 'impostor');
});

test('errors say what went wrong', async () => {
  const down = new CompanionClient({ getConfig: paired, fetch: async () => { throw new TypeError('Failed to fetch'); } });
  await assert.rejects(down.get('/api/v1/dnr'), (e) => e.kind === 'unreachable');
  const unpaired = new CompanionClient({ getConfig: async () => ({}), fetch: fakeServer().fetch });
  await assert.rejects(unpaired.get('/api/v1/dnr'), (e) => e.kind === 'unpaired');
  const remote = new CompanionClient({ getConfig: async () => ({ companion: 'https://evil.example', token: TOKEN }),
    fetch: fakeServer().fetch });
  await assert.rejects(remote.get('/api/v1/dnr'), (e) => e.kind === 'unpaired');
  const wrongToken = new CompanionClient({ getConfig: async () => ({ companion: 'http://127.0.0.1:9999', token: 'bad' }),
    fetch: fakeServer({ token: 'bad' }).fetch });
  await assert.rejects(wrongToken.get('/api/v1/dnr'), (e) => e.kind === 'unauthorized');
  // Firefox: the companion refuses a moz-extension origin that did not pair with a code (403).
  const notThisInstall = new CompanionClient({ getConfig: paired, fetch: fakeServer({ status: 403 }).fetch });
  await assert.rejects(notThisInstall.post('/api/v1/events', { events: [] }),
    (e) => e.kind === 'unauthorized' && e.status === 403);
  const failing = new CompanionClient({ getConfig: paired, fetch: fakeServer({ status: 400 }).fetch });
  await assert.rejects(failing.post('/api/v1/events', {}), (e) => e.kind === 'http' && e.status === 400);
});

test('after the companion was unreachable, the proof is asked again', async () => {
  const srv = fakeServer();
  let down = false;
  const fetch = async (url, init) => { if (down) throw new TypeError('Failed to fetch'); return srv.fetch(url, init); };
  const c = new CompanionClient({ getConfig: paired, fetch });
  await c.get('/api/v1/choices');
  down = true;
  await assert.rejects(c.get('/api/v1/choices'));
  down = false;
  await c.get('/api/v1/choices');
  assert.equal(srv.seen.filter((r) => r.url.endsWith('/api/v1/health')).length, 2);
});

test('pairing with the code gives {companion, token}', async () => {
  const srv = fakeServer();
  assert.deepEqual(await pairWithCode({ code: '1234 5678', port: 9999, fetch: srv.fetch }),
    { companion: 'http://127.0.0.1:9999', token: TOKEN });
  assert.equal(srv.seen[0].url, 'http://127.0.0.1:9999/api/v1/pair');
  await assert.rejects(pairWithCode({ code: '00000000', port: 9999, fetch: srv.fetch }), /wrong code/);
  await assert.rejects(pairWithCode({ code: '123', port: 9999, fetch: srv.fetch }), /8 digits/);
  await assert.rejects(pairWithCode({ code: '12345678', port: 70000, fetch: srv.fetch }), /port/);
  await assert.rejects(pairWithCode({ code: '12345678', port: 9999, fetch: fakeServer({ impostor: true }).fetch }),
    (e) => e.kind === 'impostor');
});

test('only loopback http bases are accepted', () => {
  assert.ok(isLoopbackBase('http://127.0.0.1:8737/'));
  assert.ok(isLoopbackBase('http://localhost:8737/'));
  assert.ok(!isLoopbackBase('https://127.0.0.1:8737/'));
  assert.ok(!isLoopbackBase('http://127.0.0.1.evil.example:8737/'));
  assert.ok(!isLoopbackBase('http://127.0.0.1:8737/x'));
  assert.ok(!isLoopbackBase('not a url'));
});
