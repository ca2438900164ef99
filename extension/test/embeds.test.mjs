import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import {
  EMBEDS, ALLOW_PRIORITY, RULE_BASE, embedFor, embedInfo, isOurRule, nextRuleId, placeholderSize, placeholderText,
  rulesFor, tabRuleIds,
} from '../src/embeds.js';

test('the catalog names the ten embeds of the issue, each with a tracker and who sees the visit', () => {
  assert.deepEqual(EMBEDS.map((e) => e.id),
    ['youtube', 'vimeo', 'facebook', 'instagram', 'x', 'tiktok', 'disqus', 'spotify', 'soundcloud', 'googlemaps']);
  for (const e of EMBEDS) {
    assert.match(e.tracker, /^[a-z0-9.-]+\.[a-z]+$/, e.id);
    assert.ok(e.owner && e.name && e.frames.length, e.id);
    if (e.scripts.length) assert.ok(e.containers.length, `${e.id}: a widget script needs containers`);
  }
});

test('embedFor recognises frames and widget scripts of the catalog, and nothing else', () => {
  const cases = [
    ['https://www.youtube.com/embed/abc?start=3', 'sub_frame', 'youtube', 'frame'],
    ['https://www.youtube-nocookie.com/embed/abc', 'sub_frame', 'youtube', 'frame'],
    ['https://player.vimeo.com/video/123', 'sub_frame', 'vimeo', 'frame'],
    ['https://www.facebook.com/plugins/post.php?href=x', 'sub_frame', 'facebook', 'frame'],
    ['https://connect.facebook.net/en_US/sdk.js', 'script', 'facebook', 'script'],
    ['https://www.instagram.com/p/Cabc/embed/', 'sub_frame', 'instagram', 'frame'],
    ['https://www.instagram.com/embed.js', 'script', 'instagram', 'script'],
    ['https://platform.twitter.com/widgets.js', 'script', 'x', 'script'],
    ['https://platform.twitter.com/embed/Tweet.html?id=1', 'sub_frame', 'x', 'frame'],
    ['https://www.tiktok.com/embed/v2/123', 'sub_frame', 'tiktok', 'frame'],
    ['https://www.tiktok.com/embed.js', 'script', 'tiktok', 'script'],
    ['https://myblog.disqus.com/embed.js', 'script', 'disqus', 'script'],
    ['https://disqus.com/embed/comments/?base=default', 'sub_frame', 'disqus', 'frame'],
    ['https://open.spotify.com/embed/track/1', 'sub_frame', 'spotify', 'frame'],
    ['https://w.soundcloud.com/player/?url=x', 'sub_frame', 'soundcloud', 'frame'],
    ['https://www.google.com/maps/embed?pb=1', 'sub_frame', 'googlemaps', 'frame'],
    ['https://maps.google.com/maps?q=x&output=embed', 'sub_frame', 'googlemaps', 'frame'],
  ];
  for (const [url, type, id, as] of cases) {
    const found = embedFor(url, type);
    assert.ok(found, url);
    assert.equal(found.embed.id, id, url);
    assert.equal(found.as, as, url);
  }
  for (const [url, type] of [
    ['https://www.youtube.com/embed/abc', 'image'], // a pixel of the same company is not an embed
    ['https://www.youtube.com/watch?v=abc', 'sub_frame'],
    ['https://www.youtube.com/embed/abc', 'main_frame'],
    ['https://notyoutube.com/embed/abc', 'sub_frame'], // a look-alike domain
    ['https://youtube.com.evil.example/embed/abc', 'sub_frame'],
    ['https://connect.facebook.net/en_US/fbevents.js', 'script'], // the pixel: the stand-ins' business
    ['https://www.google.com/search?q=x', 'sub_frame'],
    ['ftp://www.youtube.com/embed/abc', 'sub_frame'],
    ['not a url', 'sub_frame'],
  ]) assert.equal(embedFor(url, type), null, `${url} as ${type}`);
});

test('embedInfo is plain data the content script can receive', () => {
  const info = embedInfo(EMBEDS.find((e) => e.id === 'x'));
  assert.deepEqual(JSON.parse(JSON.stringify(info)), info);
  assert.equal(info.frames, undefined);
});

test('a frame is let through by one allowAllRequests rule for its exact URL in its tab, above every companion rule', () => {
  const { embed } = embedFor('https://www.youtube.com/embed/abc', 'sub_frame');
  const rules = rulesFor({ id: RULE_BASE, tabId: 7, url: 'https://www.youtube.com/embed/abc', as: 'frame', embed });
  assert.deepEqual(rules, [{ id: RULE_BASE, priority: ALLOW_PRIORITY, action: { type: 'allowAllRequests' },
    condition: { urlFilter: '|https://www.youtube.com/embed/abc|', resourceTypes: ['sub_frame'], tabIds: [7] } }]);
  assert.ok(ALLOW_PRIORITY > 400 && ALLOW_PRIORITY < 10000); // over site+tracker (400), under GPC's header (10000)
});

