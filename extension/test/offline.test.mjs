import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OfflineChoices, RULE_ID_BASE, ruleFor, normalise, callFor } from '../src/offline.js';
import { CompanionError } from '../src/companion.js';

/** A fake chrome.declarativeNetRequest session-rule store that checks what Chrome checks. */
function fakeDnr(existing = []) {
  const d = { rules: [...existing],
    async getSessionRules() { return d.rules.map((r) => ({ ...r })); },
    async updateSessionRules({ removeRuleIds = [], addRules = [] }) {
      const left = d.rules.filter((r) => !removeRuleIds.includes(r.id));
      for (const r of addRules) if (left.some((x) => x.id === r.id)) throw new Error(`Rule with id ${r.id} already exists`);
      d.rules = [...left, ...addRules];
    } };
  return d;
}

function fakeStore(initial = null) {
  const s = { value: initial, load: async () => s.value, save: async (v) => { s.value = JSON.parse(JSON.stringify(v)); } };
  return s;
}

/** A fake companion: records calls; `down` throws unreachable; `refuse` answers 400 for a path. */
function fakeClient() {
  const c = { calls: [], down: false, refuse: null,
    async call(method, path, body) {
      if (c.down) throw new CompanionError('unreachable', 'down');
      if (c.refuse && path.includes(c.refuse)) throw new CompanionError('http', 'bad', 400);
      c.calls.push([method, path, body]);
      if (path === '/api/v1/check') {
        const host = new URL(body.url).hostname;
        return { status: 200, body: { domain: host.split('.').slice(-2).join('.') } };
      }
      return { status: 200, body: { ok: true } };
    } };
  return c;
}

test('choices become rules with the companion\'s own priorities and conditions (companion/dnr/compiler.py)', () => {
  const now = 1000;
  assert.deepEqual(ruleFor(normalise({ kind: 'trust', site: 'news.example', duration: 'day' }, now), now),
    { priority: 300, action: { type: 'allowAllRequests' }, condition: { requestDomains: ['news.example'], resourceTypes: ['main_frame'] } });
  assert.deepEqual(ruleFor(normalise({ kind: 'site-tracker', site: 'news.example', tracker: 'doubleclick.net', action: 'block' })),
    { priority: 400, action: { type: 'block' }, condition: { requestDomains: ['doubleclick.net'], initiatorDomains: ['news.example'], domainType: 'thirdParty' } });
  assert.deepEqual(ruleFor(normalise({ kind: 'site-tracker', site: 'news.example', tracker: 'doubleclick.net', action: 'allow' })),
    { priority: 400, action: { type: 'allow' }, condition: { requestDomains: ['doubleclick.net'], initiatorDomains: ['news.example'] } });
  assert.deepEqual(ruleFor(normalise({ kind: 'tracker', tracker: 'facebook.net', action: 'allow' })),
    { priority: 200, action: { type: 'allow' }, condition: { requestDomains: ['facebook.net'] } });
  // Undoing a choice cannot be a rule: it waits for the companion.
  assert.equal(ruleFor(normalise({ kind: 'trust', site: 'news.example', duration: null })), null);
  assert.equal(ruleFor(normalise({ kind: 'site-tracker', site: 'a.example', tracker: 'b.net', action: null })), null);
  // An hour's trust ends after an hour.
  const hour = normalise({ kind: 'trust', site: 'news.example', duration: 'hour' }, now);
  assert.equal(hour.until, now + 3_600_000);
  assert.equal(ruleFor(hour, now + 3_600_001), null);
  assert.throws(() => normalise({ kind: 'trust', site: 'news.example', duration: 'week' }), /duration/);
  assert.throws(() => normalise({ kind: 'site-tracker', site: '<script>', tracker: 'b.net', action: 'block' }), /both names/);
  assert.deepEqual(callFor(normalise({ kind: 'trust', site: 'news.example', duration: 'always' })),
    { method: 'PUT', path: '/api/v1/choices/trust/news.example', body: { duration: 'always' } });
  assert.deepEqual(callFor(normalise({ kind: 'tracker', tracker: 'b.net', action: null })),
    { method: 'DELETE', path: '/api/v1/choices/trackers/b.net' });
});

test('a choice applies at once, the latest choice about a thing wins, and other session rules are left alone', async () => {
  const other = { id: 5, priority: 1, action: { type: 'allow' }, condition: { urlFilter: 'x' } };
  const dnr = fakeDnr([other]);
  const store = fakeStore();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save, now: () => 0 });
  await o.start();
  const done = await o.add({ kind: 'trust', site: 'news.example', duration: 'always' });
  assert.equal(done.applied, true);
  await o.add({ kind: 'site-tracker', site: 'news.example', tracker: 'doubleclick.net', action: 'allow' });
  await o.add({ kind: 'site-tracker', site: 'news.example', tracker: 'doubleclick.net', action: 'block' });
  assert.deepEqual(o.list().map((x) => [x.kind, x.action ?? x.duration]), [['trust', 'always'], ['site-tracker', 'block']]);
  const mine = dnr.rules.filter((r) => r.id >= RULE_ID_BASE);
  assert.deepEqual(mine.map((r) => [r.priority, r.action.type]), [[300, 'allowAllRequests'], [400, 'block']]);
  assert.ok(dnr.rules.includes(other));
  assert.equal(store.value.length, 2, 'the queue is in storage');
  // Stopping trust made while away: the rule goes at once.
  await o.add({ kind: 'trust', site: 'news.example', duration: null });
  assert.deepEqual(dnr.rules.filter((r) => r.id >= RULE_ID_BASE).map((r) => r.priority), [400]);
});

