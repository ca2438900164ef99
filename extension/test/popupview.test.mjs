import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeControl, arrange, awayText, isAwayStatus, offText, pageCountsText, pageStateLabel, pageSummary, plural,
  siteCountsText, siteStateLabel, stateLabel, summary, trustText, whyText } from '../popup/view.js';

const tp = (domain, extra = {}) => ({ domain, tracker: true, blocked_now: true, requests: 1, decided_by: 'list-default', ...extra });

test('plurals', () => {
  assert.equal(plural(1, 'request'), '1 request');
  assert.equal(plural(0, 'request'), '0 requests');
  assert.equal(plural(undefined, 'request'), '0 requests');
  assert.equal(plural(2, 'other third party', 'other third parties'), '2 other third parties');
});

test('the state in plain words, for every decided_by', () => {
  const cases = [
    [{ decided_by: 'list-default', blocked_now: true }, "Blocked (Crumbs' default)", 'blocked'],
    [{ decided_by: 'site-tracker', blocked_now: true }, 'Blocked on this site by you', 'blocked'],
    [{ decided_by: 'site-tracker', blocked_now: false }, 'Allowed on this site by you', 'allowed'],
    [{ decided_by: 'site-trust', blocked_now: false }, 'Allowed: you trust this site', 'allowed'],
    [{ decided_by: 'tracker-everywhere', blocked_now: false }, 'Allowed: you allow it everywhere', 'allowed'],
    [{ decided_by: 'tracker-everywhere', blocked_now: true }, 'Blocked everywhere by you', 'blocked'],
    [{ decided_by: 'report-only', blocked_now: false }, 'Reported only (report-only mode)', 'allowed'],
    [{ decided_by: 'not-a-tracker', blocked_now: false, tracker: false }, 'Not a known tracker', 'neutral'],
    [{ decided_by: 'something-new', blocked_now: true }, 'Blocked', 'blocked'],
    [{}, 'Allowed', 'allowed'],
  ];
  for (const [input, text, tone] of cases) {
    assert.deepEqual(stateLabel({ tracker: true, ...input }), { text, tone }, JSON.stringify(input));
  }
  // A non-tracker that loads is nothing to worry about, whatever let it load.
  assert.deepEqual(stateLabel({ tracker: false, decided_by: 'site-trust', blocked_now: false }),
    { text: 'Allowed: you trust this site', tone: 'neutral' });
  assert.equal(stateLabel({ tracker: false, decided_by: 'site-tracker', blocked_now: true }).tone, 'blocked');
});

test('one control in force: a choice for this site wins over everywhere', () => {
  assert.equal(activeControl(null), 'reset');
  assert.equal(activeControl({ here: null, everywhere: null }), 'reset');
  assert.equal(activeControl({ here: 'block', everywhere: 'allow' }), 'block-here');
  assert.equal(activeControl({ here: 'allow' }), 'allow-here');
  assert.equal(activeControl({ everywhere: 'allow' }), 'allow-everywhere');
  assert.equal(activeControl({ everywhere: 'block' }), null); // no button for it: none pressed
});

test('trackers first, blocked and busiest first; other third parties apart', () => {
  const parties = [
    tp('widgets.test', { tracker: false, blocked_now: false, requests: 50, decided_by: 'not-a-tracker' }),
    tp('allowed.net', { blocked_now: false, requests: 9, decided_by: 'tracker-everywhere' }),
    tp('small.net', { requests: 1 }),
    tp('big.net', { requests: 7 }),
    tp('mine.test', { tracker: false, blocked_now: true, decided_by: 'site-tracker' }),
    { nonsense: true },
  ];
  const { trackers, others } = arrange(parties);
  assert.deepEqual(trackers.map((t) => t.domain), ['big.net', 'small.net', 'mine.test', 'allowed.net']);
  assert.deepEqual(others.map((t) => t.domain), ['widgets.test']);
  assert.deepEqual(arrange(undefined), { trackers: [], others: [] });
});

test('rows keep their place after a change', () => {
  const before = ['big.net', 'small.net', 'allowed.net'];
  const after = [tp('allowed.net'), tp('small.net', { blocked_now: false }), tp('big.net'), tp('new.net', { requests: 99 })];
  assert.deepEqual(arrange(after, before).trackers.map((t) => t.domain), ['big.net', 'small.net', 'allowed.net', 'new.net']);
});

