import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleSync } from '../src/enforcement.js';
import { CompanionError } from '../src/companion.js';

const rule = (id, domains) => ({ id, priority: 100, action: { type: 'block' }, condition: { requestDomains: domains } });

function fakeBrowser(initial = []) {
  const b = { rules: structuredClone(initial), calls: [],
    async getDynamicRules() { return structuredClone(b.rules); },
    async updateDynamicRules({ removeRuleIds = [], addRules = [] }) {
      b.calls.push({ removeRuleIds, addRules });
      b.rules = b.rules.filter((r) => !removeRuleIds.includes(r.id)).concat(structuredClone(addRules));
    } };
  return b;
}

function fakeCompanion(version, rules) {
  const c = { version, rules, up: true, requests: [],
    async get(path, headers = {}) {
      c.requests.push(headers);
      if (!c.up) throw new CompanionError('unreachable', 'down');
      if (headers['If-None-Match'] === `"${c.version}"`) return { status: 304, body: null };
      return { status: 200, body: { version: c.version, rules: c.rules } };
    } };
  return c;
}

function setup(comp, browser, applied = null) {
  let saved = applied;
  const errors = [];
  const sync = new RuleSync({ client: comp, dnr: browser, loadApplied: async () => saved,
    saveApplied: async (v) => { saved = structuredClone(v); }, onError: (e) => errors.push(e) });
  return { sync, errors, saved: () => saved };
}

test('first sync installs the rules; the next one is a 304', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net']), rule(2, ['b.net'])]);
  const browser = fakeBrowser();
  const { sync, saved } = setup(comp, browser);
  assert.equal(await sync.sync(), true);
  assert.deepEqual(browser.rules.map((r) => r.id), [1, 2]);
  assert.equal(saved().version, 'v1');
  assert.equal(await sync.sync(), false);
  assert.deepEqual(comp.requests.at(-1), { 'If-None-Match': '"v1"' });
  assert.equal(browser.calls.length, 1);
});

test('a new version applies only the difference', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net']), rule(2, ['b.net']), rule(3, ['c.net'])]);
  const browser = fakeBrowser();
  const { sync } = setup(comp, browser);
  await sync.sync();
  comp.version = 'v2';
  comp.rules = [rule(1, ['a.net']), rule(2, ['b.net', 'z.net'])];
  await sync.noteVersion('v2');
  assert.deepEqual(browser.calls.at(-1).removeRuleIds, [2, 3]);
  assert.deepEqual(browser.calls.at(-1).addRules.map((r) => r.id), [2]);
  assert.deepEqual(browser.rules.find((r) => r.id === 2).condition.requestDomains, ['b.net', 'z.net']);
  assert.equal(await sync.noteVersion('v2'), false, 'same version: nothing to do');
});

test('rules stay when the companion is down', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net'])]);
  const browser = fakeBrowser();
  const { sync, errors } = setup(comp, browser);
  await sync.sync();
  comp.up = false;
  assert.equal(await sync.sync(), false);
  assert.equal(errors[0].kind, 'unreachable');
  assert.deepEqual(browser.rules.map((r) => r.id), [1]);
});

test('if the browser lost the rules, they are fetched in full again', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net'])]);
  const browser = fakeBrowser();
  const { sync } = setup(comp, browser, { version: 'v1', rules: [rule(1, ['a.net'])] });
  await sync.sync();
  assert.deepEqual(comp.requests[0], {}, 'no If-None-Match when the browser does not hold what we recorded');
  assert.deepEqual(browser.rules.map((r) => r.id), [1]);
});

test('stray rules in the browser are removed', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net'])]);
  const browser = fakeBrowser([rule(1, ['a.net']), rule(99, ['old.net'])]);
  const { sync } = setup(comp, browser);
  await sync.sync();
  assert.deepEqual(browser.rules.map((r) => r.id), [1]);
});

test('concurrent syncs coalesce', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net'])]);
  const browser = fakeBrowser();
  const { sync } = setup(comp, browser);
  await Promise.all([sync.sync(), sync.sync(), sync.sync()]);
  assert.equal(browser.calls.length, 1);
  assert.ok(comp.requests.length <= 2);
});

test('a refused update keeps the old version recorded', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net'])]);
  const browser = fakeBrowser();
  browser.updateDynamicRules = async () => { throw new Error('Dynamic rule count exceeded.'); };
  const { sync, saved, errors } = setup(comp, browser);
  assert.equal(await sync.sync(), false);
  assert.equal(saved(), null);
  assert.match(String(errors[0].message), /exceeded/);
});

test('regex rules the browser cannot compile are left out, the rest applied', async () => {
  const big = { id: 2, priority: 100, action: { type: 'block' }, condition: { regexFilter: 'a{1000}b{1000}' } };
  const comp = fakeCompanion('v1', [rule(1, ['a.net']), big, rule(3, ['c.net'])]);
  const browser = fakeBrowser();
  browser.isRegexSupported = async ({ regex }) => (regex.length > 10
    ? { isSupported: false, reason: 'memoryLimitExceeded' } : { isSupported: true });
  const { sync, saved } = setup(comp, browser);
  assert.equal(await sync.sync(), true);
  assert.deepEqual(browser.rules.map((r) => r.id), [1, 3]);
  assert.deepEqual(sync.skipped, [{ id: 2, reason: 'memoryLimitExceeded' }]);
  assert.deepEqual(saved().rules.map((r) => r.id), [1, 3]);
  assert.equal(await sync.sync(), false, 'then a 304: nothing to redo');
});

test('a rule the browser refuses is dropped and the update retried', async () => {
  const comp = fakeCompanion('v1', [rule(1, ['a.net']), rule(2, ['BAD']), rule(3, ['c.net'])]);
  const browser = fakeBrowser();
  const update = browser.updateDynamicRules;
  browser.updateDynamicRules = async (diff) => {
    const bad = diff.addRules.find((r) => r.condition.requestDomains.includes('BAD'));
    if (bad) throw new Error(`Rule with id ${bad.id} specifies an incorrect value for "requestDomains".`);
    return update(diff);
  };
  const { sync } = setup(comp, browser);
  assert.equal(await sync.sync(), true);
  assert.deepEqual(browser.rules.map((r) => r.id), [1, 3]);
  assert.equal(sync.skipped[0].id, 2);
});
