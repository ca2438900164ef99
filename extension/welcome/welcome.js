/**
 * The welcome page, opened once after install: what the badge says, how to keep it in sight, and
 * whether the companion is there (paired by itself, or the one command to run and the button to choose).
 *
 * The companion's state comes from the background (the same status the badge shows) and is redrawn
 * whenever the pairing or the status changes, so pairing in another tab, or the browser starting the
 * companion, shows here without a reload. Everything is put in the page with textContent.
 */
import { CompanionClient, isLoopbackBase } from '../src/companion.js';
import { COLOURS } from '../src/badgestate.js';
import { getConfig } from '../src/storage.js';

const $ = (id) => document.getElementById(id);
const client = new CompanionClient({ getConfig });

/** What the page says for each status: [headline, help, tone, which button]. */
export const STATES = {
  ok: ['Connected: Crumbs is paired with the companion on this computer.',
    'The history of who followed you is kept there. Choose \'Open history\' to see it.', 'ok', 'open-history'],
  unpaired: ['Not paired yet.',
    'If you ran `crumbs setup`, the browser starts the companion and pairs by itself: this line changes in a moment. '
    + 'Otherwise run `crumbs serve` in a terminal, then choose \'Pair now\' and type the 8-digit code it prints.',
    'off', 'pair-now'],
  unauthorized: ['The companion refused this browser\'s pairing.',
    'Run `crumbs pair` in a terminal for a new code, then choose \'Pair now\'.', 'off', 'pair-now'],
  unreachable: ['Paired, but the companion is not answering.',
    'Blocking continues with the last rules, and the history will catch up when it is back. To start it: `crumbs serve`.',
    'away', null],
  impostor: ['Paired, but the program on the companion\'s port could not prove it is your companion.',
    'Crumbs tells it nothing. Blocking continues with the last rules. Start the real companion: `crumbs serve`.', 'away', null],
};

async function refresh() {
  let info;
  try { info = await chrome.runtime.sendMessage({ type: 'tab-info', tabId: null }); } catch { return; }
  const [headline, help, tone, button] = STATES[info.status] || STATES.unreachable;
  const state = $('companion-state');
  state.textContent = info.status === 'ok' && info.companion ? `${headline} (${info.companion})` : headline;
  state.className = `state-${tone}`;
  // `command` in the words becomes <code>command</code> (text nodes only: nothing is parsed as markup).
  $('companion-help').replaceChildren(...help.split('`').map((part, i) => {
    if (i % 2 === 0) return document.createTextNode(part);
    const code = document.createElement('code');
    code.textContent = part;
    return code;
  }));
  $('companion-help').hidden = false;
  $('pair-now').hidden = button !== 'pair-now';
  $('open-history').hidden = button !== 'open-history';
  $('power').textContent = tone === 'ok' ? 'On' : tone === 'away' ? 'Blocking · companion away' : 'Off';
  $('power').className = `power ${tone === 'ok' ? '' : tone}`;
  $('power').hidden = false;
  document.body.dataset.status = info.status;
}

function showError(err) {
  $('error').textContent = err ? String(err.message || err) : '';
  $('error').hidden = !err;
}

for (const el of document.querySelectorAll('.sample')) el.style.background = COLOURS[el.dataset.colour];
const firefox = /firefox/i.test(navigator.userAgent);
$('pin-firefox').hidden = !firefox;
$('pin-chromium').hidden = firefox;

$('pair-now').addEventListener('click', () => chrome.tabs.create({ url: chrome.runtime.getURL('pairing/pairing.html') }));
$('open-history').addEventListener('click', async () => {
  showError(null);
  try {
    const { body } = await client.post('/api/v1/history-link', {});
    const url = body && body.url;
    if (!url || !isLoopbackBase(`${new URL(url).origin}/`)) throw new Error('the companion sent an unexpected history address');
    await chrome.tabs.create({ url });
  } catch (err) {
    showError(err);
  }
});
chrome.storage.onChanged.addListener((changes, area) => {
  if ((area === 'session' && 'status' in changes) || (area === 'local' && ('token' in changes || 'companion' in changes))) {
    setTimeout(refresh, 300); // let the background reach the companion first
  }
});
setInterval(refresh, 3000);
refresh().then(() => { document.body.dataset.ready = 'true'; });
