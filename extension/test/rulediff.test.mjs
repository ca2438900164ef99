import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffRules, canonical } from '../src/rulediff.js';

const rule = (id, domains, type = 'block', priority = 100) => ({ id, priority, action: { type },
  condition: { requestDomains: domains } });

test('no change, no call', () => {
  const rules = [rule(1, ['a.net']), rule(2, ['b.net'])];
  assert.deepEqual(diffRules(rules, structuredClone(rules)), { removeRuleIds: [], addRules: [] });
});

test('key order does not matter', () => {
  const a = { id: 1, priority: 1, action: { type: 'block' }, condition: { urlFilter: 'x', domainType: 'thirdParty' } };
  const b = { condition: { domainType: 'thirdParty', urlFilter: 'x' }, action: { type: 'block' }, priority: 1, id: 1 };
  assert.equal(canonical(a), canonical(b));
  assert.deepEqual(diffRules([a], [b]), { removeRuleIds: [], addRules: [] });
});

test('changed, added and removed rules', () => {
  const current = [rule(1, ['a.net']), rule(2, ['b.net']), rule(3, ['c.net'])];
  const wanted = [rule(1, ['a.net']), rule(2, ['b.net', 'x.net']), rule(4, ['d.net'], 'allow', 200)];
  const d = diffRules(current, wanted);
  assert.deepEqual(d.removeRuleIds, [2, 3]);
  assert.deepEqual(d.addRules.map((r) => r.id), [2, 4]);
  assert.deepEqual(d.addRules[0].condition.requestDomains, ['b.net', 'x.net']);
});

test('from nothing, and to nothing', () => {
  const rules = [rule(1, ['a.net'])];
  assert.deepEqual(diffRules([], rules), { removeRuleIds: [], addRules: rules });
  assert.deepEqual(diffRules(rules, []), { removeRuleIds: [1], addRules: [] });
});

test('duplicate ids are refused', () => {
  assert.throws(() => diffRules([], [rule(1, ['a']), rule(1, ['b'])]), /duplicate/);
});
