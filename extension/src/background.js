/**
 * The background entry (service worker in Chromium, background script in Firefox): wires the modules.
 *
 * Listeners are registered synchronously at the top level, as MV3 requires for a worker that can be
 * stopped and restarted at any time; state is reloaded from storage behind the `ready` promise.
 */
import { CompanionClient, CompanionError } from './companion.js';
import { BoundedQueue } from './queue.js';
import { TabStates, OFF_REASONS, AWAY_REASONS } from './badgestate.js';
import { Facts } from './facts.js';
import { OfflineChoices } from './offline.js';
import { Reporter, observe } from './reporting.js';
import { RuleSync } from './enforcement.js';
import { forget, render, renderAll } from './badge.js';
import { hostOf } from './domains.js';
import * as storage from './storage.js';
import { NativeHost, browserSend } from './native.js';
import { startGpc } from './gpc.js';
import { startClickToLoad } from './clicktoload.js';
import { throttle, whenQuiet } from './throttle.js';
import { servePopup } from './popupserve.js';

const ALARM = 'crumbs-tick';
const QUEUE_MAX = 5000;

let config = { companion: null, token: null };
let status = 'unpaired';
let tabs = new TabStates();
let facts = new Facts();

const client = new CompanionClient({ getConfig: async () => config });

// ---- native messaging (native.js): the host starts the companion and hands over its address and token.
// Asked at start-up and whenever the companion stops answering; without the host the code flow stays.
const WATCH_MS = 10000; // while the worker is alive, a dead companion is noticed within this
const NEEDS_HOST = new Set(['unpaired', 'unreachable', 'unauthorized', 'impostor']);
const native = new NativeHost({ send: browserSend() });

/** Ask the host; store what it says (the storage listener then syncs) or, if unchanged, sync now. */
async function pairByHost() {
  const got = await native.ask();
  if (!got) return false;
  if (got.companion !== config.companion || got.token !== config.token) {
    await storage.setConfig(got);
  } else {
    client.verifiedFor = null;
    tick();
  }
  return true;
}

/** A cheap liveness check so a companion that died is restarted even when no page reports anything. */
async function watch() {
  await ready;
  if (!config.token) return;
  try {
    await client.get('/api/v1/health');
    if (status !== 'ok') tick();
  } catch (err) {
    const s = statusOf(err);
    if (s) await setStatus(s);
  }
}
// ---- end native messaging

// Every open tab's record in one write, once the tabs have been quiet for half a second (a page
// loading: one write after its last request) and at the latest 3 s after a change. It was every 300 ms,
// the worker's largest cost per request after the badge (bench/bench_extension.py). The worker is
// stopped only after 30 s without events, so the last write always happens (as for saveQueue below).
const saveTabs = whenQuiet(() => storage.saveSession(storage.KEYS.tabs, tabs.toJSON()), 500, 3000);
// The last answers about up to 3,000 hosts: the same, at a slower pace.
const saveFacts = whenQuiet(() => storage.saveLocal(storage.KEYS.facts, facts.toJSON()), 2000, 10000);

// While the companion is down, every flush attempt (each 100 events or 300 ms) wrote the whole queue
// (up to 5,000 events) to storage: per-request work that grew with the backlog (bench/bench_extension.py,
// companion down). Now at most one write a second: the first at once, later ones folded into a write at
// the end of the second. Nothing is dropped by this: Chrome stops an idle worker only after 30 s without
// events, so the trailing write always runs first; Firefox's event page is told (onSuspend) and writes
// then. Left: the browser quitting within that second (before, within the batcher's 300 ms): the saved
// queue may then still hold a batch delivered since, sent again at the next start and recorded once
// (its stream and seq: reporting.js).
const saveQueue = throttle(() => storage.saveQueue(reporter.queue), 1000);

// A delivered batch brings up to 1,000 verdicts in one synchronous loop: draw each tab's badge
// once after it (a microtask, so no later), not three browser calls per verdict. Measured by
// bench/bench_extension.py: per-verdict redraws were most of the worker's time per request.
// And a busy page settles a request every few milliseconds: each settled request redrew the badge
// (three browser calls, and the page's counts recomputed over all its requests), so a page's cost grew
// with its own requests. Now each tab's badge is drawn at most every BADGE_MS: at once after a quiet
// spell, else once at the end of the window with the counts of that moment (well within the
// 500 ms of issue 14). A navigation, a status change or the browser clearing the badge still draw at once.
const BADGE_MS = 100;
const badgeDrawers = new Map(); // tabId -> throttled draw; dropped with the tab
function drawBadge(tabId) {
  let draw = badgeDrawers.get(tabId);
  if (!draw) {
    draw = throttle(() => { if (tabs.tabs.has(tabId)) render(tabs, tabId, status, { force: false }); }, BADGE_MS);
    badgeDrawers.set(tabId, draw);
  }
  draw();
}
const toRender = new Set();
function renderSoon(tabId) {
  if (toRender.size === 0) {
    queueMicrotask(() => {
      for (const id of toRender) drawBadge(id);
      toRender.clear();
    });
  }
  toRender.add(tabId);
}

