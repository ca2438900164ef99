import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reporter, eventFor, pageUrlOf, blockedByBrowser, MAX_BATCH, withAbout } from '../src/reporting.js';
import { BoundedQueue } from '../src/queue.js';
import { CompanionError } from '../src/companion.js';
import { hostOf } from '../src/domains.js';

test('hosts: lower case, no brackets, no trailing dot; non-network URLs have none', () => {
  assert.equal(hostOf('https://WWW.News.Example./x'), 'www.news.example');
  assert.equal(hostOf('http://[::1]:8080/'), '::1');
  assert.equal(hostOf('data:text/plain,hi'), null);
});

const page = 'http://news.example/article';
const req = (id, url, extra = {}) => ({ requestId: String(id), url, type: 'script', tabId: 4, frameId: 0,
  timeStamp: 1700000000000, initiator: 'http://news.example', ...extra });

test('which requests become events', () => {
  assert.deepEqual(eventFor(req(1, 'https://www.google-analytics.com/ga.js'), page),
    { url: 'https://www.google-analytics.com/ga.js', page_url: page, type: 'script', tab_id: 4,
      time: 1700000000000, browser_blocked: false, outcome: null });
  assert.equal(eventFor(req(1, 'http://news.example/logo.png'), page), null, 'first party');
  // Another host of the same site is still reported: the companion, not a guess, decides sites.
  assert.equal(eventFor(req(1, 'http://cdn.news.example/x.js'), page).url, 'http://cdn.news.example/x.js');
  const gob = 'https://a.gob.mx/';
  assert.equal(eventFor(req(1, 'https://b.gob.mx/t.js'), gob).url, 'https://b.gob.mx/t.js', 'gob.mx neighbours');
  const gh = 'https://alice.github.io/';
  assert.equal(eventFor(req(1, 'https://bob.github.io/t.js'), gh).url, 'https://bob.github.io/t.js', 'github.io neighbours');
  assert.equal(eventFor(req(1, 'http://other.example/', { type: 'main_frame' }), page), null, 'a page itself');
  assert.equal(eventFor(req(1, 'https://t.net/', { tabId: -1 }), page), null, 'not in a tab');
  assert.equal(eventFor(req(1, 'http://127.0.0.1:8737/api/v1/events'), page, { companionHost: '127.0.0.1' }), null);
  assert.equal(eventFor(req(1, 'data:image/png;base64,AA'), page), null);
});

test('page URL: the request\'s own top document where the browser names it (Firefox), else the tab\'s page', () => {
  assert.equal(pageUrlOf(req(1, 'x'), page), page);
  // A new page's early request, reported while the tab's page is still the one before.
  assert.equal(pageUrlOf({ documentUrl: 'https://next.example/' }, page), 'https://next.example/');
  assert.equal(pageUrlOf({ documentUrl: 'https://frame.example/', frameAncestors: [{ url: 'https://top.example/a' }] }, page),
    'https://top.example/a');
  assert.equal(pageUrlOf({ frameAncestors: [{ url: 'https://frame.example/' }, { url: 'https://top.example/a' }] }, null),
    'https://top.example/a');
  assert.equal(pageUrlOf({ documentUrl: 'https://top.example/b' }, null), 'https://top.example/b');
  assert.equal(pageUrlOf({ initiator: 'https://top.example' }, null), 'https://top.example/');
});

test('blocked-by-browser errors', () => {
  assert.ok(blockedByBrowser('net::ERR_BLOCKED_BY_CLIENT'));
  assert.ok(!blockedByBrowser('net::ERR_NAME_NOT_RESOLVED'));
  assert.ok(!blockedByBrowser(undefined));
});

/** A hand-driven clock and timers. */
function clock() {
  let now = 0;
  const timers = [];
  return {
    now: () => now,
    setTimer: (fn, ms) => { const t = { fn, at: now + ms }; timers.push(t); return t; },
    clearTimer: (t) => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); },
    async advance(ms) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now);
        if (!due.length) break;
        for (const t of due) { timers.splice(timers.indexOf(t), 1); await t.fn(); }
      }
      await new Promise((r) => setImmediate(r));
    },
  };
}

