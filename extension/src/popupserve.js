/**
 * The popup's first frame, drawn by this worker into the page it serves (Chromium; Firefox runs no service
 * worker for extensions, and its popup draws itself).
 *
 * Why: a popup that draws itself waits for the browser to serve its script files, one after another, and
 * then for one message to this worker before its first row: about 80 ms on this machine where an empty
 * extension page takes 48 (bench/bench_popup.py, companion away). Served with its rows already in it, it is
 * drawn as its document is parsed, and popup.js then takes it over (see its header). The served page names
 * one small script, popup/boot.js, which loads popup.js once the page is on screen: the browser shows the
 * toolbar's popup only when its document has loaded, script files included.
 *
 * Only the popup's own navigations are answered; every other request of the extension's pages goes on to
 * the package as before. Anything that goes wrong (no record yet, an id popup.html no longer has) serves
 * popup.html as it is, which then draws itself.
 */
import { firstView, namedSite } from '../popup/view.js';
import { prerender } from '../popup/markup.js';
import { hostOf } from './domains.js';

const POPUP_PATH = '/popup/popup.html';
const GIVE_UP_MS = 1000; // the page as it is, rather than a popup left blank

/**
 * A fetch listener for the worker. `tabInfo(tabId)` resolves to the background's record of a tab (its
 * 'tab-info' answer); `activeTab()` to the id of the tab the toolbar's popup is for.
 */
export function servePopup({ tabInfo, activeTab, csp }) {
  let template = null; // popup.html's text, read once per life of the worker
  const popupHtml = () => {
    template = template || fetch(POPUP_PATH).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`popup.html: ${r.status}`))));
    template.catch(() => { template = null; });
    return template;
  };

  async function draw(url) {
    const param = url.searchParams.get('tab');
    const tabId = param !== null && /^\d+$/.test(param) ? Number(param) : await activeTab();
    const [html, info] = await Promise.all([popupHtml(), tabInfo(tabId)]);
    // The site the popup speaks of: the one named for this page, else the tab's host (as popup.js names it).
    let site = namedSite(info);
    const siteExact = Boolean(site);
    if (!site && tabId !== null) site = hostOf(((await chrome.tabs.get(tabId).catch(() => null)) || {}).url);
    const page = prerender(html, firstView(info, site || null), { info, site: site || null, siteExact });
    return new Response(page, {
      headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': csp, 'Cache-Control': 'no-store' },
    });
  }

  return (event) => {
    const url = new URL(event.request.url);
    if (event.request.mode !== 'navigate' || url.origin !== self.location.origin || url.pathname !== POPUP_PATH) return;
    const giveUp = new Promise((_, reject) => setTimeout(() => reject(new Error('too slow')), GIVE_UP_MS));
    event.respondWith(Promise.race([draw(url), giveUp]).catch(() => fetch(event.request)));
  };
}