// The host of a page URL: asked for every settled request and every verdict, and nearly always the
// same page as the last one, so the last answer is kept (one entry: nothing grows).
let lastPage = { url: undefined, host: null };
function pageHostOf(url) {
  if (url !== lastPage.url) lastPage = { url, host: hostOf(url) };
  return lastPage.host;
}
// The companion's host, asked for every request: parsed again only when the pairing changes.
let companionAt = { base: undefined, host: null };
function companionHost() {
  if (config.companion !== companionAt.base) companionAt = { base: config.companion, host: hostOf(config.companion) };
  return companionAt.host;
}

function statusOf(err) {
  return err instanceof CompanionError && (err.kind in OFF_REASONS || err.kind in AWAY_REASONS) ? err.kind : null;
}

// Choices made in the popup while the companion is away: browser session rules now, the companion later.
const offline = new OfflineChoices({
  dnr: chrome.declarativeNetRequest,
  load: () => storage.loadLocal(storage.KEYS.offlineChoices),
  save: (ops) => storage.saveLocal(storage.KEYS.offlineChoices, ops),
});

/** Once the companion answers: hand it the choices made while it was away, then its rules replace ours. */
async function deliverOfflineChoices() {
  if (status !== 'ok' || offline.ops.length === 0) return;
  await offline.deliver(client, async () => { await rules.sync(); return !rules.lastError; });
}

async function setStatus(next) {
  if (next === status) return;
  const wasOff = status !== 'ok';
  status = next;
  await storage.saveSession(storage.KEYS.status, status);
  await renderAll(tabs, status);
  if (status === 'ok' && wasOff) {
    reporter.retryNow(); // deliver what waited while we were off
    deliverOfflineChoices();
  }
  if (NEEDS_HOST.has(status)) pairByHost(); // native messaging: (re)start the companion
}

const reporter = new Reporter({
  client,
  queue: new BoundedQueue(QUEUE_MAX),
  persist: () => saveQueue(), // at most once a second: see saveQueue
  pageOf: (tabId) => tabs.tabs.get(tabId) || null, // {pageUrl, pageHost, nav, ...}: read, never copied
  enabled: () => Boolean(config.companion && config.token),
  companionHost,
  onSettled: (item, host) => {
    const tabId = item.event.tab_id;
    const request = { rid: item.rid, url: item.event.url, outcome: item.event.outcome, type: item.event.type, at: item.at,
      page: item.exact ? item.event.page_url : null };
    const pageSite = facts.siteOf(pageHostOf(item.event.page_url));
    if (tabs.addRequest(tabId, item.nav, request, facts.about(host === undefined ? hostOf(item.event.url) : host), pageSite)) {
      renderSoon(tabId); // sweep() settles many at once
      saveTabs();
    }
  },
  onDelivered: (item, result) => {
    const tabId = item.event.tab_id;
    facts.learn(result.verdict, pageHostOf(item.event.page_url));
    saveFacts();
    if (tabs.addVerdict(tabId, item.nav, item.rid, result.verdict)) {
      renderSoon(tabId);
      saveTabs();
    }
  },
  onAnswer: (body) => {
    setStatus('ok');
    if (body.rules_version) rules.noteVersion(body.rules_version);
  },
  onFailure: (err) => { const s = statusOf(err); if (s) setStatus(s); },
});

const rules = new RuleSync({
  client,
  dnr: chrome.declarativeNetRequest,
  loadApplied: storage.loadApplied,
  saveApplied: storage.saveApplied,
  onError: (err) => { const s = statusOf(err); if (s) setStatus(s); },
});

/** Bring the rules up to date and learn whether the companion is there. */
async function syncRules() {
  if (!config.companion || !config.token) { await setStatus('unpaired'); return false; }
  const changed = await rules.sync();
  if (!rules.lastError) await setStatus('ok');
  return changed;
}

async function tick() {
  await ready;
  if (NEEDS_HOST.has(status)) await pairByHost();
  reporter.sweep();
  await syncRules();
  if (reporter.queue.length && status === 'ok') await reporter.retryNow();
  await offline.apply().catch(() => {}); // a trust for an hour or a day that ran out ends here
  await deliverOfflineChoices();
}

