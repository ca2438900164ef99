/**
 * The popup: who the current site's third parties are, and one-click control over each.
 *
 * Every piece of data is put in the page with textContent (never innerHTML): domains, owners and
 * descriptions come from the companion, and URLs from websites. After a change the popup asks the
 * background to pull the new rules at once and offers to reload the tab.
 * `popup.html?tab=ID` shows a given tab (used when the popup is opened as a page, e.g. by tests).
 */
import { CompanionClient, isLoopbackBase } from '../src/companion.js';
import { guessSite, hostOf } from '../src/domains.js';
import { getConfig } from '../src/storage.js';

const $ = (id) => document.getElementById(id);
const client = new CompanionClient({ getConfig });
const enc = encodeURIComponent;

let tabId = null;
let site = null;

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

function describeTrust(trusted) {
  if (!trusted) return 'This site is not trusted: trackers on it are blocked as usual.';
  if (trusted.until == null) return 'You trust this site: everything on it loads.';
  return `You trust this site until ${new Date(trusted.until).toLocaleString()}: everything on it loads.`;
}

function stateText(tp) {
  const state = tp.blocked_now ? 'blocked' : 'allowed';
  const why = tp.decided_by ? ` (${typeof tp.decided_by === 'string' ? tp.decided_by : JSON.stringify(tp.decided_by)})` : '';
  return `${state}${why}`;
}

function renderThirdParties(data) {
  const list = $('third-parties');
  list.replaceChildren();
  const parties = Array.isArray(data.third_parties) ? data.third_parties : [];
  show($('empty'), parties.length === 0);
  const tpl = $('row');
  for (const tp of parties) {
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.domain = tp.domain;
    li.querySelector('.domain').textContent = tp.domain;
    const state = li.querySelector('.state');
    state.textContent = tp.tracker ? stateText(tp) : `not a known tracker, ${stateText(tp)}`;
    state.classList.add(tp.blocked_now ? 'blocked' : 'allowed');
    li.querySelector('.owner').textContent = tp.owner ? `Owner: ${tp.owner}` : 'Owner unknown';
    li.querySelector('.category').textContent = tp.category_label || tp.category ? `· ${tp.category_label || tp.category}` : '';
    const what = [tp.description, tp.learns ? `It learns: ${tp.learns}` : ''].filter(Boolean).join(' ');
    li.querySelector('.description').textContent = what;
    li.querySelector('.counts').textContent = `${tp.requests ?? 0} requests seen, ${tp.blocked ?? 0} blocked`;
    const choice = tp.choice || {};
    const pressed = {
      'block-here': choice.here === 'block',
      'allow-here': choice.here === 'allow',
      'allow-everywhere': choice.everywhere === 'allow',
      reset: !choice.here && !choice.everywhere,
    };
    for (const btn of li.querySelectorAll('button[data-action]')) {
      btn.setAttribute('aria-pressed', String(pressed[btn.dataset.action]));
      btn.addEventListener('click', () => choose(tp, btn.dataset.action));
    }
    list.append(li);
  }
}

async function loadSite() {
  const { body } = await client.get(`/api/v1/sites/${enc(site)}`);
  $('trust-state').textContent = describeTrust(body.trusted);
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
      // "Everywhere" includes here: a block on this site would otherwise still win.
      if ((tp.choice || {}).here === 'block') await client.del(here);
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
  site = (info.tab && info.tab.pageDomain) || guessSite(host);
  $('site').textContent = site || 'This page is not a website';
  const off = info.status !== 'ok';
  $('status').textContent = off ? info.statusText : `Rules version ${info.rulesVersion || 'none yet'}`;
  $('status').classList.toggle('off', off);
  if (info.dropped) {
    $('dropped').textContent = `${info.dropped} reports were dropped while the companion was away.`;
    show($('dropped'), true);
  }
  if (info.status === 'unpaired' || info.status === 'unauthorized') { show($('unpaired'), true); return; }
  if (!site) return;
  await run(loadSite);
  document.body.dataset.ready = 'true'; // lets tests wait for the first render
}

main().catch(showError);