test('the one-line summary', () => {
  assert.equal(summary([]), 'No third parties seen on this site yet');
  assert.equal(summary([tp('a.net'), tp('b.net'), tp('c.net', { blocked_now: false }), tp('w.test', { tracker: false })]),
    '3 trackers on this site · 2 blocked');
  assert.equal(summary([tp('a.net'), tp('b.net')]), '2 trackers on this site · all blocked');
  assert.equal(summary([tp('a.net')]), '1 tracker on this site · blocked');
  assert.equal(summary([tp('a.net', { blocked_now: false })], { until: null }), '1 tracker on this site · none blocked (trusted site)');
  assert.equal(summary([tp('w.test', { tracker: false })]), 'No trackers seen · 1 other third party');
});

test('trust words start with "You trust this site" when trusted', () => {
  assert.match(trustText({ until: null }), /^You trust this site: /);
  assert.equal(trustText({ until: 5 }, () => 'later'), 'You trust this site until later: nothing on it is blocked but what you block on it yourself.');
  assert.doesNotMatch(trustText(null), /^You trust/);
});

test('off words say why and name the button on screen', () => {
  assert.match(offText('unpaired', 'x'), /not paired.*Choose 'Pair now'/);
  assert.match(offText('unauthorized', null), /Choose 'Pair now' to pair it again/);
  assert.equal(offText('other', 'Crumbs is off: because.'), 'Crumbs is off: because.');
});

test('a companion that is away is not "off": blocking continues, the history catches up', () => {
  for (const status of ['unreachable', 'impostor']) {
    assert.ok(isAwayStatus(status));
    assert.match(awayText(status), /Blocking continues with the last rules/);
    assert.match(awayText(status), /history will catch up/);
    assert.doesNotMatch(awayText(status), /\boff\b/i);
  }
  assert.ok(!isAwayStatus('unpaired'));
});

const onPage = (extra) => ({ domain: 'google.com', tracker: true, reached: 0, blocked: 0, cache: 0, failed: 0, ...extra });

test('"Blocked" only when none of the requests on the page got through', () => {
  const policy = tp('google.com');
  assert.deepEqual(pageStateLabel(onPage({ blocked: 2 }), policy), { text: "Blocked (Crumbs' default)", tone: 'blocked' });
  assert.deepEqual(pageStateLabel(onPage({ blocked: 1, reached: 1 }), policy),
    { text: 'Partly blocked — 1 of 2 requests got through', tone: 'partial' });
  assert.deepEqual(pageStateLabel(onPage({ blocked: 3, reached: 2 }), null),
    { text: 'Partly blocked — 2 of 5 requests got through', tone: 'partial' });
  // The companion would block it, but the browser let it through (its rules were behind): say what happened.
  assert.deepEqual(pageStateLabel(onPage({ reached: 1 }), policy),
    { text: 'Not blocked on this page — its request got through', tone: 'allowed' });
  assert.deepEqual(pageStateLabel(onPage({ reached: 2 }), tp('google.com', { blocked_now: false, decided_by: 'site-trust' })),
    { text: 'Allowed: you trust this site', tone: 'allowed' });
  assert.deepEqual(pageStateLabel(onPage({ blocked: 1 }), tp('google.com', { blocked_now: false, decided_by: 'site-trust' })),
    { text: 'Blocked on this page', tone: 'blocked' });
  assert.equal(pageStateLabel(onPage({ tracker: false, reached: 3 }), null).text, 'Not a known tracker');
  assert.match(pageStateLabel(onPage({ cache: 2 }), null).text, /cache/);
  assert.match(pageStateLabel(onPage({ failed: 1 }), null).text, /failed/);
});

