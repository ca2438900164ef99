import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TabStates, badgeView, domainsOf, pageCounts, COLOURS, OFF_REASONS, AWAY_REASONS } from '../src/badgestate.js';

const v = (domain, extra = {}) => ({ tracker: true, domain, host: `www.${domain}`, page_domain: 'news.example',
  decided_by: 'list-default', blocked: true, ...extra });

/** A page in tab `tab` with requests [url, outcome, verdict|null]. */
function pageWith(tab, requests, s = new TabStates()) {
  const nav = s.navigate(tab, 'http://news.example/a');
  requests.forEach(([url, outcome, verdict], i) => {
    s.addRequest(tab, nav, { rid: `r${i}`, url, outcome });
    if (verdict) s.addVerdict(tab, nav, `r${i}`, verdict);
  });
  return { s, nav };
}

test('counts distinct tracker domains on the current page; green when every request was blocked', () => {
  const { s } = pageWith(7, [
    ['https://stats.doubleclick.net/p', 'blocked', v('doubleclick.net')],
    ['https://ad.doubleclick.net/q', 'blocked', v('doubleclick.net')],
    ['https://connect.facebook.net/x.js', 'blocked', v('facebook.net')],
    ['https://cdn.example/lib.js', 'reached', v('cdn.example', { tracker: false, decided_by: 'not-a-tracker', blocked: false })],
  ]);
  const view = badgeView(s.get(7), 'ok');
  assert.equal(view.text, '2');
  assert.equal(view.color, COLOURS.blocked);
  assert.match(view.title, /2 trackers on this page: all blocked, none of their requests got through \(3 requests blocked\)/);
  assert.equal(s.summary(7).pageDomain, 'news.example');
});

test('a tracker domain with one blocked and one unlisted request that got through is partly blocked, and the badge is not green', () => {
  // The mrf.io case: the lists name one path, another path of the same company reaches its server.
  const { s } = pageWith(1, [
    ['https://www.google.com/pagead/1p-user-list/1', 'blocked', v('google.com', { filter: '||google.com/pagead/' })],
    ['https://www.google.com/recaptcha/api.js?k=1', 'reached',
      v('google.com', { tracker: false, decided_by: 'not-a-tracker', blocked: false, filter: null })],
  ]);
  const [google] = s.summary(1).domains;
  assert.equal(google.domain, 'google.com');
  assert.equal(google.tracker, true);
  assert.deepEqual([google.requests, google.blocked, google.reached], [2, 1, 1]);
  assert.deepEqual(google.through, [{ host: 'www.google.com', path: '/recaptcha/api.js',
    why: { decided_by: 'not-a-tracker', filter: null, exception: false, list: null, would_block: false } }]);
  const view = badgeView(s.get(1), 'ok');
  assert.equal(view.text, '1');
  assert.equal(view.color, COLOURS.reached);
  assert.match(view.title, /1 tracker on this page: 1 request got through, 1 blocked/);
});

test('the tooltip says how many requests got through, and to how many trackers', () => {
  const { s } = pageWith(2, [
    ['https://a.net/1', 'reached', v('a.net', { blocked: false, decided_by: 'site-trust' })],
    ['https://a.net/2', 'reached', v('a.net', { blocked: false, decided_by: 'site-trust' })],
    ['https://b.net/1', 'blocked', v('b.net')],
  ]);
  assert.deepEqual(pageCounts(s.get(2)), { trackers: 2, blocked: 1, reached: 2, reachedDomains: 1 });
  assert.match(badgeView(s.get(2), 'ok').title, /2 trackers on this page: 2 requests got through \(to 1 of them\), 1 blocked/);
});

test('what never left the browser is not counted as reaching anyone', () => {
  const { s } = pageWith(3, [
    ['https://a.net/font.woff2', 'cache', v('a.net')],
    ['https://a.net/gone', 'failed', v('a.net')],
    ['https://a.net/pixel', 'blocked', v('a.net')],
  ]);
  const [a] = s.summary(3).domains;
  assert.deepEqual([a.requests, a.reached, a.blocked, a.cache, a.failed], [1, 0, 1, 1, 1]);
  assert.equal(badgeView(s.get(3), 'ok').color, COLOURS.blocked);
});