test('after a browser restart the queue re-creates the rules', async () => {
  const store = fakeStore([normalise({ kind: 'trust', site: 'news.example', duration: 'always' })]);
  const dnr = fakeDnr();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save });
  await o.start();
  assert.equal(dnr.rules.length, 1);
  assert.equal(dnr.rules[0].action.type, 'allowAllRequests');
  // The 30 s tick applies again: nothing changed, so the browser is not asked to change anything.
  let updates = 0;
  const update = dnr.updateSessionRules;
  dnr.updateSessionRules = async (x) => { updates += 1; return update(x); };
  await o.apply();
  assert.equal(updates, 0);
});

test('when the companion is back: delivered in order, its rules fetched, and only then ours removed', async () => {
  const dnr = fakeDnr();
  const store = fakeStore();
  const client = fakeClient();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save, now: () => 0 });
  await o.start();
  await o.add({ kind: 'trust', site: 'news.example', duration: 'day' });
  await o.add({ kind: 'site-tracker', site: 'news.example', tracker: 'facebook.net', action: 'block' });

  client.down = true;
  let synced = 0;
  let left = await o.deliver(client, async () => { synced += 1; return true; });
  assert.deepEqual(left, { delivered: 0, refused: 0, left: 2 });
  assert.equal(dnr.rules.length, 2, 'still away: the rules stay');

  client.down = false;
  let rulesDuringSync = null;
  left = await o.deliver(client, async () => { synced += 1; rulesDuringSync = dnr.rules.length; return true; });
  assert.deepEqual(left, { delivered: 2, refused: 0, left: 0 });
  assert.deepEqual(client.calls, [
    ['PUT', '/api/v1/choices/trust/news.example', { duration: 'day' }],
    ['PUT', '/api/v1/choices/sites/news.example/trackers/facebook.net', { action: 'block' }]]);
  assert.equal(rulesDuringSync, 2, 'ours stay until the companion\'s rules are in');
  assert.equal(synced, 1);
  assert.equal(dnr.rules.length, 0);
  assert.deepEqual(store.value, []);
});

test('if the companion\'s rules could not be fetched, ours stay', async () => {
  const dnr = fakeDnr();
  const store = fakeStore();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save, now: () => 0 });
  await o.start();
  await o.add({ kind: 'trust', site: 'news.example', duration: 'always' });
  await o.deliver(fakeClient(), async () => false);
  assert.equal(o.list().length, 0);
  assert.equal(dnr.rules.length, 1);
});

test('a choice the companion refuses is dropped; an expired trust is not sent; host-level names are resolved', async () => {
  let now = 0;
  const dnr = fakeDnr();
  const store = fakeStore();
  const client = fakeClient();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save, now: () => now });
  await o.start();
  await o.add({ kind: 'trust', site: 'old.example', duration: 'hour' });
  await o.add({ kind: 'site-tracker', site: 'bad.example', tracker: 'x.net', action: 'block' });
  await o.add({ kind: 'site-tracker', site: 'www.news.example', tracker: 'px.ads.net', action: 'block', exact: false,
    pageUrl: 'http://www.news.example/a', trackerUrl: 'https://px.ads.net/' });
  now = 2 * 3_600_000;
  client.refuse = 'bad.example';
  const result = await o.deliver(client, async () => true);
  assert.deepEqual(result, { delivered: 1, refused: 1, left: 0 });
  assert.deepEqual(client.calls.filter((c) => c[1] !== '/api/v1/check'),
    [['PUT', '/api/v1/choices/sites/news.example/trackers/ads.net', { action: 'block' }]]);
});

test('two choices at once (or a choice and the 30 s tick) both end up as rules: updates are serialised', async () => {
  const dnr = fakeDnr();
  const slow = dnr.getSessionRules;
  dnr.getSessionRules = async () => { await new Promise((r) => setTimeout(r, 5)); return slow(); };
  const store = fakeStore();
  const o = new OfflineChoices({ dnr, load: store.load, save: store.save, now: () => 0 });
  await o.start();
  await Promise.all([
    o.add({ kind: 'site-tracker', site: 'news.example', tracker: 'widgets.test', action: 'block' }),
    o.add({ kind: 'trust', site: 'news.example', duration: 'always' }),
    o.apply(),
  ]);
  assert.deepEqual(dnr.rules.filter((r) => r.id >= RULE_ID_BASE).map((r) => r.priority).sort(), [300, 400]);
});