function fakeCompanion() {
  const c = { up: true, batches: [], status: null,
    async post(path, body) {
      if (!c.up) throw new CompanionError('unreachable', 'down');
      if (c.status) throw new CompanionError('http', 'bad', c.status);
      c.batches.push(body.events);
      return { status: 200, body: { results: body.events.map((e) => ({ ok: true, verdict: { url: e.url, tracker: true,
        domain: new URL(e.url).hostname, blocked: e.browser_blocked } })), rules_version: 'v1' } };
    } };
  return c;
}

function makeReporter(companion, clk, extra = {}) {
  const delivered = [];
  const persisted = [];
  const failures = [];
  const r = new Reporter({ client: companion, queue: new BoundedQueue(extra.max || 100),
    persist: (q) => persisted.push(JSON.parse(JSON.stringify(q))),
    pageOf: () => ({ pageUrl: page, nav: 1 }), onDelivered: (item, res) => delivered.push([item, res]),
    onFailure: (e) => failures.push(e.kind), setTimer: clk.setTimer, clearTimer: clk.clearTimer, now: clk.now,
    delayMs: 300, batchSize: 50, ...extra });
  return { r, delivered, persisted, failures };
}

test('a request is reported once it settles, with whether the browser blocked it', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const { r, delivered } = makeReporter(comp, clk);
  r.started(req(1, 'http://www.google-analytics.com/ga.js'));
  r.started(req(1, 'https://www.google-analytics.com/ga.js')); // HSTS upgrade: same request
  r.started(req(2, 'https://connect.facebook.net/sdk.js'));
  r.started(req(3, 'http://news.example/own.js'));
  r.failed({ requestId: '1', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  r.answered({ requestId: '2' });
  r.answered({ requestId: '3' });
  assert.equal(comp.batches.length, 0, 'waits for the batch delay');
  await clk.advance(300);
  assert.equal(comp.batches.length, 1);
  assert.deepEqual(comp.batches[0].map((e) => [e.url, e.browser_blocked, e.outcome]),
    [['http://www.google-analytics.com/ga.js', true, 'blocked'], ['https://connect.facebook.net/sdk.js', false, 'reached']]);
  assert.equal(delivered.length, 2);
  assert.equal(delivered[0][0].nav, 1);
});

test('while the companion is down, reports wait (bounded, counted) and arrive later in order', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  comp.up = false;
  const { r, persisted, failures } = makeReporter(comp, clk, { max: 5 });
  for (let i = 0; i < 3; i += 1) { r.started(req(i, `https://t${i}.net/p`)); r.answered({ requestId: String(i) }); }
  await clk.advance(300);
  assert.deepEqual(failures, ['unreachable']);
  assert.equal(r.queue.length, 3);
  assert.equal(persisted.at(-1).items.length, 3, 'the queue was saved to storage');
  for (let i = 3; i < 8; i += 1) { r.started(req(i, `https://t${i}.net/p`)); r.answered({ requestId: String(i) }); }
  await clk.advance(300); // still backing off: no new attempt yet
  assert.equal(failures.length, 1);
  assert.equal(r.queue.length, 5);
  assert.equal(r.queue.dropped, 3, 'the three oldest were dropped and counted');
  comp.up = true;
  await clk.advance(10_000); // the retry timer fires
  assert.equal(r.queue.length, 0);
  assert.deepEqual(comp.batches.flat().map((e) => e.url), [3, 4, 5, 6, 7].map((i) => `https://t${i}.net/p`));
  assert.equal(persisted.at(-1).items.length, 0);
});

test('retries back off, doubling', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  comp.up = false;
  const { r, failures } = makeReporter(comp, clk);
  r.started(req(1, 'https://t.net/p')); r.answered({ requestId: '1' });
  await clk.advance(300);
  await clk.advance(1000);
  await clk.advance(2000);
  await clk.advance(3999);
  assert.equal(failures.length, 3);
  await clk.advance(1);
  assert.equal(failures.length, 4);
});

test('a queue restored after the worker was stopped is delivered on retry', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const saved = { items: [{ event: { url: 'https://t.net/a', page_url: page, type: 'image', tab_id: 4 }, nav: 1 }],
    dropped: 2 };
  const { r } = makeReporter(comp, clk, { queue: BoundedQueue.fromJSON(saved, 100) });
  await r.retryNow();
  assert.deepEqual(comp.batches, [[saved.items[0].event]]);
  assert.equal(r.queue.dropped, 2);
});