test('before the companion answers: earlier answers about the host, else a blocked host counts as a tracker', () => {
  const s = new TabStates();
  const nav = s.navigate(4, 'http://news.example/');
  s.addRequest(4, nav, { rid: 'x', url: 'https://px.tracker.test/p', outcome: 'blocked' });
  s.addRequest(4, nav, { rid: 'y', url: 'https://cdn.widgets.test/w.js', outcome: 'reached' });
  s.addRequest(4, nav, { rid: 'z', url: 'https://www.google-analytics.com/a.js', outcome: 'reached' },
    { domain: 'google-analytics.com', tracker: true, owner: 'Google' });
  const d = Object.fromEntries(s.summary(4).domains.map((e) => [e.domain, e]));
  assert.equal(d['px.tracker.test'].tracker, true);
  assert.equal(d['px.tracker.test'].named, false, 'a bare host, not a domain the companion named');
  assert.equal(d['cdn.widgets.test'].tracker, false);
  assert.equal(d['google-analytics.com'].owner, 'Google');
  assert.equal(d['google-analytics.com'].named, true);
  assert.equal(badgeView(s.get(4), 'unreachable').text, '2');
  assert.equal(badgeView(s.get(4), 'unreachable').color, COLOURS.reached);
});

test('navigation resets the page, and late answers for the old page are ignored', () => {
  const s = new TabStates();
  const old = s.navigate(3, 'http://news.example/1');
  s.addRequest(3, old, { rid: 'a', url: 'https://a.net/', outcome: 'blocked' });
  const now = s.navigate(3, 'http://other.example/');
  assert.equal(badgeView(s.get(3), 'ok').text, '');
  assert.equal(s.addRequest(3, old, { rid: 'b', url: 'https://b.net/', outcome: 'blocked' }), false);
  assert.equal(s.addVerdict(3, old, 'a', v('a.net')), false);
  assert.equal(badgeView(s.get(3), 'ok').text, '');
  s.addRequest(3, now, { rid: 'c', url: 'https://c.net/', outcome: 'reached' });
  s.addVerdict(3, now, 'c', v('c.net', { blocked: false }));
  assert.equal(badgeView(s.get(3), 'ok').text, '1');
});

test('off only when unpaired or refused; a companion that is away keeps the count and says blocking continues', () => {
  const { s } = pageWith(1, [['https://a.net/', 'blocked', v('a.net')]]);
  for (const status of ['unpaired', 'unauthorized']) {
    const view = badgeView(s.get(1), status);
    assert.equal(view.text, 'off');
    assert.equal(view.color, COLOURS.off);
    assert.equal(view.title, OFF_REASONS[status]);
    assert.match(view.title, /choose 'Pair now'/);
  }
  for (const status of ['unreachable', 'impostor']) {
    const view = badgeView(s.get(1), status);
    assert.equal(view.text, '1');
    assert.equal(view.color, COLOURS.blocked);
    assert.ok(view.title.endsWith(AWAY_REASONS[status]));
    assert.match(view.title, /blocking continues with the last rules/);
    assert.match(view.title, /history will catch up/);
    assert.doesNotMatch(view.title, /\boff\b/);
  }
});

test('a busy page stays bounded and keeps its counts', () => {
  const s = new TabStates();
  const nav = s.navigate(9, 'http://news.example/');
  for (let i = 0; i < 4000; i += 1) {
    s.addRequest(9, nav, { rid: String(i), url: `https://ads.net/${i}`, outcome: i % 2 ? 'reached' : 'blocked' });
    s.addVerdict(9, nav, String(i), v('ads.net'));
  }
  assert.ok(s.get(9).requests.length <= 1500);
  const [ads] = s.summary(9).domains;
  assert.deepEqual([ads.requests, ads.reached, ads.blocked], [4000, 2000, 2000]);
  assert.equal(badgeView(s.get(9), 'ok').text, '1');
});

test('tab states survive a JSON round trip (chrome.storage.session)', () => {
  const { s, nav } = pageWith(5, [['https://a.net/', 'blocked', v('a.net')]]);
  const back = TabStates.fromJSON(JSON.parse(JSON.stringify(s)));
  assert.equal(badgeView(back.get(5), 'ok').text, '1');
  assert.equal(back.addRequest(5, nav, { rid: 'n', url: 'https://b.net/', outcome: 'reached' }), true);
  back.addVerdict(5, nav, 'n', v('b.net', { blocked: false }));
  assert.equal(badgeView(back.get(5), 'ok').text, '2');
  assert.equal(domainsOf(back.get(5)).length, 2);
});

