import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startClickToLoad, PORT_NAME } from '../src/clicktoload.js';
import { RULE_BASE } from '../src/embeds.js';

function event() {
  const fns = [];
  return { fns, addListener: (fn, filter) => fns.push({ fn, filter }), fire: (...a) => fns.forEach(({ fn }) => fn(...a)) };
}

function fakeChrome() {
  const c = {
    session: [], injected: [], puts: [], synced: 0,
    declarativeNetRequest: {
      async getSessionRules() { return structuredClone(c.session); },
      async updateSessionRules({ removeRuleIds = [], addRules = [] }) {
        c.session = c.session.filter((r) => !removeRuleIds.includes(r.id)).concat(structuredClone(addRules));
      },
    },
    scripting: { async executeScript(opts) { c.injected.push(opts); return []; } },
    tabs: { async get(id) { return { id, url: 'https://www.news.example/article' }; }, onRemoved: event() },
    webRequest: { onErrorOccurred: event(), onBeforeRequest: event() },
    runtime: { onConnect: event() },
  };
  return c;
}

// The companion's verdicts named tab 4's site news.example; other tabs have no verdict yet.
function setup() {
  const chrome = fakeChrome();
  const client = { async put(path, body) { chrome.puts.push([path, body]); return { status: 200 }; } };
  const ctl = startClickToLoad({ chrome, client, syncRules: async () => { chrome.synced += 1; },
    pageSite: (tabId) => (tabId === 4 ? 'news.example' : null) });
  return { chrome, ctl };
}

const sender = (tabId = 4, frameId = 0) => ({ tab: { id: tabId, url: 'https://www.news.example/article' }, frameId });
const settle = () => new Promise((r) => setTimeout(r, 10));

test('a blocked catalog frame gets the placeholder script in its parent frame, once', async () => {
  const { chrome } = setup();
  const d = { url: 'https://www.youtube.com/embed/abc', type: 'sub_frame', tabId: 4, frameId: 9, parentFrameId: 0,
    error: 'net::ERR_BLOCKED_BY_CLIENT' };
  chrome.webRequest.onErrorOccurred.fire(d);
  chrome.webRequest.onErrorOccurred.fire(d); // Firefox reports some blocked requests twice
  await settle();
  assert.equal(chrome.injected.length, 2); // the file, then the call with the data
  assert.deepEqual(chrome.injected[0], { target: { tabId: 4, frameIds: [0] }, files: ['content/clicktoload.js'] });
  const data = chrome.injected[1].args[0];
  assert.equal(data.url, d.url);
  assert.equal(data.as, 'frame');
  assert.equal(data.info.id, 'youtube');
  assert.match(data.text.body, /will see your visit on news\.example/);
});

test('no placeholder for what was not blocked by the rules, or is not an embed', async () => {
  const { chrome } = setup();
  const base = { tabId: 4, frameId: 9, parentFrameId: 0 };
  chrome.webRequest.onErrorOccurred.fire({ ...base, url: 'https://www.youtube.com/embed/a', type: 'sub_frame', error: 'net::ERR_CONNECTION_REFUSED' });
  chrome.webRequest.onErrorOccurred.fire({ ...base, url: 'https://ads.example/frame', type: 'sub_frame', error: 'net::ERR_BLOCKED_BY_CLIENT' });
  chrome.webRequest.onErrorOccurred.fire({ ...base, url: 'https://www.youtube.com/embed/a', type: 'sub_frame', tabId: -1, error: 'NS_ERROR_ABORT' });
  await settle();
  assert.deepEqual(chrome.injected, []);
});

test('a widget script is answered in the frame that asked for it (Firefox error string too)', async () => {
  const { chrome } = setup();
  chrome.webRequest.onErrorOccurred.fire({ url: 'https://platform.twitter.com/widgets.js', type: 'script', tabId: 2,
    frameId: 5, parentFrameId: 0, error: 'NS_ERROR_ABORT' });
  await settle();
  assert.deepEqual(chrome.injected[0].target, { tabId: 2, frameIds: [5] });
  assert.equal(chrome.injected[1].args[0].as, 'script');
});

