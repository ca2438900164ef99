import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedTrackers } from '../popup/breakage.js';

test('only blocked tracker domains go into a breakage report, sorted and without the site itself', () => {
  const summary = { domains: [
    { domain: 'doubleclick.net', tracker: true, blocked: 2 }, { domain: 'google-analytics.com', tracker: true, blocked: 1, reached: 1 },
    { domain: 'widgets.test', tracker: true, blocked: 0, reached: 3 }, { domain: 'news.example', tracker: true, blocked: 1 },
    { domain: 'cdn.example', tracker: false, blocked: 1 }, { domain: 'doubleclick.net', tracker: true, blocked: 1 },
    { domain: '', tracker: true, blocked: 1 }, null, { tracker: true, blocked: 1 },
  ] };
  assert.deepEqual(blockedTrackers(summary, 'news.example'), ['doubleclick.net', 'google-analytics.com']);
  assert.deepEqual(blockedTrackers(null), []);
  assert.deepEqual(blockedTrackers({}), []);
  const many = { domains: Array.from({ length: 300 }, (_, i) => ({ domain: `t${String(i).padStart(3, '0')}.net`, tracker: true, blocked: 1 })) };
  assert.equal(blockedTrackers(many).length, 200);
});