test("another host of the page's own site is reported but not kept: the companion's verdict, or its earlier answer, says first-party", () => {
  const s = new TabStates();
  const nav = s.navigate(11, 'https://www.news.example/a');
  // No answer yet about cdn.news.example: kept while it waits (the extension makes no guess about sites).
  s.addRequest(11, nav, { rid: 'a', url: 'https://cdn.news.example/app.js', outcome: 'reached' });
  s.addRequest(11, nav, { rid: 'b', url: 'https://px.tracker.test/p', outcome: 'blocked' });
  assert.deepEqual(s.summary(11).domains.map((d) => d.domain).sort(), ['cdn.news.example', 'px.tracker.test']);
  assert.equal(s.addVerdict(11, nav, 'a', { domain: 'news.example', host: 'cdn.news.example', page_domain: 'news.example',
    third_party: false, tracker: false, decided_by: 'not-a-tracker', blocked: false }), true);
  assert.deepEqual(s.summary(11).domains.map((d) => d.domain), ['px.tracker.test']);
  // Later requests to a host the companion placed on this site are not kept at all ...
  assert.equal(s.addRequest(11, nav, { rid: 'c', url: 'https://img.news.example/x.png', outcome: 'reached' },
    { domain: 'news.example', tracker: false }), false);
  // ... nor on a fresh page of that host, from the companion's last answer for the host (companion away).
  const nav2 = s.navigate(11, 'https://www.news.example/b');
  assert.equal(s.addRequest(11, nav2, { rid: 'd', url: 'https://img.news.example/x.png', outcome: 'reached' },
    { domain: 'news.example', tracker: false }, 'news.example'), false);
  assert.equal(s.addRequest(11, nav2, { rid: 'e', url: 'https://cdn.other.example/x.js', outcome: 'reached' },
    { domain: 'other.example', tracker: false }, 'news.example'), true);
  assert.deepEqual(s.summary(11).domains.map((d) => d.domain), ['other.example']);
});

test("the page's host is kept once per page (the reporter reads it for every request), and after a JSON round trip", () => {
  const s = new TabStates();
  s.navigate(7, 'https://WWW.Shop.Example./cart');
  assert.equal(s.get(7).pageHost, 'www.shop.example');
  s.navigate(7, 'https://other.example/');
  assert.equal(s.get(7).pageHost, 'other.example', 'a new page, a new host');
  const saved = JSON.parse(JSON.stringify(s));
  delete saved[0][1].pageHost; // a record saved before the host was kept
  assert.equal(TabStates.fromJSON(saved).get(7).pageHost, 'other.example');
  assert.equal(new TabStates().get(8).pageHost, null, 'no page yet');
});

test('a new page\'s requests reported before the browser said its response started are its own (Firefox under load)', () => {
  const s = new TabStates();
  const old = s.navigate(7, 'http://news.example/');
  s.addRequest(7, old, { rid: 'before', url: 'https://old.net/x', outcome: 'blocked', at: 100 }); // the old page's
  s.loading(7, 200); // the next page's own request starts ...
  s.addRequest(7, old, { rid: 'g', url: 'https://www.google-analytics.com/a.js', outcome: 'blocked', at: 210 });
  s.addVerdict(7, old, 'g', v('google-analytics.com'));
  const now = s.navigate(7, 'http://news.example/'); // ... and only then is its response said to start (a reload)
  s.addRequest(7, old, { rid: 'f', url: 'https://connect.facebook.net/f.js', outcome: 'blocked', at: 220 }); // settled later
  s.addVerdict(7, old, 'f', v('facebook.net'));
  s.addRequest(7, old, { rid: 'late', url: 'https://old2.net/x', outcome: 'blocked', at: 150 }); // the old page's, late
  s.addRequest(7, now, { rid: 'd', url: 'https://stats.doubleclick.net/p', outcome: 'blocked', at: 300 });
  s.addVerdict(7, now, 'd', v('doubleclick.net'));
  assert.deepEqual(s.get(7).requests.map((r) => r.rid), ['g', 'f', 'd']);
  assert.equal(badgeView(s.get(7), 'ok').text, '3');
  // With no top-level request seen (the extension started mid-page), a navigation keeps nothing, as before.
  const again = s.navigate(7, 'http://other.example/');
  assert.equal(s.addRequest(7, now, { rid: 'x', url: 'https://x.net/', outcome: 'blocked', at: 400 }), false);
  assert.equal(s.get(7).requests.length, 0);
  assert.ok(again > now);
});