test('load adds tab-scoped session rules; a new page or a closed tab removes them', async () => {
  const { chrome, ctl } = setup();
  chrome.session = [{ id: 3, priority: 1, action: { type: 'block' }, condition: { tabIds: [4] } }]; // not ours
  assert.deepEqual(await ctl.handle({ op: 'load', url: 'https://www.youtube.com/embed/abc', as: 'frame' }, sender(4)), { ok: true });
  assert.deepEqual(await ctl.handle({ op: 'load', url: 'https://player.vimeo.com/video/1', as: 'frame' }, sender(6)), { ok: true });
  assert.deepEqual(chrome.session.map((r) => r.id), [3, RULE_BASE, RULE_BASE + 1]);
  assert.deepEqual(chrome.puts, []); // nothing stored for a one-time load
  chrome.webRequest.onBeforeRequest.fire({ tabId: 4, type: 'main_frame', url: 'https://www.news.example/next' });
  await settle();
  assert.deepEqual(chrome.session.map((r) => r.id), [3, RULE_BASE + 1]);
  chrome.tabs.onRemoved.fire(6);
  await settle();
  assert.deepEqual(chrome.session.map((r) => r.id), [3]);
});

test('allow on this site stores the site+tracker choice, pulls the rules and loads it now', async () => {
  const { chrome, ctl } = setup();
  const answer = await ctl.handle({ op: 'allow-site', url: 'https://www.youtube.com/embed/abc', as: 'frame' }, sender(4));
  assert.deepEqual(answer, { ok: true });
  assert.deepEqual(chrome.puts, [['/api/v1/choices/sites/news.example/trackers/www.youtube.com', { action: 'allow' }]]);
  assert.equal(chrome.synced, 1);
  assert.equal(chrome.session.length, 1);
});

test('a companion that refuses the choice is reported, and nothing is let through', async () => {
  const chrome = fakeChrome();
  const client = { async put() { throw new Error('the companion is not answering'); } };
  const ctl = startClickToLoad({ chrome, client, syncRules: async () => {} });
  const answer = await ctl.handle({ op: 'allow-site', url: 'https://www.youtube.com/embed/abc', as: 'frame' }, sender(4));
  assert.match(answer.error, /not answering/);
  assert.deepEqual(chrome.session, []);
});

test('requests that are not for a catalog embed, or not from a tab, are refused', async () => {
  const { chrome, ctl } = setup();
  for (const [msg, from] of [
    [{ op: 'load', url: 'https://tracker.example/x.js', as: 'script' }, sender()],
    [{ op: 'load', url: 'https://www.youtube.com/embed/a', as: 'image' }, sender()],
    [{ op: 'load', url: 'https://www.youtube.com/embed/a', as: 'script' }, sender()],
    [{ op: 'load', url: 42, as: 'frame' }, sender()],
    [{ op: 'load', url: 'https://www.youtube.com/embed/a', as: 'frame' }, { frameId: 0 }],
    [{ op: 'delete-everything', url: 'https://www.youtube.com/embed/a', as: 'frame' }, sender()],
    [{ op: 'run-script', url: 'https://www.youtube.com/embed/a', as: 'frame' }, sender()],
    [null, sender()],
  ]) {
    const answer = await ctl.handle(msg, from);
    assert.ok(answer.error, JSON.stringify(msg));
  }
  assert.deepEqual(chrome.session, []);
  assert.deepEqual(chrome.puts, []);
  assert.deepEqual(chrome.injected, []);
});

test('only ports of the right name from a tab are listened to', () => {
  const { chrome } = setup();
  const port = (name, s) => { const p = { name, sender: s, onMessage: event(), postMessage() {} }; return p; };
  const other = port('something-else', sender());
  const noTab = port(PORT_NAME, { frameId: 0 });
  const ours = port(PORT_NAME, sender());
  for (const p of [other, noTab, ours]) chrome.runtime.onConnect.fire(p);
  assert.equal(other.onMessage.fns.length, 0);
  assert.equal(noTab.onMessage.fns.length, 0);
  assert.equal(ours.onMessage.fns.length, 1);
});

test('before any verdict names the site, the page host stands in (the companion reduces it)', async () => {
  const { chrome, ctl } = setup();
  const answer = await ctl.handle({ op: 'allow-site', url: 'https://www.youtube.com/embed/abc', as: 'frame' }, sender(7));
  assert.equal(answer.error, undefined);
  assert.deepEqual(chrome.puts, [['/api/v1/choices/sites/www.news.example/trackers/www.youtube.com', { action: 'allow' }]]);
});