test('large queues go out in batches of at most 1000', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const { r } = makeReporter(comp, clk, { max: 5000 });
  r.queue.push(...Array.from({ length: 2500 }, (_, i) => ({ event: { url: `https://t.net/${i}` }, nav: 1 })));
  await r.retryNow();
  assert.deepEqual(comp.batches.map((b) => b.length), [MAX_BATCH, MAX_BATCH, 500]);
});

test('a batch the companion refuses is dropped, not retried forever', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  comp.status = 400;
  const { r, failures } = makeReporter(comp, clk);
  r.queue.push({ event: { url: 'x' }, nav: 1 });
  await r.retryNow();
  assert.equal(r.queue.length, 0);
  assert.equal(r.queue.dropped, 1);
  assert.deepEqual(failures, ['http']);
});

test('reports the companion refuses this extension for are kept until it pairs again', async () => {
  // Firefox: an install the companion does not know gets 403 ('unauthorized') on every POST.
  const clk = clock();
  const comp = fakeCompanion();
  let refused = true;
  const post = comp.post;
  comp.post = async (path, body) => {
    if (refused) throw new CompanionError('unauthorized', 'the companion refused this extension', 403);
    return post(path, body);
  };
  const { r, failures, delivered } = makeReporter(comp, clk);
  r.started(req(1, 'https://www.google-analytics.com/ga.js'));
  r.failed({ requestId: '1', error: 'NS_ERROR_ABORT' });
  await clk.advance(300);
  assert.equal(r.queue.length, 1, 'kept, not dropped as a bad batch');
  assert.equal(r.queue.dropped, 0);
  assert.deepEqual(failures, ['unauthorized']);
  refused = false; // paired again with a code
  await r.retryNow();
  assert.equal(r.queue.length, 0);
  assert.equal(delivered.length, 1);
  assert.equal(comp.batches[0][0].browser_blocked, true);
});

test('nothing is recorded before pairing', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const { r } = makeReporter(comp, clk, { enabled: () => false });
  r.started(req(1, 'https://t.net/p')); r.answered({ requestId: '1' });
  await clk.advance(1000);
  assert.equal(r.queue.length, 0);
  assert.equal(comp.batches.length, 0);
});

test('requests that never settle are reported after a minute', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const { r } = makeReporter(comp, clk);
  r.started(req(1, 'wss://t.net/socket', { type: 'websocket' }));
  r.sweep();
  assert.equal(r.queue.length, 0);
  await clk.advance(61_000);
  r.sweep();
  await clk.advance(300);
  assert.equal(comp.batches.flat()[0].url, 'wss://t.net/socket');
});


test('the reporter asks for the short answer and hands on verdicts with their domain\'s facts put back', async () => {
  const clk = clock();
  const comp = fakeCompanion();
  const bodies = [];
  comp.post = async (path, body) => {
    bodies.push(body);
    return { status: 200, body: {
      results: body.events.map((e) => ({ ok: true, verdict: { host: new URL(e.url).hostname, domain: 'google-analytics.com',
        tracker: true, blocked: true } })),
      about: { 'google-analytics.com': { owner: 'Google', category_label: 'Analytics', description: 'Measures visits.' } },
      rules_version: 'v1' } };
  };
  const { r, delivered } = makeReporter(comp, clk);
  r.started(req(1, 'https://www.google-analytics.com/ga.js'));
  r.answered({ requestId: '1' });
  await clk.advance(300);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0].answer, 'short');
  const [, result] = delivered[0];
  assert.deepEqual(result.verdict, { host: 'www.google-analytics.com', domain: 'google-analytics.com', tracker: true,
    blocked: true, owner: 'Google', category_label: 'Analytics', description: 'Measures visits.' });
});