test('a URL with urlFilter wildcards becomes an exact, escaped regex', () => {
  const url = 'https://www.youtube.com/embed/a?list=x*y^z|w&t=1.5';
  const [rule] = rulesFor({ id: 1, tabId: 2, url, as: 'frame', embed: EMBEDS[0] });
  assert.equal(rule.condition.urlFilter, undefined);
  const re = new RegExp(rule.condition.regexFilter);
  assert.ok(re.test(url));
  assert.ok(!re.test(`${url}x`) && !re.test(url.replace('1.5', '1x5')));
});

test('a widget script gets its script allowed, and frames of its own hosts, in its tab', () => {
  const url = 'https://platform.twitter.com/widgets.js';
  const { embed } = embedFor(url, 'script');
  const rules = rulesFor({ id: RULE_BASE + 4, tabId: 3, url, as: 'script', embed });
  assert.deepEqual(rules.map((r) => [r.id, r.action.type, r.condition.resourceTypes[0]]),
    [[RULE_BASE + 4, 'allow', 'script'], [RULE_BASE + 5, 'allowAllRequests', 'sub_frame']]);
  assert.deepEqual(rules[1].condition.requestDomains, ['platform.twitter.com', 'platform.x.com']);
  assert.ok(rules.every((r) => r.condition.tabIds[0] === 3));
});

test('rule ids stay in their own range and are found per tab', () => {
  assert.equal(nextRuleId([]), RULE_BASE);
  assert.equal(nextRuleId([{ id: 5 }, { id: 99 }]), RULE_BASE); // someone else's session rules
  assert.equal(nextRuleId([{ id: RULE_BASE }, { id: RULE_BASE + 3 }]), RULE_BASE + 4);
  assert.ok(isOurRule(RULE_BASE) && !isOurRule(RULE_BASE - 1));
  const session = [
    { id: RULE_BASE, condition: { tabIds: [1] } }, { id: RULE_BASE + 1, condition: { tabIds: [2] } },
    { id: 12, condition: { tabIds: [1] } }, { id: RULE_BASE + 2, condition: {} },
  ];
  assert.deepEqual(tabRuleIds(session, 1), [RULE_BASE]);
  assert.deepEqual(tabRuleIds(session, 3), []);
});

test('the placeholder says what it is and who will see the visit', () => {
  const info = embedInfo(EMBEDS[0]);
  const t = placeholderText(info, 'news.example');
  assert.equal(t.title, 'YouTube video blocked by Crumbs');
  assert.match(t.body, /Google \(YouTube\) will see your visit on news\.example\./);
  assert.equal(t.load, 'Load YouTube video');
  assert.equal(t.allow, 'Always allow YouTube on news.example');
  const bare = placeholderText(info, null);
  assert.match(bare.body, /will see your visit\.$/);
  assert.equal(bare.allow, 'Always allow YouTube here');
  // Hostile text stays text: the words carry it as is (the content script uses textContent only).
  assert.ok(placeholderText(info, '<b>x</b>').allow.includes('<b>x</b>'));
});

const SIZE_CASES = [
  [{ attrWidth: '480', attrHeight: '270' }, [560, 315], { width: 480, height: 270 }],
  [{ attrWidth: '480px', attrHeight: ' 270 ' }, [560, 315], { width: 480, height: 270 }],
  [{ attrWidth: '100%', attrHeight: null, boxWidth: 0, boxHeight: 0 }, [560, 315], { width: 560, height: 315 }],
  [{ attrWidth: null, attrHeight: null, boxWidth: 640.4, boxHeight: 360 }, [1, 1], { width: 640, height: 360 }],
  [{ attrWidth: '5', attrHeight: '99999' }, [560, 315], { width: 560, height: 315 }],
  [{ attrWidth: 'abc', attrHeight: '1e3' }, [300, 200], { width: 300, height: 200 }],
  [{}, [325, 575], { width: 325, height: 575 }],
];

test('the placeholder keeps the embed size, or falls back sensibly', () => {
  for (const [seen, fallback, want] of SIZE_CASES) assert.deepEqual(placeholderSize(seen, fallback), want, JSON.stringify(seen));
});

test("the content script's copy of the size rule agrees with embeds.js", () => {
  // content/clicktoload.js is a classic script and cannot import; run its copy and compare.
  const source = readFileSync(new URL('../content/clicktoload.js', import.meta.url), 'utf8');
  const body = source.slice(source.indexOf('  function placeholderSize('), source.lastIndexOf('})();'));
  const copy = vm.runInNewContext(`${body}; placeholderSize`);
  for (const [seen, fallback, want] of SIZE_CASES) assert.deepEqual({ ...copy(seen, fallback) }, want);
});
