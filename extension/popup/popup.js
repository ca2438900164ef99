/**
 * The popup: who the current site's third parties are, and one-click control over each.
 *
 * It draws twice. First at once, from what the extension itself saw this page do (the background's
 * record of the tab: every third-party request and what became of it, named from the companion's
 * earlier answers): no storage read, no network. Then it refines that with the companion's answer for
 * the site (its choices, its words for each state, trust, and third parties the site used before),
 * keeping the rows where they were. Only what the page reported is said before the companion answers;
 * while its answer is not in, the buttons wait for it rather than guess which choice is in force.
 *
 * In Chromium the first draw is in the page before this script runs: the extension's worker serves
 * popup.html with it drawn in (src/popupserve.js), from the same description of it (view.js's firstView)
 * and the same markup (markup.js), with the tab's record it drew from in a JSON block. This script then
 * takes the page over: it finds those rows, wires their buttons, and draws the same first view again,
 * which changes nothing on screen. The served page loads this script once it is shown (popup/boot.js,
 * which also keeps the clicks made before). Where no worker serves the page (Firefox), this script draws it.
 *
 * Data reaches the page as text (textContent), or as markup made by markup.js, which escapes every piece of
 * it: domains, owners and descriptions come from the companion, and URLs from websites. After a change the
 * popup asks the background to pull the new rules at once and offers to reload the tab.
 * `popup.html?tab=ID` shows a given tab (used when the popup is opened as a page, e.g. by tests).
 *
 * Only view.js and markup.js (no imports of their own) are loaded with this file before the first draw,
 * and the stylesheet is in popup.html: each file an extension page loads waits its turn in the browser
 * while it finishes the popup's navigation (bench/bench_popup.py). domains.js is loaded when the page has
 * no site named, the extras (popup/extras.js) after the first draw's frame, and the companion client only
 * when a choice or the history link needs it.
 */
import { awayText, awayTrust, firstView, isAwayStatus, namedSite, pageSummary, partiesView, pendingChoice, trustText } from './view.js';
import { moreHtml, rowHtml, throughHtml } from './markup.js';

performance.mark('crumbs:script'); // the bench's split of the popup's time (bench/bench_popup.py)
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

// The first frame, when the extension's worker drew it into this page: the tab's record it drew from, and
// its rows (this page takes them over rather than drawing them again).
const firstFrame = (() => {
  try { return JSON.parse(document.getElementById('first-frame').textContent); } catch { return null; }
})();
const firstRows = new Map([...document.querySelectorAll('#third-parties li.tp[data-domain]')]
  .map((li) => [li.dataset.domain, li]));

// Asked before anything else: the tab, and the background's record of it (one message, or none when the
// worker drew the first frame).
const param = new URLSearchParams(location.search).get('tab');
const fixedTab = param !== null && /^\d+$/.test(param) ? Number(param) : null;
const tabAsked = fixedTab !== null ? chrome.tabs.get(fixedTab).catch(() => null)
  : chrome.tabs.query({ active: true, currentWindow: true }).then(([tab]) => tab || null);
// `prefetch`: the background starts asking the companion for the site's answer (the second draw) now.
const tabInfo = (id) => chrome.runtime.sendMessage({ type: 'tab-info', tabId: id, prefetch: true });
// Opened from the toolbar: the background is asked about the active tab while this page asks which tab
// that is, in parallel rather than one after the other; its answer counts only if it is about that tab.
const infoAsked = firstFrame ? (fixedTab !== null ? Promise.resolve(firstFrame.info)
  : tabAsked.then((tab) => (tab && tab.id === firstFrame.info.tabId ? firstFrame.info : tabInfo(tab ? tab.id : null))))
  : fixedTab !== null ? tabInfo(fixedTab)
  : Promise.all([tabAsked, chrome.runtime.sendMessage({ type: 'tab-info', active: true, prefetch: true })])
    .then(([tab, info]) => (tab && info && info.tabId === tab.id ? info : tabInfo(tab ? tab.id : null)));

/** This page's companion client, loaded when a choice or the history link needs it; the pairing is read from
 * storage once per popup. */
