import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { GPC_RULESET, GPC_SCRIPT_ID, applyGpc, gpcEnabled, gpcScript, startGpc } from '../src/gpc.js';

function fakeBrowser({ rulesets = [GPC_RULESET], scripts = [] } = {}) {
  const b = {
    rulesets: [...rulesets], scripts: [...scripts], calls: [],
    dnr: {
      async getEnabledRulesets() { return [...b.rulesets]; },
      async updateEnabledRulesets({ enableRulesetIds = [], disableRulesetIds = [] }) {
        b.calls.push(['rulesets', enableRulesetIds, disableRulesetIds]);
        b.rulesets = b.rulesets.filter((r) => !disableRulesetIds.includes(r)).concat(enableRulesetIds);
      },
    },
    scripting: {
      async getRegisteredContentScripts({ ids }) { return b.scripts.filter((s) => ids.includes(s.id)); },
      async registerContentScripts(list) {
        b.calls.push(['register', list.map((s) => s.id)]);
        for (const s of list) {
          if (b.scripts.some((x) => x.id === s.id)) throw new Error(`Duplicate script ID '${s.id}'`);
          b.scripts.push(s);
        }
      },
      async unregisterContentScripts({ ids }) {
        b.calls.push(['unregister', ids]);
        b.scripts = b.scripts.filter((s) => !ids.includes(s.id));
      },
    },
  };
  return b;
}

test('on by default: only an explicit false turns it off', () => {
  assert.equal(gpcEnabled({}), true);
  assert.equal(gpcEnabled(undefined), true);
  assert.equal(gpcEnabled({ gpc: true }), true);
  assert.equal(gpcEnabled({ gpc: 'false' }), true);
  assert.equal(gpcEnabled({ gpc: false }), false);
});

test('the page script is registered in the MAIN world at document_start in every frame', () => {
  const s = gpcScript();
  assert.equal(s.id, GPC_SCRIPT_ID);
  assert.equal(s.world, 'MAIN');
  assert.equal(s.runAt, 'document_start');
  assert.equal(s.allFrames, true);
  assert.deepEqual(s.matches, ['<all_urls>']);
});

test('turning on enables the header ruleset and registers the script; again changes nothing', async () => {
  const b = fakeBrowser({ rulesets: [] });
  assert.deepEqual(await applyGpc(b, true), { header: 'on', script: 'on' });
  assert.deepEqual(b.rulesets, [GPC_RULESET]);
  assert.deepEqual(b.scripts.map((s) => s.id), [GPC_SCRIPT_ID]);
  b.calls.length = 0;
  assert.deepEqual(await applyGpc(b, true), { header: 'kept', script: 'kept' });
  assert.deepEqual(b.calls, []);
});

test('turning off disables both, and back on restores both', async () => {
  const b = fakeBrowser({ scripts: [gpcScript()] });
  assert.deepEqual(await applyGpc(b, false), { header: 'off', script: 'off' });
  assert.deepEqual(b.rulesets, []);
  assert.deepEqual(b.scripts, []);
  assert.deepEqual(await applyGpc(b, true), { header: 'on', script: 'on' });
});

test('startGpc applies the stored setting and follows its changes one at a time', async () => {
  const b = fakeBrowser({ rulesets: [GPC_RULESET] });
  let stored = { gpc: false };
  const listeners = [];
  const chromeFake = {
    declarativeNetRequest: b.dnr, scripting: b.scripting,
    storage: { local: { async get() { return { ...stored }; } }, onChanged: { addListener: (fn) => listeners.push(fn) } },
  };
  const errors = [];
  const gpc = startGpc({ chrome: chromeFake, onError: (e) => errors.push(e) });
  await gpc.ready;
  assert.deepEqual(b.rulesets, []);
  stored = { gpc: true };
  listeners.forEach((fn) => fn({ gpc: { newValue: true } }, 'local'));
  listeners.forEach((fn) => fn({ other: {} }, 'local')); // unrelated keys do nothing
  listeners.forEach((fn) => fn({ gpc: { newValue: true } }, 'sync')); // nor other areas
  await gpc.sync();
  assert.deepEqual(b.rulesets, [GPC_RULESET]);
  assert.equal(b.scripts.length, 1); // two syncs in a row never register twice
  assert.deepEqual(errors, []);
});

test('the header ruleset sets Sec-GPC: 1 on every request type above every allow rule', () => {
  const [rule] = JSON.parse(readFileSync(new URL('../rules/gpc.json', import.meta.url), 'utf8'));
  assert.deepEqual(rule.action.requestHeaders, [{ header: 'Sec-GPC', operation: 'set', value: '1' }]);
  assert.ok(rule.priority > 450); // above trust (300) and click-to-load's allow rules (450)
  assert.ok(rule.condition.resourceTypes.includes('main_frame') && rule.condition.resourceTypes.includes('sub_frame'));
  const manifest = JSON.parse(readFileSync(new URL('../manifest.json', import.meta.url), 'utf8'));
  assert.deepEqual(manifest.declarative_net_request.rule_resources,
    [{ id: GPC_RULESET, enabled: true, path: 'rules/gpc.json' }]);
});

test('the page script makes navigator.globalPrivacyControl read true, as a native-looking getter', () => {
  class Navigator {}
  Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get() { return false; }, configurable: true, enumerable: true });
  const navigator = new Navigator();
  const context = vm.createContext({ Navigator, navigator });
  vm.runInContext(readFileSync(new URL('../content/gpc-main.js', import.meta.url), 'utf8'), context);
  assert.equal(navigator.globalPrivacyControl, true);
  const desc = Object.getOwnPropertyDescriptor(Navigator.prototype, 'globalPrivacyControl');
  assert.equal(desc.set, undefined);
  assert.equal(Object.keys(context).includes('crumbs'), false); // leaves nothing behind in the page
});
