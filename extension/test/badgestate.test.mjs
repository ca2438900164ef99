import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TabStates, badgeView, COLOURS, OFF_REASONS } from '../src/badgestate.js';

const v = (domain, extra = {}) => ({ tracker: true, domain, page_domain: 'news.example', ...extra });

test('counts distinct tracker domains on the current page', () => {
  const s = new TabStates();
  const nav = s.navigate(7, 'http://news.example/a');
  s.addVerdict(7, nav, v('doubleclick.net'), true);
  s.addVerdict(7, nav, v('doubleclick.net'), true);
  s.addVerdict(7, nav, v('facebook.net'), true);
  s.addVerdict(7, nav, { tracker: false, domain: 'cdn.example', page_domain: 'news.example' }, false);
  const view = badgeView(s.get(7), 'ok');
  assert.equal(view.text, '2');
  assert.equal(view.color, COLOURS.blocked);
  assert.match(view.title, /2 trackers.*2 blocked, 0 allowed/);
  assert.equal(s.summary(7).pageDomain, 'news.example');
});

test('one allowed request makes the domain (and the colour) allowed', () => {
  const s = new TabStates();
  const nav = s.navigate(1, 'http://news.example/');
  s.addVerdict(1, nav, v('a.net'), true);
  s.addVerdict(1, nav, v('b.net'), true);
  s.addVerdict(1, nav, v('b.net'), false);
  const view = badgeView(s.get(1), 'ok');
  assert.equal(view.text, '2');
  assert.equal(view.color, COLOURS.allowed);
  assert.match(view.title, /1 blocked, 1 allowed/);
});

test('navigation resets the count, and late verdicts for the old page are ignored', () => {
  const s = new TabStates();
  const old = s.navigate(3, 'http://news.example/1');
  s.addVerdict(3, old, v('a.net'), true);
  const now = s.navigate(3, 'http://other.example/');
  assert.equal(badgeView(s.get(3), 'ok').text, '');
  assert.equal(s.addVerdict(3, old, v('b.net'), true), false);
  assert.equal(badgeView(s.get(3), 'ok').text, '');
  s.addVerdict(3, now, v('c.net'), false);
  assert.equal(badgeView(s.get(3), 'ok').text, '1');
});

test('off states show no number and say why', () => {
  const s = new TabStates();
  const nav = s.navigate(1, 'http://news.example/');
  s.addVerdict(1, nav, v('a.net'), true);
  for (const status of ['unpaired', 'unreachable', 'unauthorized', 'impostor']) {
    const view = badgeView(s.get(1), status);
    assert.equal(view.text, 'off');
    assert.equal(view.color, COLOURS.off);
    assert.equal(view.title, OFF_REASONS[status]);
    assert.doesNotMatch(view.text, /\d/);
  }
});

test('tab states survive a JSON round trip (chrome.storage.session)', () => {
  const s = new TabStates();
  const nav = s.navigate(5, 'http://news.example/');
  s.addVerdict(5, nav, v('a.net'), true);
  const back = TabStates.fromJSON(JSON.parse(JSON.stringify(s)));
  assert.equal(badgeView(back.get(5), 'ok').text, '1');
  assert.equal(back.addVerdict(5, nav, v('b.net'), false), true);
  assert.equal(badgeView(back.get(5), 'ok').text, '2');
});