let clientLoaded = null;
function companion() {
  if (!clientLoaded) {
    clientLoaded = Promise.all([import('../src/companion.js'), import('../src/storage.js')]).then(([c, s]) => {
      let config = null;
      const client = new c.CompanionClient({ getConfig: () => (config = config || s.getConfig()) });
      return { client, isLoopbackBase: c.isLoopbackBase };
    });
  }
  return clientLoaded;
}
const client = {
  get: async (path) => (await companion()).client.get(path),
  post: async (path, body) => (await companion()).client.post(path, body),
  put: async (path, body) => (await companion()).client.put(path, body),
  del: async (path) => (await companion()).client.del(path),
};

let tabId = null;
let site = null;
let off = false; // the status line keeps saying why Crumbs is off, or that the companion is away
let away = false; // the companion is away: the page's own record is shown, choices wait in the browser
let info = null; // the background's answer about this tab
let siteExact = false; // whether `site` is the companion's word for this page's site
let shownOrder = []; // domains in the order first shown: rows stay put after a change
let live = false; // the rows shown are the companion's (its choices are known)
let siteLoaded = null; // the companion's first answer for the site, while it is awaited
const rowsByDomain = new Map(); // the rows last drawn, by domain: a click acts on the freshest
const choseHere = new Set(); // domains the person made a choice for in this popup (their rows say it at once)

function show(el, on) { el.hidden = !on; }

function showError(err) {
  $('error').textContent = err ? String(err.message || err) : '';
  show($('error'), Boolean(err));
}

/** Set an element's text, leaving it alone when it already says that (a redraw then costs the browser
 * nothing for it, and the first frame the worker drew stays as it is). */
function setText(el, text) {
  if (el.textContent !== (text || '')) el.textContent = text || '';
  return el;
}
const setIn = (li, selector, text) => setText(li.querySelector(selector), text);

/** Markup made by markup.js (which escapes every piece of data in it) as an element. */
function fromHtml(html) {
  const t = document.createElement('template');
  t.innerHTML = html;
  return t.content.firstElementChild;
}

const rowEls = new Map(); // each domain's row element: a redraw updates it in place

/** A domain's row: the one drawn before (by this page, or in the first frame the worker served), else a new
 * one. Its buttons act on the freshest data drawn for the domain (rowsByDomain). */
function rowFor(row) {
  let li = rowEls.get(row.domain);
  if (!li) {
    li = firstRows.get(row.domain) || fromHtml(rowHtml(row));
    firstRows.delete(row.domain);
    for (const btn of li.querySelectorAll('button[data-action]')) {
      btn.addEventListener('click', () => choose(row.domain, btn.dataset.action));
    }
    rowEls.set(row.domain, li);
  }
  return li;
}

const TONES = ['blocked', 'allowed', 'partial', 'neutral'];

/** Draw a row view (view.js) in its row, made or updated in place: a redraw changes only what changed. */
function paintRow(row) {
  const li = rowFor(row);
  for (const tone of TONES) li.classList.toggle(tone, tone === row.tone);
  const stateEl = setIn(li, '.state', row.state);
  for (const tone of TONES) stateEl.classList.toggle(tone, tone === row.tone);
  if (row.stateTitle) stateEl.title = row.stateTitle;
  else stateEl.removeAttribute('title');
  setIn(li, '.owner', row.owner);
  setIn(li, '.category', row.category);
  setIn(li, '.counts', row.counts);
  paintThrough(li, row.through);
  show(setIn(li, '.description', row.description), Boolean(row.description));
  let more = li.querySelector('.more');
  if (!more && row.learns) {
    more = li.insertBefore(fromHtml(moreHtml(row.learns)), li.querySelector('.seg'));
  }
  if (more) {
    setIn(li, '.learns', row.learns);
    show(more, Boolean(row.learns));
    if (!row.learns) li.classList.remove('more-open'); // hidden: its description no longer shown whole
  }
  if (more && !more.dataset.wired) {
    more.dataset.wired = 'true';
    // The whole description while "What it can learn" is open.
    more.addEventListener('toggle', () => li.classList.toggle('more-open', more.open));
  }
  const seg = li.querySelector('.seg');
  if (row.busy) seg.setAttribute('aria-busy', 'true');
  else seg.removeAttribute('aria-busy');
  for (const btn of li.querySelectorAll('button[data-action]')) {
    const pressed = String(btn.dataset.action === row.active);
    if (btn.getAttribute('aria-pressed') !== pressed) btn.setAttribute('aria-pressed', pressed);
  }
  return li;
}

