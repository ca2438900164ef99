/**
 * Stand-ins outside the scripts themselves: a redirect to an extension resource is reported as blocked
 * (the tracker never saw the request), observe() listens for redirects, and the popup says "replaced".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reporter, observe, replacedByStandIn } from '../src/reporting.js';
import { BoundedQueue } from '../src/queue.js';
import { stateLabel } from '../popup/view.js';

const page = 'http://news.example/article';
const req = (id, url) => ({ requestId: String(id), url, type: 'script', tabId: 4, frameId: 0, timeStamp: 1700000000000,
  initiator: 'http://news.example' });

test('which redirect targets are stand-ins', () => {
  assert.ok(replacedByStandIn('chrome-extension://abc/surrogates/google-analytics.js'));
  assert.ok(replacedByStandIn('moz-extension://0d1c-uuid/surrogates/google-tag.js'));
  assert.ok(!replacedByStandIn('https://www.google-analytics.com/analytics.js'));
  assert.ok(!replacedByStandIn(undefined));
});

test('a script answered by a stand-in is reported as blocked at once; other redirects wait for the answer', () => {
  const queued = [];
  const r = new Reporter({ client: { post: async () => ({ body: {} }) }, queue: new BoundedQueue(10),
    pageOf: () => ({ pageUrl: page, nav: 1 }), setTimer: () => 0, clearTimer: () => {} });
  r.enqueue = (items) => queued.push(...items);
  r.started(req(1, 'https://www.google-analytics.com/analytics.js'));
  r.started(req(2, 'http://www.googletagmanager.com/gtm.js'));
  r.redirected({ requestId: '1', redirectUrl: 'chrome-extension://abc/surrogates/google-analytics.js' });
  r.redirected({ requestId: '2', redirectUrl: 'https://www.googletagmanager.com/gtm.js', statusCode: 307,
    statusLine: 'HTTP/1.1 307 Internal Redirect' }); // Chromium's HTTPS upgrade: the same request goes on
  assert.deepEqual(queued.map((i) => [i.event.url, i.event.browser_blocked]),
    [['https://www.google-analytics.com/analytics.js', true]]);
  r.answered({ requestId: '2' });
  assert.equal(queued.length, 2);
  assert.equal(queued[1].event.browser_blocked, false);
});

test('observe() listens for redirects too', () => {
  const seen = [];
  const event = (name) => ({ addListener: (fn) => seen.push([name, fn]) });
  const api = { onBeforeRequest: event('before'), onResponseStarted: event('response'),
    onErrorOccurred: event('error'), onBeforeRedirect: event('redirect') };
  const calls = [];
  observe(api, { started: () => {}, answered: () => {}, failed: () => {}, redirected: (d) => calls.push(d.requestId) });
  seen.find(([n]) => n === 'redirect')[1]({ requestId: '9' });
  assert.deepEqual(calls, ['9']);
});

test('the popup says a blocked tracker\'s scripts are replaced with a stand-in, and which', () => {
  const tp = { domain: 'google-analytics.com', tracker: true, blocked_now: true, decided_by: 'list-default',
    stand_ins: ['Google Analytics (analytics.js)'] };
  const label = stateLabel(tp);
  assert.equal(label.text, "Blocked (Crumbs' default) · replaced with a stand-in");
  assert.equal(label.tone, 'blocked');
  assert.equal(label.standIns, 'Google Analytics (analytics.js)');
  // Allowed (the real script loads): no stand-in to speak of.
  assert.equal(stateLabel({ ...tp, blocked_now: false, decided_by: 'site-trust' }).text, 'Allowed: you trust this site');
  assert.equal(stateLabel({ ...tp, stand_ins: [] }).text, "Blocked (Crumbs' default)");
});
