import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { CompanionClient, CompanionError, pairWithCode, isLoopbackBase } from '../src/companion.js';
import { expectedProof, newNonce, sameProof } from '../src/proof.js';

const TOKEN = 'tok-' + 'x'.repeat(40);

/** The companion's recipe (companion/auth.py proof()), written out independently with node's crypto. */
const companionProof = (token, nonce, host, origin = '') => createHmac('sha256', token)
  .update(`crumbs-proof-v2\n${nonce}\n${host}\n${origin}`).digest('hex');

test('proof matches the companion\'s HMAC-SHA256 recipe', async () => {
  const nonce = newNonce();
  assert.match(nonce, /^[0-9a-f]{32}$/);
  const want = companionProof(TOKEN, nonce, '127.0.0.1:8737');
  assert.equal(await expectedProof(TOKEN, nonce, '127.0.0.1:8737'), want);
  // The same vector tests/test_attacks_http.py checks against companion/auth.py.
  assert.equal(await expectedProof(TOKEN, '0123456789abcdef0123456789abcdef', '127.0.0.1:8737', 'chrome-extension://abc'),
    'e798c22b3c1f308961df282f258c73b581e85868a6efd29c0f6fda7de2a340f0');
  assert.notEqual(await expectedProof(TOKEN, nonce, '127.0.0.1:8738'), want, 'the port is part of the proof');
  assert.notEqual(await expectedProof(TOKEN, nonce, '127.0.0.1:8737', 'moz-extension://x'), want);
  await assert.rejects(expectedProof(TOKEN, nonce), TypeError);
  assert.ok(sameProof(want, want.toUpperCase()));
  assert.ok(!sameProof(want, want.slice(0, -1) + (want.endsWith('0') ? '1' : '0')));
  assert.ok(!sameProof(undefined, want));
});

/** A fake companion: records every request; `impostor` answers health without a valid proof. */
function fakeServer({ impostor = false, status = 200, token = TOKEN, host = null, origin = '' } = {}) {
  const seen = [];
  const fetch = async (url, init = {}) => {
    const headers = new Headers(init.headers || {});
    seen.push({ url, method: init.method || 'GET', headers, body: init.body });
    const path = new URL(url).pathname;
    if (path === '/api/v1/health') {
      const nonce = headers.get('X-Crumbs-Challenge');
      // `host`: where the real companion listens when this fake is a relay in front of it
      const proof = impostor ? 'ab'.repeat(32) : companionProof(token, nonce, host || new URL(url).host, origin);
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

test('a relay on our port forwarding the challenge to the real companion on another port is an impostor', async () => {
  // The squatter on 9999 relays to the companion on 8737, which proves the token for its own Host only.
  const relay = fakeServer({ host: '127.0.0.1:8737' });
  const c = new CompanionClient({ getConfig: paired, fetch: relay.fetch });
  await assert.rejects(c.post('/api/v1/events', { events: [{ url: 'https://secret.example/' }] }),
    (e) => e instanceof CompanionError && e.kind === 'impostor');
  assert.equal(relay.seen.length, 1);
  assert.equal(relay.seen[0].headers.get('Authorization'), null);
});

test('the proof may name our origin or none, never another one', async () => {
  const ours = 'chrome-extension://ours';
  for (const origin of [ours, '']) {
    const c = new CompanionClient({ getConfig: paired, fetch: fakeServer({ origin }).fetch, origin: ours });
    assert.equal((await c.get('/api/v1/choices')).status, 200);
  }
  const other = new CompanionClient({ getConfig: paired, fetch: fakeServer({ origin: 'moz-extension://other' }).fetch,
    origin: ours });
  await assert.rejects(other.get('/api/v1/choices'), (e) => e.kind === 'impostor');
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

test('calls made while the proof is asked share it: one /health, then the token', async () => {
  const srv = fakeServer();
  const c = new CompanionClient({ getConfig: paired, fetch: srv.fetch });
  const early = c.prove(); // the popup proves while it draws
  const [a, b] = await Promise.all([c.get('/api/v1/sites/x'), c.get('/api/v1/choices'), early]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(srv.seen.filter((r) => r.url.endsWith('/api/v1/health')).length, 1);
  assert.equal(srv.seen[0].headers.get('Authorization'), null, 'no token before the proof');
  // A failed proof is not kept: the next call asks again, and an impostor still never sees the token.
  const imp = fakeServer({ impostor: true });
  const d = new CompanionClient({ getConfig: paired, fetch: imp.fetch });
  await assert.rejects(Promise.all([d.prove(), d.get('/api/v1/choices')]), (e) => e.kind === 'impostor');
  await assert.rejects(d.get('/api/v1/choices'), (e) => e.kind === 'impostor');
  assert.equal(imp.seen.filter((r) => r.url.endsWith('/api/v1/health')).length, 2);
  assert.ok(imp.seen.every((r) => r.headers.get('Authorization') === null));
});