/** "What got through" in a row: made when the row first has requests for it, replaced when they change. */
function paintThrough(li, through) {
  const box = li.querySelector('.through');
  if (!through) { if (box) show(box, false); return; }
  const made = fromHtml(throughHtml(through));
  if (box && box.innerHTML === made.innerHTML) { show(box, true); return; } // the same requests as drawn
  if (box) { made.open = box.open; box.replaceWith(made); } else li.insertBefore(made, li.querySelector('.more') || li.querySelector('.seg'));
}

/** Make `list` hold exactly `rows`, in order, moving only the rows out of place (rows kept in place are
 * not laid out again from scratch). */
function placeRows(list, rows) {
  rows.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.children.length > rows.length) list.lastElementChild.remove();
}

/** Draw the list of third parties (a partiesView of view.js). */
function paintParties(view) {
  rowsByDomain.clear();
  for (const tp of view.parties) if (tp && typeof tp.domain === 'string') rowsByDomain.set(tp.domain, tp);
  if (shownOrder.length === 0) shownOrder = [...view.trackers, ...view.others].map((row) => row.domain);
  placeRows($('tracker-list'), view.trackers.map(paintRow));
  placeRows($('other-list'), view.others.map(paintRow));
  setText($('others-title'), view.othersTitle);
  show($('others'), view.others.length > 0);
  show($('empty'), view.empty);
  show($('parties'), true);
  if (!off) setText($('status'), view.status);
}

function renderThirdParties(data) {
  const parties = Array.isArray(data.third_parties) ? data.third_parties : [];
  paintParties(partiesView(parties, (info && info.tab && info.tab.domains) || [],
    { live, away, trusted: data.trusted, shownOrder, choseHere }));
}

/** The trust line and its controls ({text, on}). */
function paintTrust(trust) {
  setText($('trust-state'), trust.text);
  $('trust').classList.toggle('on', trust.on);
  show($('trust-on'), !trust.on);
  show($('trust-off'), trust.on);
  show($('trust'), true);
}

/**
 * The companion is away: this page's third parties as the extension saw them, named from the
 * companion's last answers, with the choices made meanwhile shown as in force.
 */
function renderAway() {
  live = false;
  const domains = (info.tab && info.tab.domains) || [];
  const pending = info.offlineChoices || [];
  renderThirdParties({ third_parties: domains.map((d) => ({ ...d, choice: pendingChoice(pending, site, d.domain) })) });
  paintTrust(awayTrust(pending, site));
  setText($('page-summary'), pageSummary(domains));
  show($('page-summary'), true);
}

/**
 * The first draw (firstView of view.js), from the background's record of the tab alone: the page's own
 * record when the extension saw it load, or the companion away. Done by the worker already when it served
 * this page (the elements then say it, and each setText leaves them be); done here otherwise.
 */
function paintFirst(view) {
  setText($('site'), view.site);
  setText($('status'), view.status);
  $('status').classList.toggle('off', view.statusTone === 'off');
  $('status').classList.toggle('away', view.statusTone === 'away');
  setText($('power'), view.power);
  $('power').classList.toggle('off', view.powerTone === 'off');
  $('power').classList.toggle('away', view.powerTone === 'away');
  $('power').title = view.powerTitle;
  show($('power'), true);
  setText($('dropped'), view.dropped);
  show($('dropped'), Boolean(view.dropped));
  show($('unpaired'), view.unpaired);
  show($('history'), !view.unpaired); // the history lives in the companion
  if (view.parties) {
    live = false;
    paintParties(view.parties);
  }
  if (view.trust) paintTrust(view.trust);
  if (view.pageSummary !== null) { setText($('page-summary'), view.pageSummary); show($('page-summary'), true); }
}

