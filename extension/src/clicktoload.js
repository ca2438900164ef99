/**
 * Click-to-load, the background half: notices a catalog embed (src/embeds.js) blocked by the
 * browser's rules, puts a placeholder where it was, and lets it through when the person asks.
 *
 * - Noticing is real: webRequest.onErrorOccurred with the browser's "blocked by an extension" error
 *   (Chromium net::ERR_BLOCKED_BY_CLIENT, Firefox NS_ERROR_ABORT) for a sub_frame or script of the
 *   catalog. Nothing is guessed from the rules, so trust, allowed trackers and every other part of the
 *   companion's precedence decide as for any request: what loads gets no placeholder.
 * - The placeholder script (content/clicktoload.js) is injected with chrome.scripting into that one
 *   frame only (the iframe's parent, or the document that asked for the widget script).
 * - "Load" adds session rules (src/embeds.js rulesFor) for that URL in that tab, above the
 *   companion's priorities; they go when the tab navigates or closes, so other pages stay blocked.
 * - "Allow on this site" stores the site+tracker choice at the companion (PUT
 *   /api/v1/choices/sites/<site>/trackers/<tracker>), pulls the new rules, and loads it now as well.
 *
 * The content script talks over a runtime port named `crumbs-clicktoload`, never onMessage, so the
 * popup's message handler is untouched; only ports from a tab are heard, and only for catalog URLs.
 */
import { blockedByBrowser } from './reporting.js';
import { embedFor, embedInfo, placeholderText, rulesFor, nextRuleId, tabRuleIds } from './embeds.js';
import { hostOf } from './domains.js';

export const PORT_NAME = 'crumbs-clicktoload';
const CONTENT_SCRIPT = 'content/clicktoload.js';

/**
 * `pageSite(tabId)` is the tab's site as the companion's verdicts named it (the extension makes no
 * site guess, see domains.js); before any verdict the page's host stands in: the companion reduces
 * it to its site when it stores a choice.
 *
 * @param {{chrome: typeof chrome, client: {put: Function}, syncRules: () => Promise<any>,
 *   pageSite?: (tabId: number) => string|null, onError?: (err: Error) => void}} opts
 */
export function startClickToLoad({ chrome: api, client, syncRules, pageSite = () => null, onError = () => {} }) {
  const dnr = api.declarativeNetRequest;
  const seen = new Map(); // `${tabId} ${frameId} ${url}` -> time, so a request reported twice (Firefox) shows once
  let rulesQueue = Promise.resolve(); // session rule changes one at a time (ids are computed from what exists)

  const changeRules = (fn) => {
    rulesQueue = rulesQueue.then(fn).catch((err) => { onError(err); throw err; });
    const done = rulesQueue;
    rulesQueue = rulesQueue.catch(() => {});
    return done;
  };

  async function siteOfTab(tabId) {
    try {
      const tab = await api.tabs.get(tabId);
      return tab && tab.url ? pageSite(tabId) || hostOf(tab.url) : null;
    } catch {
      return null;
    }
  }

  async function placeholderFor(details, found) {
    const frameId = found.as === 'frame' ? details.parentFrameId : details.frameId;
    if (!(details.tabId >= 0) || !(frameId >= 0)) return;
    const key = `${details.tabId} ${frameId} ${details.url}`;
    if (seen.has(key) && Date.now() - seen.get(key) < 2000) return;
    seen.set(key, Date.now());
    if (seen.size > 500) seen.clear();
    const info = embedInfo(found.embed);
    const data = { url: details.url, as: found.as, info, size: found.embed.size,
      text: placeholderText(info, await siteOfTab(details.tabId)) };
    const target = { tabId: details.tabId, frameIds: [frameId] };
    await api.scripting.executeScript({ target, files: [CONTENT_SCRIPT] });
    await api.scripting.executeScript({ target, func: (d) => globalThis.crumbsClickToLoad.show(d), args: [data] });
  }

  async function removeTabRules(tabId) {
    return changeRules(async () => {
      const ids = tabRuleIds(await dnr.getSessionRules(), tabId);
      if (ids.length) await dnr.updateSessionRules({ removeRuleIds: ids });
    });
  }

  function loadNow(tabId, url, found) {
    return changeRules(async () => {
      const current = await dnr.getSessionRules();
      const addRules = rulesFor({ id: nextRuleId(current), tabId, url, as: found.as, embed: found.embed });
      await dnr.updateSessionRules({ addRules });
    });
  }

  async function handle(msg, sender) {
    const tabId = sender && sender.tab ? sender.tab.id : -1;
    if (!(tabId >= 0) || !msg || typeof msg.url !== 'string' || !['frame', 'script'].includes(msg.as)) {
      return { error: 'not a click-to-load request' };
    }
    const found = embedFor(msg.url, msg.as === 'frame' ? 'sub_frame' : 'script');
    if (!found) return { error: 'not an embed Crumbs knows' };
    if (msg.op === 'allow-site') {
      const site = pageSite(tabId) || hostOf(sender.tab.url);
      const tracker = hostOf(msg.url); // the companion reduces it to its registrable domain
      if (!site) return { error: 'this page is not on a website' };
      try {
        await client.put(`/api/v1/choices/sites/${encodeURIComponent(site)}/trackers/${encodeURIComponent(tracker)}`,
          { action: 'allow' });
      } catch (err) {
        return { error: `The companion could not store the choice: ${err && err.message}` };
      }
      await syncRules().catch(onError);
    } else if (msg.op === 'run-script') {
      // The widget script, added in the page's own world once its placeholder is gone: a script element
      // made in the isolated world would fall under the extension's CSP, not the page's.
      if (found.as !== 'script') return { error: 'not a widget script' };
      await api.scripting.executeScript({
        target: { tabId, frameIds: [sender.frameId || 0] },
        world: 'MAIN',
        func: (src) => {
          const script = document.createElement('script');
          script.src = src;
          script.async = true;
          (document.head || document.documentElement).append(script);
        },
        args: [msg.url],
      });
      return { ok: true };
    } else if (msg.op !== 'load') {
      return { error: 'unknown request' };
    }
    await loadNow(tabId, msg.url, found);
    return { ok: true };
  }

  // ---- listeners (top level, synchronous) ----
  api.webRequest.onErrorOccurred.addListener((details) => {
    if (!blockedByBrowser(details.error)) return;
    const found = embedFor(details.url, details.type);
    if (found) placeholderFor(details, found).catch(onError);
  }, { urls: ['http://*/*', 'https://*/*'], types: ['sub_frame', 'script'] });

  // A new page in the tab: what was loaded on the old one is blocked again.
  api.webRequest.onBeforeRequest.addListener((details) => {
    if (!(details.tabId >= 0)) return;
    for (const key of seen.keys()) if (key.startsWith(`${details.tabId} `)) seen.delete(key);
    removeTabRules(details.tabId).catch(() => {});
  }, { urls: ['http://*/*', 'https://*/*'], types: ['main_frame'] });
  api.tabs.onRemoved.addListener((tabId) => { removeTabRules(tabId).catch(() => {}); });

  api.runtime.onConnect.addListener((port) => {
    if (port.name !== PORT_NAME || !port.sender || !port.sender.tab) return;
    port.onMessage.addListener((msg) => {
      handle(msg, port.sender)
        .catch((err) => ({ error: String((err && err.message) || err) }))
        .then((answer) => { try { port.postMessage(answer); } catch { /* the frame went away */ } });
    });
  });

  return { handle, removeTabRules, loadNow };
}
