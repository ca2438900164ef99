import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeControl, arrange, offText, plural, stateLabel, summary, trustText } from '../popup/view.js';

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
  assert.equal(trustText({ until: 5 }, () => 'later'), 'You trust this site until later: nothing on it is blocked.');
  assert.doesNotMatch(trustText(null), /^You trust/);
});

test('off words say why', () => {
  assert.match(offText('unpaired', 'x'), /not paired/);
  assert.match(offText('unreachable', 'x'), /crumbs serve/);
  assert.equal(offText('impostor', 'Crumbs is off: impostor.'), 'Crumbs is off: impostor.');
  assert.match(offText('unauthorized', null), /Pair it again/);
});