test("the page before's beacon is not counted on the new page: Firefox names its document (another site's)", () => {
  const s = new TabStates();
  const old = s.navigate(7, 'http://beacon.example/leave');
  s.loading(7, 200);
  // Reported before the new page's response started: the page before's beacon, and the new page's own script.
  s.addRequest(7, old, { rid: 'b1', url: 'https://stats.g.doubleclick.net/p?1', outcome: 'blocked', at: 210,
    page: 'http://beacon.example/leave' });
  s.addRequest(7, old, { rid: 'g', url: 'https://www.google-analytics.com/a.js', outcome: 'blocked', at: 212,
    page: 'http://other.example/next' });
  s.addVerdict(7, old, 'g', v('google-analytics.com'));
  const now = s.navigate(7, 'http://other.example/next');
  assert.deepEqual(s.get(7).requests.map((r) => r.rid), ['g']);
  assert.equal(s.get(7).requests[0].pageHost, 'other.example');
  // Reported after it: the page before's second beacon (the tab moved on, no navigation pending).
  assert.equal(s.addRequest(7, now, { rid: 'b2', url: 'https://stats.g.doubleclick.net/p?2', outcome: 'blocked', at: 230,
    page: 'http://beacon.example/leave' }), false);
  // The page's own history.pushState changes its document's URL, not its host: still this page's.
  assert.equal(s.addRequest(7, now, { rid: 'f', url: 'https://connect.facebook.net/f.js', outcome: 'blocked', at: 240,
    page: 'http://other.example/next/step-2#top' }), true);
  s.addVerdict(7, now, 'f', v('facebook.net'));
  assert.equal(badgeView(s.get(7), 'ok').text, '2');
  assert.equal(s.get(7).previousUrl, 'http://beacon.example/leave');
  // A leaving document's request (Chromium: the reporter gives it nav -1) is on no page's badge.
  assert.equal(s.addRequest(7, -1, { rid: 'b3', url: 'https://stats.g.doubleclick.net/p?3', outcome: 'blocked', at: 250 }), false);
});

test("the page before's beacon heard before the next page's own request still stays off the next page (Firefox)", () => {
  // Seen in Firefox: the beacon settled while the extension still knew only the page before (no navigation
  // pending), and then heard of the next page's request, which had started earlier than the beacon.
  const s = new TabStates();
  const old = s.navigate(7, 'http://leaving.example/page');
  assert.equal(s.addRequest(7, old, { rid: 'b', url: 'https://stats.g.doubleclick.net/p', outcome: 'blocked', at: 250,
    page: 'http://leaving.example/page' }), true); // on the page it came from, for now
  s.addVerdict(7, old, 'b', v('doubleclick.net', { page_domain: 'leaving.example' }));
  s.loading(7, 200);
  s.navigate(7, 'http://next.example/no-trackers.html');
  assert.deepEqual(s.get(7).requests, []);
  assert.equal(badgeView(s.get(7), 'ok').text, '');
  // A late verdict of the page before names the site before: it is not taken as the new page's site.
  s.addVerdict(7, old, 'b', v('doubleclick.net', { page_domain: 'leaving.example' }));
  assert.equal(s.get(7).pageDomain, null);
});

test("a new tab's first requests heard before its page's own request are that page's (Firefox)", () => {
  const s = new TabStates();
  // Seen in Firefox: a new tab's three trackers settled before the extension heard of the tab at all.
  for (const [rid, host, at] of [['g', 'www.google-analytics.com', 210], ['f', 'connect.facebook.net', 212],
    ['d', 'stats.g.doubleclick.net', 215]]) {
    assert.equal(s.addRequest(9, 0, { rid, url: `https://${host}/x`, outcome: 'blocked', at, page: 'http://news.example/article' }), true);
  }
  s.loading(9, 200);
  const now = s.navigate(9, 'http://news.example/article');
  for (const [rid, domain] of [['g', 'google-analytics.com'], ['f', 'facebook.net'], ['d', 'doubleclick.net']]) {
    s.addVerdict(9, 0, rid, v(domain));
  }
  assert.equal(now, 1);
  assert.equal(badgeView(s.get(9), 'ok').text, '3');
  // A tab the extension knows keeps refusing a request of a page number it is past.
  assert.equal(s.addRequest(9, -1, { rid: 'x', url: 'https://x.example/', outcome: 'blocked', at: 300 }), false);
});