test('withAbout leaves a full answer (an older companion) and a domain without facts as they are', () => {
  const full = { ok: true, verdict: { domain: 'a.example', owner: 'A', description: 'x' } };
  assert.equal(withAbout(full, undefined), full);
  const bare = { ok: true, verdict: { domain: 'b.example', tracker: false } };
  assert.equal(withAbout(bare, { 'a.example': { owner: 'A' } }), bare);
  // a domain named like an Object property is looked up as a name, nothing else
  assert.equal(withAbout({ ok: true, verdict: { domain: 'constructor' } }, {}).verdict.owner, undefined);
  const got = withAbout({ ok: true, verdict: { domain: 'a.example' } }, { 'a.example': { owner: 'A' } });
  assert.deepEqual(got.verdict, { domain: 'a.example', owner: 'A', category_label: null, description: null });
});

test("a request's host is parsed once: the page's host comes from the tab, the request's goes to onSettled", () => {
  const clk = clock();
  const settled = [];
  // The tab's host is what counts for "same host": a page host that differs from the URL's proves it is read.
  const { r } = makeReporter(fakeCompanion(), clk, {
    pageOf: () => ({ pageUrl: page, pageHost: 'kept.example', nav: 3 }),
    onSettled: (item, host) => settled.push([item.event.url, item.nav, host]) });
  r.started(req(1, 'https://kept.example/a.js'));
  r.started(req(2, 'http://news.example/own.js')); // the URL's own host, yet not the tab's kept host
  r.started(req(3, 'https://CDN.Tracker.Example/t.js'));
  r.answered({ requestId: '1' });
  r.answered({ requestId: '2' });
  r.failed({ requestId: '3', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  assert.deepEqual(settled, [['http://news.example/own.js', 3, 'news.example'], ['https://CDN.Tracker.Example/t.js', 3, 'cdn.tracker.example']]);
  // Given hosts are used as they are; without them eventFor parses the URLs itself.
  assert.equal(eventFor(req(4, 'https://x.example/'), page, { host: 'x.example', pageHost: 'x.example' }), null);
  assert.equal(eventFor(req(4, 'https://x.example/'), page).url, 'https://x.example/');
});

test("a leaving document's beacon (Chromium: pending_deletion) is the page before's, and on no page's badge", () => {
  const clk = clock();
  const settled = [];
  let tab = { pageUrl: 'http://other.example/next', previousUrl: 'http://beacon.example/leave', pageHost: 'other.example',
    nav: 4, loadingAt: null };
  const { r } = makeReporter(fakeCompanion(), clk, { pageOf: () => tab, onSettled: (item) => settled.push(item) });
  const beacon = (id) => ({ ...req(id, 'https://stats.g.doubleclick.net/pixel.gif?bye=1'), type: 'ping',
    documentLifecycle: 'pending_deletion', initiator: 'http://beacon.example' });
  // Seen in Chromium: the beacon is reported after the new page's response started (the tab moved on).
  r.started(beacon(1));
  r.failed({ requestId: '1', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  assert.equal(settled[0].event.page_url, 'http://beacon.example/leave');
  assert.equal(settled[0].nav, -1, 'counted on no badge');
  // While the new page's response has not started yet, the tab's page is still the leaving one.
  tab = { pageUrl: 'http://beacon.example/leave', pageHost: 'beacon.example', nav: 3, loadingAt: 100 };
  r.started(beacon(2));
  r.failed({ requestId: '2', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  assert.equal(settled[1].event.page_url, 'http://beacon.example/leave');
  assert.equal(settled[1].nav, -1);
  // An active document's request is the tab's page's, as before; Firefox's named document marks the item exact.
  r.started({ ...req(3, 'https://cdn.tracker.example/a.js'), documentLifecycle: 'active' });
  r.started({ ...req(4, 'https://cdn.tracker.example/b.js'), documentUrl: 'http://beacon.example/leave' });
  r.answered({ requestId: '3' });
  r.answered({ requestId: '4' });
  assert.deepEqual(settled.slice(2).map((i) => [i.event.page_url, i.nav, Boolean(i.exact)]),
    [['http://beacon.example/leave', 3, false], ['http://beacon.example/leave', 3, true]]);
});

/** A companion whose every POST is kept, answered or not: the events as each attempt carried them. */
function attemptsCompanion() {
  const c = fakeCompanion();
  const post = c.post;
  c.attempts = [];
  c.post = async (path, body) => {
    c.attempts.push(JSON.parse(JSON.stringify(body.events)));
    return post(path, body);
  };
  return c;
}
const numbers = (events) => events.map((e) => [e.stream, e.seq]);

test('each Reporter numbers its reports in queue order, under one stream of its own', async () => {
  const clk = clock();
  const comp = attemptsCompanion();
  const { r } = makeReporter(comp, clk);
  assert.match(r.stream, /^[0-9a-f]{16,64}$/);
  for (let i = 1; i <= 4; i += 1) r.started(req(i, `https://t${i}.net/p`));
  // settled (enqueued) in another order than they started: the order they are delivered in
  for (const i of [3, 1, 4, 2]) r.answered({ requestId: String(i) });
  await clk.advance(300);
  r.started(req(5, 'https://t5.net/p'));
  r.answered({ requestId: '5' });
  await clk.advance(300);
  const sent = comp.batches.flat();
  assert.deepEqual(sent.map((e) => e.url), [3, 1, 4, 2, 5].map((i) => `https://t${i}.net/p`));
  assert.ok(sent.every((e) => e.stream === r.stream));
  const seqs = sent.map((e) => e.seq);
  assert.ok(seqs.every((s, i) => Number.isInteger(s) && s >= 0 && (i === 0 || s > seqs[i - 1])), String(seqs));
  const other = makeReporter(comp, clk).r;
  assert.notEqual(other.stream, r.stream, 'each worker start is a stream of its own');
});

test('a batch sent again after a failed POST carries the same stream and seq', async () => {
  const clk = clock();
  const comp = attemptsCompanion();
  let lose = 1; // the companion records the batch, then its answer is lost (killed, or the 5 s timeout)
  const post = comp.post;
  comp.post = async (path, body) => {
    const answer = await post(path, body);
    if (lose-- > 0) throw new CompanionError('unreachable', 'connection reset');
    return answer;
  };
  const { r, delivered } = makeReporter(comp, clk);
  for (let i = 1; i <= 3; i += 1) { r.started(req(i, `https://t${i}.net/p`)); r.answered({ requestId: String(i) }); }
  await clk.advance(300);
  assert.equal(r.queue.length, 3, 'kept: no answer came');
  r.started(req(4, 'https://t4.net/p')); r.answered({ requestId: '4' });
  await clk.advance(1000); // the retry
  assert.equal(comp.attempts.length, 2);
  assert.deepEqual(numbers(comp.attempts[1]).slice(0, 3), numbers(comp.attempts[0]));
  assert.equal(comp.attempts[1][3].seq, comp.attempts[0][2].seq + 1);
  assert.equal(r.queue.length, 0);
  assert.equal(delivered.length, 4);
});

test('a Reporter on a restored queue sends its items under their own stream and seq, and new ones under its own', async () => {
  const clk = clock();
  const comp = attemptsCompanion();
  comp.up = false;
  const before = makeReporter(comp, clk); // the worker that was stopped (or the browser that quit)
  for (let i = 1; i <= 3; i += 1) { before.r.started(req(i, `https://old${i}.net/p`)); before.r.answered({ requestId: String(i) }); }
  await clk.advance(300);
  const saved = before.persisted.at(-1);
  assert.equal(saved.items.length, 3);
  const oldNumbers = saved.items.map((i) => [i.event.stream, i.event.seq]);
  comp.up = true;
  const { r } = makeReporter(comp, clock(), { queue: BoundedQueue.fromJSON(JSON.parse(JSON.stringify(saved)), 100) });
  assert.notEqual(r.stream, before.r.stream);
  r.started(req(9, 'https://new.net/p')); r.answered({ requestId: '9' });
  await r.retryNow();
  const sent = comp.batches.flat();
  assert.deepEqual(sent.map((e) => e.url), ['https://old1.net/p', 'https://old2.net/p', 'https://old3.net/p', 'https://new.net/p']);
  assert.deepEqual(numbers(sent.slice(0, 3)), oldNumbers);
  assert.ok(oldNumbers.every(([stream]) => stream === before.r.stream));
  assert.equal(sent[3].stream, r.stream);
  assert.ok(Number.isInteger(sent[3].seq));
});