async function load() {
  config = await storage.getConfig();
  tabs = TabStates.fromJSON(await storage.loadSession(storage.KEYS.tabs));
  const saved = await storage.loadQueue();
  if (saved) reporter.queue = BoundedQueue.fromJSON(saved, QUEUE_MAX);
  facts = Facts.fromJSON(await storage.loadLocal(storage.KEYS.facts));
  await offline.start().catch(() => {}); // session rules end with the browser: the queue re-creates them
  status = (await storage.loadSession(storage.KEYS.status)) || (config.token ? 'unreachable' : 'unpaired');
  await renderAll(tabs, status);
}
const ready = load();
// Tests and the popup wait on this; it is not reachable from web pages.
self.crumbs = { ready, tabs: () => tabs, status: () => status, reporter, rules, tick, syncRules, offline, native,
  siteAsked: () => siteAsked }; // the popup's prefetched site answers (tests)

// ---- listeners (top level, synchronous) ----

// Once the state is loaded, each request goes straight to the reporter (no promise and microtask
// per webRequest event); before that, in order behind `ready`.
let loaded = false;
ready.then(() => { loaded = true; });
const whenReady = (fn) => (d) => { if (loaded) fn(d); else ready.then(() => fn(d)); };
observe(chrome.webRequest, {
  started: whenReady((d) => reporter.started(d)),
  answered: whenReady((d) => reporter.answered(d)),
  failed: whenReady((d) => reporter.failed(d)),
  redirected: whenReady((d) => reporter.redirected(d)),
});

// A new page in a tab: its response started, so the old page's trackers no longer count.
// Redraw here too: Firefox neither clears a tab's badge on navigation nor orders this event before
// tabs.onUpdated (it arrives after status 'complete'), so without it the old page's count stays.
chrome.webRequest.onResponseStarted.addListener((d) => {
  ready.then(() => {
    if (d.tabId < 0 || d.frameId !== 0) return;
    tabs.navigate(d.tabId, d.url);
    render(tabs, d.tabId, status);
    saveTabs();
  });
}, { urls: ['http://*/*', 'https://*/*'], types: ['main_frame'] });

// A top-level document request: its page's own subresources may be reported before its response starts.
chrome.webRequest.onBeforeRequest.addListener((d) => {
  ready.then(() => { if (d.tabId >= 0 && d.frameId === 0) tabs.loading(d.tabId, d.timeStamp); });
}, { urls: ['http://*/*', 'https://*/*'], types: ['main_frame'] });

// The browser clears a tab's badge when a page commits: draw it again.
chrome.tabs.onUpdated.addListener((tabId, change) => {
  if (change.status || change.url) ready.then(() => render(tabs, tabId, status));
});
chrome.tabs.onRemoved.addListener((tabId) => {
  ready.then(() => { tabs.remove(tabId); badgeDrawers.delete(tabId); forget(tabId); saveTabs(); });
});

// ---- issue 12: Global Privacy Control and click-to-load (their own modules; listeners registered at once) ----
const gpc = startGpc({ chrome, onError: (err) => console.warn('Crumbs GPC:', err) });
const clickToLoad = startClickToLoad({ chrome, client, syncRules: () => ready.then(syncRules),
  pageSite: (tabId) => { const t = tabs.tabs.get(tabId); return t ? t.pageDomain : null; },
  onError: (err) => console.warn('Crumbs click-to-load:', err) });
self.crumbsExtras = { gpc, clickToLoad }; // tests wait on these
// ---- end issue 12 ----

chrome.alarms.onAlarm.addListener((alarm) => { if (alarm.name === ALARM) tick(); });
chrome.alarms.create(ALARM, { periodInMinutes: 0.5 }); // rules reach the browser within 60 s of any change
setInterval(watch, WATCH_MS);

storage.onConfigChanged(async () => {
  config = await storage.getConfig();
  client.verifiedFor = null;
  await tick();
});

chrome.runtime.onInstalled.addListener(async (details) => {
  await ready;
  if (details.reason === 'install') {
    // Native messaging first (it may join or follow the start-up ask), so the welcome page can show the
    // extension paired already; the welcome page says what the badge means, how to pin it, and pairs
    // with a code only when the host did not answer.
    if (!config.token) await pairByHost();
    chrome.tabs.create({ url: chrome.runtime.getURL('welcome/welcome.html') });
  }
  tick();
});
chrome.runtime.onStartup.addListener(() => { tick(); });
// Firefox's event page hears this before it is unloaded (Chrome's service worker never does: see saveQueue).
if (chrome.runtime.onSuspend) {
  chrome.runtime.onSuspend.addListener(() => { saveQueue.flushNow(); saveTabs.flushNow(); saveFacts.flushNow(); });
}