/** Make a choice in the browser now, for the companion later (it is away). */
async function chooseAway(op) {
  const answer = await chrome.runtime.sendMessage({ type: 'offline-choice', op });
  if (!answer || answer.error) throw new Error(answer ? answer.error : 'the extension did not answer');
  info = await chrome.runtime.sendMessage({ type: 'tab-info', tabId });
  renderAway();
  $('away-note').textContent = answer.applied
    ? 'Done in this browser now. The companion gets this choice when it is back.'
    : 'The companion gets this choice when it is back; until then the browser keeps the last rules.';
  show($('away-note'), true);
  show($('reload'), true);
}

/** The op a button stands for, in the companion's terms (see src/offline.js). */
function awayOp(tp, action) {
  const exact = Boolean(tp.named);
  const base = { site, tracker: tp.domain, exact: exact && siteExact, pageUrl: info.tab && info.tab.pageUrl,
    trackerUrl: tp.through && tp.through[0] ? `https://${tp.through[0].host}/` : `https://${tp.domain}/` };
  if (action === 'block-here') return [{ kind: 'site-tracker', ...base, action: 'block' }];
  if (action === 'allow-here') return [{ kind: 'site-tracker', ...base, action: 'allow' }];
  if (action === 'allow-everywhere') return [{ kind: 'tracker', ...base, action: 'allow' }, { kind: 'site-tracker', ...base, action: null }];
  return [{ kind: 'site-tracker', ...base, action: null }, { kind: 'tracker', ...base, action: null }];
}

/**
 * The companion's answer for the site, asked through the background: its client has proved the
 * companion already, where this page's own would first need a /health round trip (choices, which
 * change things, still go through this page's client and its own proof).
 */
async function siteAnswer() {
  const answer = await chrome.runtime.sendMessage({ type: 'site', site });
  if (!answer || answer.error || !answer.body) {
    const err = new Error(answer ? answer.error : 'the extension did not answer');
    err.kind = answer ? answer.kind : 'unreachable';
    throw err;
  }
  return answer.body;
}

async function loadSite(asked = siteAnswer()) {
  const body = await asked;
  live = true;
  paintTrust({ text: trustText(body.trusted), on: Boolean(body.trusted) });
  renderThirdParties(body);
}

/** After any change: the rules reach the browser now, and the page needs a reload to show it. */
async function changed() {
  await chrome.runtime.sendMessage({ type: 'sync-rules' });
  show($('reload'), true);
  await loadSite();
}

/** Run fn, showing what went wrong; `choosing`: fn makes a choice (the words after a failure say so). */
async function run(fn, { choosing = true } = {}) {
  showError(null);
  try {
    await fn();
  } catch (err) {
    if (err && err.kind === 'unreachable' && !away && site) {
      // The companion stopped answering while the popup was open: from now on choices wait in the browser.
      info = await chrome.runtime.sendMessage({ type: 'tab-info', tabId });
      away = true;
      off = true;
      $('status').textContent = awayText('unreachable');
      $('status').classList.add('away');
      $('power').textContent = 'Blocking · companion away';
      $('power').classList.add('away');
      renderAway();
      // Opening the popup made no choice: the status line says enough then.
      if (choosing) showError(new Error('The companion stopped answering, so that choice was not made. Choose again: it then applies in this browser at once and reaches the companion when it is back.'));
      return;
    }
    showError(err);
  }
}

