/**
 * The popup: who the current site's third parties are, and one-click control over each.
 *
 * Every piece of data is put in the page with textContent (never innerHTML): domains, owners and
 * descriptions come from the companion, and URLs from websites. After a change the popup asks the
 * background to pull the new rules at once and offers to reload the tab.
 * `popup.html?tab=ID` shows a given tab (used when the popup is opened as a page, e.g. by tests).
 */
import { CompanionClient, isLoopbackBase } from '../src/companion.js';
import { hostOf } from '../src/domains.js';
import { getConfig } from '../src/storage.js';
import { activeControl, arrange, offText, plural, stateLabel, summary, trustText } from './view.js';

const $ = (id) => document.getElementById(id);
const client = new CompanionClient({ getConfig });
const enc = encodeURIComponent;

let tabId = null;
let site = null;
let off = false; // the status line keeps saying why Crumbs is off
let shownOrder = []; // domains in the order first shown: rows stay put after a change

function show(el, on) { el.hidden = !on; }

function showError(err) {
  $('error').textContent = err ? String(err.message || err) : '';
  show($('error'), Boolean(err));
}

async function currentTab() {
  const param = new URLSearchParams(location.search).get('tab');
  if (param !== null && /^\d+$/.test(param)) return chrome.tabs.get(Number(param));
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab;
}

function setText(li, selector, text) {
  const el = li.querySelector(selector);
  el.textContent = text || '';
  return el;
}

function renderRow(tp) {
  const li = $('row').content.firstElementChild.cloneNode(true);
  li.dataset.domain = tp.domain;
  const state = stateLabel(tp);
  li.classList.add(state.tone);
  setText(li, '.domain', tp.domain);
  const stateEl = setText(li, '.state', state.text);
  stateEl.classList.add(state.tone);
  if (state.standIns) stateEl.title = `Stand-ins: ${state.standIns}. The page's calls keep working; nothing is sent.`;
  setText(li, '.owner', tp.owner || 'Owner unknown');
  setText(li, '.category', tp.category_label || tp.category);
  const requests = plural(tp.requests, 'request');
  setText(li, '.counts', tp.blocked ? `${requests}, ${tp.blocked} blocked` : requests);
  show(setText(li, '.description', tp.description), Boolean(tp.description));
  setText(li, '.learns', tp.learns);
  show(li.querySelector('.more'), Boolean(tp.learns));
  li.querySelector('.seg').setAttribute('aria-label', `Your choice for ${tp.domain}`);
  const active = activeControl(tp.choice);
  for (const btn of li.querySelectorAll('button[data-action]')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.action === active));
    btn.addEventListener('click', () => choose(tp, btn.dataset.action));
  }
  return li;
}

function renderThirdParties(data) {
  const parties = Array.isArray(data.third_parties) ? data.third_parties : [];
  const { trackers, others } = arrange(parties, shownOrder);
  if (shownOrder.length === 0) shownOrder = [...trackers, ...others].map((tp) => tp.domain);
  $('tracker-list').replaceChildren(...trackers.map(renderRow));
  $('other-list').replaceChildren(...others.map(renderRow));
  $('others-title').textContent = `Other third parties (${others.length})`;
  show($('others'), others.length > 0);
  show($('empty'), parties.length === 0);
  show($('parties'), true);
  if (!off) $('status').textContent = summary(parties, data.trusted);
}

async function loadSite() {
  const { body } = await client.get(`/api/v1/sites/${enc(site)}`);
  $('trust-state').textContent = trustText(body.trusted);
  $('trust').classList.toggle('on', Boolean(body.trusted));
  show($('trust-on'), !body.trusted);
  show($('trust-off'), Boolean(body.trusted));
  show($('trust'), true);
  renderThirdParties(body);
}

/** After any change: the rules reach the browser now, and the page needs a reload to show it. */
async function changed() {
  await chrome.runtime.sendMessage({ type: 'sync-rules' });
  show($('reload'), true);
  await loadSite();
}

async function run(fn) {
  showError(null);
  try { await fn(); } catch (err) { showError(err); }
}

function choose(tp, action) {
  return run(async () => {
    const here = `/api/v1/choices/sites/${enc(site)}/trackers/${enc(tp.domain)}`;
    const everywhere = `/api/v1/choices/trackers/${enc(tp.domain)}`;
    if (action === 'block-here') await client.put(here, { action: 'block' });
    else if (action === 'allow-here') await client.put(here, { action: 'allow' });
    else if (action === 'allow-everywhere') {
      await client.put(everywhere, { action: 'allow' });
      // "Everywhere" includes here: a choice for this site would otherwise still win.
      if ((tp.choice || {}).here) await client.del(here);
    } else if (action === 'reset') {
      if ((tp.choice || {}).here) await client.del(here);
      if ((tp.choice || {}).everywhere) await client.del(everywhere);
    }
    await changed();
  });
}

async function main() {
  $('open-pairing').addEventListener('click', () => chrome.tabs.create({ url: chrome.runtime.getURL('pairing/pairing.html') }));
  $('reload-tab').addEventListener('click', async () => { await chrome.tabs.reload(tabId); show($('reload'), false); });
  $('trust-on').addEventListener('click', () => run(async () => {
    await client.put(`/api/v1/choices/trust/${enc(site)}`, { duration: $('trust-duration').value });
    await changed();
  }));
  $('trust-off').addEventListener('click', () => run(async () => {
    await client.del(`/api/v1/choices/trust/${enc(site)}`);
    await changed();
  }));
  $('history').addEventListener('click', () => run(async () => {
    const { body } = await client.post('/api/v1/history-link', {});
    const url = body && body.url;
    const base = url ? `${new URL(url).origin}/` : '';
    if (!isLoopbackBase(base)) throw new Error('the companion sent an unexpected history address');
    await chrome.tabs.create({ url });
  }));

  const tab = await currentTab();
  tabId = tab ? tab.id : null;
  const info = await chrome.runtime.sendMessage({ type: 'tab-info', tabId });
  const host = hostOf(tab && tab.url);
  // The companion's site for this page when it has answered; else the host (the companion reduces it).
  site = (info.tab && info.tab.pageDomain) || host;
  $('site').textContent = site || 'This page is not a website';
  off = info.status !== 'ok';
  $('status').textContent = off ? offText(info.status, info.statusText) : (site ? 'Crumbs is on' : 'Crumbs shows trackers on websites only.');
  $('status').classList.toggle('off', off);
  $('power').textContent = off ? 'Off' : 'On';
  $('power').classList.toggle('off', off);
  $('power').title = `Rules version ${info.rulesVersion || 'none yet'}`;
  show($('power'), true);
  if (info.dropped) {
    $('dropped').textContent = `${plural(info.dropped, 'report')} ${info.dropped === 1 ? 'was' : 'were'} dropped while the companion was away.`;
    show($('dropped'), true);
  }
  if (info.status === 'unpaired' || info.status === 'unauthorized') {
    show($('unpaired'), true);
    show($('history'), false); // the history lives in the companion
    return;
  }
  if (!site) return;
  if (off) await loadSite().catch(() => {}); // the status line already says why it failed
  else await run(loadSite);
  document.body.dataset.ready = 'true'; // lets tests wait for the first render
}

main().catch(showError);
