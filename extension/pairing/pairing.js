/**
 * The pairing page: the person types the 8-digit code the companion printed; the extension gets the token.
 *
 * Only extension pages can do this: the companion gives the token only to an extension Origin, and
 * this page is not web-accessible. The result is stored as {companion, token} in chrome.storage.local,
 * which the background notices at once.
 */
import { DEFAULT_PORT, pairWithCode } from '../src/companion.js';
import { clearConfig, getConfig, setConfig } from '../src/storage.js';

const $ = (id) => document.getElementById(id);

function say(text, ok) {
  $('result').textContent = text;
  $('result').className = ok ? 'ok' : 'fail';
}

/** The port of the paired companion, so the field shows the port in use rather than the default. */
function portOf(companion) {
  try { return new URL(companion).port || null; } catch { return null; }
}

async function showCurrent() {
  const cfg = await getConfig();
  $('current').textContent = cfg.token ? `Paired with the companion at ${cfg.companion}.` : 'Not paired yet.';
  $('unpair').hidden = !cfg.token;
  const port = cfg.token && portOf(cfg.companion);
  if (port) $('port').value = port;
}

$('port').value = String(DEFAULT_PORT);
$('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('pair').disabled = true;
  say('Pairing…', true);
  try {
    const paired = await pairWithCode({ code: $('code').value, port: $('port').value });
    await setConfig(paired);
    say('Paired. You can close this tab: the Crumbs badge now counts trackers on each site.', true);
    $('code').value = '';
  } catch (err) {
    say(String(err.message || err), false);
  } finally {
    $('pair').disabled = false;
    showCurrent();
  }
});
$('unpair').addEventListener('click', async () => {
  await clearConfig();
  say('Pairing forgotten.', true);
  showCurrent();
});
showCurrent();
