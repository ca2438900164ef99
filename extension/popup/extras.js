/**
 * The popup's "Page broken?" button and its Global Privacy Control switch (issue 12).
 *
 * Kept apart from popup.js so each can change on its own. "Page broken?" trusts the site for an hour
 * (the companion's trust API), records which trackers the browser had blocked on this page (POST
 * /api/v1/breakage: the tab's state from the background, domains only), pulls the new rules and
 * reloads the tab. The GPC switch writes storage.local `gpc`, which the background applies
 * (src/gpc.js), and keeps a copy at the companion when it is paired.
 * Everything shown is set with textContent.
 *
 * popup.js imports this after its first draw and hands over what it already asked (the tab, the
 * background's answer about it, its companion client), so nothing is asked twice.
 */
import { hostOf } from '../src/domains.js';
import { GPC_KEY, gpcEnabled } from '../src/gpc.js';
import { blockedTrackers } from './breakage.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

async function setUpGpc(client) {
  const box = $('gpc-on');
  box.checked = gpcEnabled(await chrome.storage.local.get(GPC_KEY));
  box.addEventListener('change', async () => {
    await chrome.storage.local.set({ [GPC_KEY]: box.checked });
    // The companion's copy: best effort, the browser's setting is what applies.
    client.put('/api/v1/settings/gpc', { gpc: box.checked }).catch(() => {});
  });
  $('settings').hidden = false;
}

async function setUpBroken(client, tab, info) {
  if (!tab || !hostOf(tab.url)) return;
  if (!info || info.status !== 'ok') return; // the companion keeps trust and reports: nothing to do without it
  const site = (info.tab && info.tab.pageDomain) || hostOf(tab.url);
  if (!site) return;
  if (params.get('reported') === '1') {
    $('broken-done').textContent = `Thanks. Crumbs trusts ${site} for an hour and reloaded the page. `
      + 'Your report is on the history page, under “Broken pages”.';
    $('broken-done').hidden = false;
    $('broken-ask').hidden = true;
  }
  $('broken').hidden = false;
  $('broken-button').addEventListener('click', async () => {
    const button = $('broken-button');
    button.disabled = true;
    $('broken-error').hidden = true;
    try {
      const fresh = await chrome.runtime.sendMessage({ type: 'tab-info', tabId: tab.id });
      await client.put(`/api/v1/choices/trust/${encodeURIComponent(site)}`, { duration: 'hour' });
      await client.post('/api/v1/breakage', { site, trackers: blockedTrackers(fresh && fresh.tab, site) });
      await chrome.runtime.sendMessage({ type: 'sync-rules' });
      await chrome.tabs.reload(tab.id);
      // Show the popup again for the same tab, now trusted, with the thanks.
      location.replace(`${location.pathname}?tab=${tab.id}&reported=1`);
    } catch (err) {
      $('broken-error').textContent = `That did not work: ${err && err.message}`;
      $('broken-error').hidden = false;
      button.disabled = false;
    }
  });
}

/**
 * @param {{tabAsked: Promise<object|null>, info: object, client: {put: Function, post: Function}}} got
 *   the tab (chrome.tabs), the background's tab-info answer, and the popup's companion client
 */
export async function start({ tabAsked, info, client }) {
  await Promise.all([setUpGpc(client).catch(() => {}),
    tabAsked.then((tab) => setUpBroken(client, tab, info)).catch(() => {})]);
}