function choose(domain, action) {
  return run(async () => {
    // A click on the first draw waits for the companion's answer: which choice to undo is its to say.
    if (siteLoaded) await siteLoaded.catch(() => {});
    const tp = rowsByDomain.get(domain) || { domain };
    choseHere.add(domain);
    if (away) { for (const op of awayOp(tp, action)) await chooseAway(op); return; }
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
  const trustOp = (duration) => ({ kind: 'trust', site, duration, exact: siteExact, pageUrl: info.tab && info.tab.pageUrl });
  $('trust-on').addEventListener('click', () => run(async () => {
    if (away) { await chooseAway(trustOp($('trust-duration').value)); return; }
    await client.put(`/api/v1/choices/trust/${enc(site)}`, { duration: $('trust-duration').value });
    await changed();
  }));
  $('trust-off').addEventListener('click', () => run(async () => {
    if (away) { await chooseAway(trustOp(null)); return; }
    await client.del(`/api/v1/choices/trust/${enc(site)}`);
    await changed();
  }));
  $('history').addEventListener('click', () => run(async () => {
    const { body } = await client.post('/api/v1/history-link', {});
    const url = body && body.url;
    const base = url ? `${new URL(url).origin}/` : '';
    if (!(await companion()).isLoopbackBase(base)) throw new Error('the companion sent an unexpected history address');
    await chrome.tabs.create({ url });
  }));

  // (Served drawn, this script is loaded after the first frame is on screen: boot.js.)
  info = await infoAsked;
  performance.mark('crumbs:tab-info');
  tabId = fixedTab !== null ? fixedTab : ((await tabAsked) || {}).id ?? null;
  if (firstFrame && firstFrame.info === info) {
    ({ site, siteExact } = firstFrame);
  } else {
    // The site named for this page; else the tab's host, which a choice resolves to the site when the
    // companion is back.
    site = namedSite(info);
    siteExact = Boolean(site);
    // (domains.js only then: one file fewer for the browser to serve before the first draw)
    if (!site) site = (await import('../src/domains.js')).hostOf(((await tabAsked) || {}).url);
  }
  off = info.status !== 'ok';
  away = isAwayStatus(info.status);
  const first = firstView(info, site);
  // The companion's answer asked before the first draw is made (the background has it on its way
  // already: see prefetchSite), so that it is here as soon as this page is free to take it.
  const asked = first.mode === 'page' || first.mode === 'wait' ? siteAnswer() : null;
  if (asked) asked.catch(() => {}); // its failure is handled when it is awaited, below
  paintFirst(first);
  // The clicks made on the served page count only if this page went on with what it showed (the same tab).
  const sameAsServed = Boolean(firstFrame) && firstFrame.info === info;
  if (!asked) {
    takeOver(sameAsServed);
    if (away) {
      document.body.dataset.drawn = 'true';
      performance.mark('crumbs:first-draw');
    }
    extras();
    ready();
    return;
  }
  document.body.dataset.drawn = 'true'; // the page's own record is on screen
  performance.mark('crumbs:first-draw');
  extras();
  // The status line already says why it failed.
  siteLoaded = off ? loadSite(asked).catch(() => {}) : run(() => loadSite(asked), { choosing: false });
  takeOver(sameAsServed); // (after siteLoaded is set: a kept click waits for the answer, as any click now does)
  await siteLoaded;
  siteLoaded = null;
  ready();
}

/** Everything this opening will draw is drawn (the companion's answer, or what says why there is none):
 * lets tests and the bench wait for it, whichever way the popup went. */
function ready() {
  performance.mark('crumbs:ready');
  document.body.dataset.ready = 'true';
}

/** "Page broken?" and the GPC switch (extras.js), after the first draw's frame: nothing there is needed for
 * it, and its fetch and evaluation would otherwise come before that frame. */
function extras() {
  let asked = false;
  const load = () => {
    if (asked) return;
    asked = true;
    import('./extras.js').then((m) => m.start({ tabAsked, info, client })).catch(() => {});
  };
  requestAnimationFrame(() => setTimeout(load, 0));
  setTimeout(load, 100); // no frames while the page is hidden
}

/** The served page's buttons are this script's from now on; the clicks made on them before it ran (boot.js
 * kept them) are made again when `replay` (this page shows what the person clicked on), else dropped. */
function takeOver(replay) {
  if (self.crumbsBoot) self.crumbsBoot.takeOver(replay);
}

main().catch(showError).finally(() => takeOver(false)); // (a second call changes nothing)