/** The companion's answer for a site (the popup's second draw): {body}, or {error, kind}. */
async function askSite(site) {
  try {
    const { body } = await client.get(`/api/v1/sites/${encodeURIComponent(site)}`);
    return { body };
  } catch (err) {
    const s = statusOf(err);
    if (s) await setStatus(s);
    return { error: String(err && err.message), kind: (err && err.kind) || 'http' };
  }
}

// The popup's first message (the tab's record) starts the ask for its second draw, so the companion's
// answer is on its way while the popup draws the first, without a second message before that draw
// (bench/bench_popup.py). Each answer serves one 'site' message, within a few seconds, and only while the
// companion answers (a popup drawing "companion away" asks for none). The site is the one the popup will
// name: the companion's for the page, else the tab's host.
const SITE_PREFETCH_MS = 5000;
const siteAsked = new Map(); // site -> {at, answer}
function prefetchSite(tabId, named) {
  if (status !== 'ok' || tabId === null || tabId === undefined) return;
  // In a task of its own, so that the tab's record (what the first draw waits for) is sent first.
  setTimeout(async () => {
    const site = named || hostOf(((await chrome.tabs.get(tabId).catch(() => null)) || {}).url);
    if (!site) return;
    for (const [k, v] of siteAsked) if (Date.now() - v.at >= SITE_PREFETCH_MS) siteAsked.delete(k);
    siteAsked.set(site, { at: Date.now(), answer: askSite(site) });
  }, 0);
}

/** The tab the toolbar's popup is for: the active tab of the window last focused. */
async function activeTab() {
  return ((await chrome.tabs.query({ active: true, lastFocusedWindow: true }))[0] || {}).id ?? null;
}

/** What the popup draws from (the 'tab-info' answer): the tab's record, its site, and the extension's state.
 * `prefetch`: start asking the companion for the site (the popup's second draw). */
function tabInfo(tabId, { prefetch = false } = {}) {
  const tab = tabs.summary(tabId);
  const pageHost = tab ? hostOf(tab.pageUrl) : null;
  const site = (tab && tab.pageDomain) || (pageHost && facts.siteOf(pageHost)) || null;
  if (prefetch) prefetchSite(tabId, site);
  return {
    tabId,
    tab,
    site,
    status,
    statusText: OFF_REASONS[status] || AWAY_REASONS[status] || null,
    companion: config.companion,
    offlineChoices: offline.list(),
    dropped: reporter.queue.dropped,
    queued: reporter.queue.length,
    rulesVersion: rules.version,
    rulesError: rules.lastError ? String(rules.lastError.message || rules.lastError) : null,
  };
}

// The popup, served with its first frame drawn in (Chromium's worker; see popupserve.js). Registered at
// once, as every listener of a service worker must be.
self.addEventListener('fetch', servePopup({
  tabInfo: async (tabId) => { await ready; return tabInfo(tabId, { prefetch: true }); },
  activeTab,
  csp: chrome.runtime.getManifest().content_security_policy.extension_pages,
}));

// Messages from the extension's own pages (popup, pairing). There is no onMessageExternal listener
// and no externally_connectable key: web pages cannot talk to the extension.
chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (sender.id !== chrome.runtime.id || !msg || typeof msg.type !== 'string') return false;
  (async () => {
    await ready;
    if (msg.type === 'tab-info') {
      // `active`: the popup asks about the active tab of the focused window while it finds out itself
      // which tab that is, and uses this answer only when both name the same tab.
      return tabInfo(msg.active ? await activeTab() : msg.tabId, { prefetch: Boolean(msg.prefetch) });
    }
    if (msg.type === 'site' && typeof msg.site === 'string' && msg.site) {
      // The popup's second draw: the companion's answer for the site, through this worker's client, which
      // has proved the companion already (the popup would need its own /health round trip first); the
      // one asked when the popup asked for the tab's record, if it is for this site and still fresh.
      const early = siteAsked.get(msg.site);
      siteAsked.delete(msg.site);
      return early && Date.now() - early.at < SITE_PREFETCH_MS ? early.answer : askSite(msg.site);
    }
    if (msg.type === 'offline-choice') {
      // Only while the companion is away (or refuses us): otherwise the popup asks the companion itself.
      if (status === 'ok') return { error: 'the companion is answering: make the choice there' };
      const done = await offline.add(msg.op);
      return { ok: true, applied: done.applied, op: done.op };
    }
    if (msg.type === 'sync-rules') {
      await syncRules();
      return { rulesVersion: rules.version, status };
    }
    return { error: 'unknown message' };
  })().then(reply, (e) => reply({ error: String(e && e.message) }));
  return true; // the reply is asynchronous
});

tick();