test('a block the person has just chosen is said on the page whose requests went through before it', () => {
  // Chosen in this popup, the companion answering: its row says so (was "Not a known tracker" / "Not blocked on this page").
  assert.deepEqual(pageStateLabel(onPage({ tracker: false, reached: 2 }), tp('w.test', { tracker: false, decided_by: 'site-tracker' }), null, true),
    { text: 'Blocked on this site by you now — all 2 requests got through on this load', tone: 'partial' });
  assert.deepEqual(pageStateLabel(onPage({ reached: 1, blocked: 1 }), tp('google.com', { decided_by: 'tracker-everywhere' }), null, true),
    { text: 'Blocked everywhere by you now — 1 of 2 requests got through on this load', tone: 'partial' });
  // A stand-in answers its scripts from the next load, not on this one.
  assert.equal(pageStateLabel(onPage({ reached: 1 }), tp('google-analytics.com', { decided_by: 'site-tracker', stand_ins: ['GA'] }), null, true).text,
    'Blocked on this site by you now — its request got through on this load');
  // Chosen in this popup while the companion is away: the choice queued in this browser.
  assert.deepEqual(pageStateLabel(onPage({ tracker: false, reached: 1 }), null, { here: 'block', everywhere: null }, true),
    { text: 'Blocked on this site by you now — its request got through on this load', tone: 'partial' });
  assert.deepEqual(pageStateLabel(onPage({ blocked: 2 }), null, { here: 'block', everywhere: null }, true),
    { text: 'Blocked on this site by you', tone: 'blocked' });
  assert.deepEqual(pageStateLabel(onPage({ reached: 2 }), null, { here: null, everywhere: 'allow' }, true),
    { text: 'Allowed: you allow it everywhere', tone: 'allowed' });
  // A block chosen before this popup whose requests still got through is a leak: said as such, never "Blocked".
  assert.equal(pageStateLabel(onPage({ reached: 2 }), tp('google.com', { decided_by: 'site-tracker' })).text,
    'Not blocked on this page — all 2 requests got through');
  assert.equal(pageStateLabel(onPage({ reached: 1 }), null, { here: 'block', everywhere: null }).text,
    'Not blocked on this page — its request got through');
  // No choice queued: what the page did, as before.
  assert.equal(pageStateLabel(onPage({ tracker: false, reached: 3 }), null, { here: null, everywhere: null }, true).text,
    'Not a known tracker');
  // The lists' block is not the person's: requests that got through are said as such.
  assert.equal(pageStateLabel(onPage({ reached: 1 }), tp('google.com'), null, true).text, 'Not blocked on this page — its request got through');
});

test('which filter, or lack of one, let a request through', () => {
  assert.equal(whyText({ decided_by: 'not-a-tracker', filter: null, exception: false }), 'no filter names this address');
  assert.equal(whyText({ decided_by: 'not-a-tracker', filter: '@@||google.com/recaptcha/', exception: true, list: 'crumbs-trackers' }),
    'the exception @@||google.com/recaptcha/ (crumbs-trackers)');
  assert.equal(whyText({ decided_by: 'site-trust' }), 'you trust this site');
  assert.equal(whyText({ decided_by: 'site-tracker' }), 'you allow it on this site');
  assert.equal(whyText({ decided_by: 'tracker-everywhere' }), 'you allow it everywhere');
  assert.match(whyText({ decided_by: 'list-default', filter: '||x^' }), /rules did not have this block yet/);
  assert.match(whyText(null), /not yet known/);
});

test('page counts and the away summary', () => {
  assert.equal(pageCountsText(onPage({ blocked: 1, reached: 1 })), 'On this page: 2 requests, 1 blocked, 1 got through');
  assert.equal(pageCountsText(onPage({ reached: 1, cache: 1 })), 'On this page: 1 request, 1 got through, 1 from the cache');
  assert.equal(pageSummary([]), 'No third parties seen on this page yet');
  assert.equal(pageSummary([onPage({ blocked: 2 }), onPage({ domain: 'w.test', tracker: false, reached: 1 })]),
    '1 tracker on this page · none got through');
  assert.equal(pageSummary([onPage({ blocked: 1, reached: 1 })]), '1 tracker on this page · 1 request got through');
});

test('from the site\'s history: never "Blocked" next to requests that got through (the mrf.io case)', () => {
  assert.deepEqual(siteStateLabel(tp('mrf.io', { requests: 2, blocked: 1 })),
    { text: 'Partly blocked — 1 of 2 requests got through', tone: 'partial' });
  assert.equal(siteCountsText(tp('mrf.io', { requests: 2, blocked: 1 })), '2 requests on this site, 1 blocked, 1 got through');
  assert.deepEqual(siteStateLabel(tp('mrf.io', { requests: 2, blocked: 2 })), { text: "Blocked (Crumbs' default)", tone: 'blocked' });
  assert.deepEqual(siteStateLabel(tp('x.net', { requests: 3, blocked: 0, decided_by: 'site-tracker' })),
    { text: 'Blocked on this site by you now — 3 of 3 requests got through before', tone: 'partial' });
  // Allowed now: the decision is the news, whatever was blocked before.
  assert.deepEqual(siteStateLabel(tp('x.net', { requests: 3, blocked: 1, blocked_now: false, decided_by: 'site-trust' })),
    { text: 'Allowed: you trust this site', tone: 'allowed' });
  assert.equal(siteCountsText(tp('w.test', { tracker: false, requests: 4, blocked: 0 })), '4 requests on this site');
});
