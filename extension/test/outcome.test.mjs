import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outcomeOfError, outcomeOfRedirect, outcomeOfResponse, REPORTED } from '../src/outcome.js';
import { Reporter } from '../src/reporting.js';
import { BoundedQueue } from '../src/queue.js';

test('every webRequest ending has one outcome', () => {
  assert.equal(outcomeOfResponse({ fromCache: false, statusCode: 200 }), 'reached');
  assert.equal(outcomeOfResponse({ fromCache: true, statusCode: 200 }), 'cache');
  assert.equal(outcomeOfError({ error: 'net::ERR_BLOCKED_BY_CLIENT' }), 'blocked');
  assert.equal(outcomeOfError({ error: 'NS_ERROR_ABORT' }), 'blocked'); // Firefox, a DNR block
  assert.equal(outcomeOfError({ error: 'net::ERR_CACHE_MISS' }), null); // retried under a new id: no request
  assert.equal(outcomeOfError({ error: 'net::ERR_NAME_NOT_RESOLVED' }), 'failed');
  assert.equal(outcomeOfError({ error: 'net::ERR_CONNECTION_REFUSED' }), 'failed');
  assert.equal(outcomeOfError({ error: 'net::ERR_ABORTED' }), 'failed');
  assert.equal(outcomeOfError({ error: 'NS_ERROR_UNKNOWN_HOST' }), 'failed');
  // Redirects: a server's answer, the browser's own upgrade, a rule's local replacement.
  assert.equal(outcomeOfRedirect({ statusCode: 302, statusLine: 'HTTP/1.1 302 Found', ip: '1.2.3.4',
    redirectUrl: 'https://b.net/x' }), 'reached');
  assert.equal(outcomeOfRedirect({ statusCode: 307, statusLine: 'HTTP/1.1 307 Internal Redirect',
    redirectUrl: 'https://a.net/x' }), null);
  assert.equal(outcomeOfRedirect({ statusCode: 307, statusLine: 'HTTP/1.1 307 Temporary Redirect',
    redirectUrl: 'https://a.net/x' }), null, 'no server address: the browser made it');
  assert.equal(outcomeOfRedirect({ statusCode: 307, statusLine: 'HTTP/1.1 307 Internal Redirect',
    redirectUrl: 'chrome-extension://abc/surrogates/ga.js' }), 'blocked');
  assert.equal(outcomeOfRedirect({ statusCode: 301, statusLine: 'HTTP/1.1 301', ip: '1.2.3.4', fromCache: true,
    redirectUrl: 'https://b.net/' }), 'cache');
  assert.deepEqual([...REPORTED].sort(), ['blocked', 'reached']);
});

const page = 'http://news.example/article';
const req = (id, url, extra = {}) => ({ requestId: String(id), url, type: 'font', tabId: 4, frameId: 0,
  timeStamp: 1700000000000, initiator: 'http://news.example', ...extra });

function harness() {
  const settled = [];
  const batches = [];
  const r = new Reporter({
    client: { post: async (path, body) => { batches.push(body.events); return { status: 200, body: { results: [] } }; } },
    queue: new BoundedQueue(100), pageOf: () => ({ pageUrl: page, nav: 1 }),
    onSettled: (item) => settled.push([item.event.url, item.event.outcome, item.rid]),
    setTimer: () => 0, clearTimer: () => {}, delayMs: 10_000,
  });
  return { r, settled, batches };
}

test("a font's cache-only attempt (ERR_CACHE_MISS) and its retry under a new id count once", async () => {
  const { r, settled } = harness();
  const font = 'https://fonts.cdn.test/f.woff2';
  r.started(req(11, font));
  r.failed({ requestId: '11', error: 'net::ERR_CACHE_MISS' });
  r.started(req(12, font));
  r.answered({ requestId: '12', fromCache: false, statusCode: 200 });
  assert.deepEqual(settled.map((s) => s.slice(0, 2)), [[font, 'reached']]);
  assert.equal(r.queue.length, 1);
  await r.retryNow();
});

test('served from the cache, or failed: kept for the page, not reported as reaching anyone', () => {
  const { r, settled } = harness();
  r.started(req(1, 'https://fonts.cdn.test/a.woff2'));
  r.answered({ requestId: '1', fromCache: true });
  r.started(req(2, 'https://gone.test/x.js'));
  r.failed({ requestId: '2', error: 'net::ERR_NAME_NOT_RESOLVED' });
  r.started(req(3, 'https://t.net/p.gif'));
  r.failed({ requestId: '3', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  assert.deepEqual(settled.map((s) => s[1]), ['cache', 'failed', 'blocked']);
  assert.deepEqual(r.queue.items.map((i) => [i.event.url, i.event.outcome, i.event.browser_blocked]),
    [['https://t.net/p.gif', 'blocked', true]]);
});

test("a server's redirect: the first hop reached its server, the target is a request of its own", () => {
  const { r, settled } = harness();
  r.started(req(5, 'https://t.net/r'));
  r.redirected({ requestId: '5', statusCode: 302, statusLine: 'HTTP/1.1 302 Found', ip: '10.0.0.1',
    redirectUrl: 'https://sync.other.net/p' });
  r.started(req(5, 'https://sync.other.net/p')); // same browser id, new hop
  r.failed({ requestId: '5', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  assert.deepEqual(settled.map((s) => s.slice(0, 2)), [['https://t.net/r', 'reached'], ['https://sync.other.net/p', 'blocked']]);
  assert.notEqual(settled[0][2], settled[1][2], 'each hop has its own id for its verdict');
});

test('an internal upgrade is the same request; a surrogate from the rules counts as blocked', () => {
  const { r, settled } = harness();
  r.started(req(6, 'http://www.google-analytics.com/analytics.js'));
  r.redirected({ requestId: '6', statusCode: 307, statusLine: 'HTTP/1.1 307 Internal Redirect',
    redirectUrl: 'https://www.google-analytics.com/analytics.js' });
  r.started(req(6, 'https://www.google-analytics.com/analytics.js'));
  r.redirected({ requestId: '6', statusCode: 307, statusLine: 'HTTP/1.1 307 Internal Redirect',
    redirectUrl: 'chrome-extension://hlbmomjbhephkapmgjmeejjpmabhgdoo/surrogates/ga.js' });
  assert.deepEqual(settled.map((s) => s.slice(0, 2)), [['http://www.google-analytics.com/analytics.js', 'blocked']]);
  assert.equal(r.pending.size, 0);
});
