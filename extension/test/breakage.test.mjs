import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedTrackers } from '../popup/breakage.js';

test('only blocked tracker domains go into a breakage report, sorted and without the site itself', () => {
  const summary = { trackers: [
    { domain: 'doubleclick.net', blocked: true }, { domain: 'google-analytics.com', blocked: true },
    { domain: 'widgets.test', blocked: false }, { domain: 'news.example', blocked: true },
    { domain: 'doubleclick.net', blocked: true }, { domain: '', blocked: true }, null, { blocked: true },
  ] };
  assert.deepEqual(blockedTrackers(summary, 'news.example'), ['doubleclick.net', 'google-analytics.com']);
  assert.deepEqual(blockedTrackers(null), []);
  assert.deepEqual(blockedTrackers({}), []);
  const many = { trackers: Array.from({ length: 300 }, (_, i) => ({ domain: `t${String(i).padStart(3, '0')}.net`, blocked: true })) };
  assert.equal(blockedTrackers(many).length, 200);
});
