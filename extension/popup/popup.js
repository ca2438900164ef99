/**
 * The popup: who the current site's third parties are, and one-click control over each.
 *
 * It draws twice. First at once, from what the extension itself saw this page do (the background's
 * record of the tab: every third-party request and what became of it, named from the companion's
 * earlier answers): no storage read, no network, so the list is on screen as soon as the document is.
 * Then it refines that with the companion's answer for the site (its choices, its words for each
 * state, trust, and third parties the site used before), keeping the rows where they were. Only
 * what the page reported is said before the companion answers; while its answer is not in, the
 * buttons wait for it rather than guess which choice is in force.
 *
 * Every piece of data is put in the page with textContent (never innerHTML): domains, owners and
 * descriptions come from the companion, and URLs from websites. After a change the popup asks the
 * background to pull the new rules at once and offers to reload the tab.
 * `popup.html?tab=ID` shows a given tab (used when the popup is opened as a page, e.g. by tests).
 *
 * Only view.js (no imports of its own) is loaded with this file before the first draw, and the
 * stylesheet is in popup.html: each file an extension page loads waits its turn in the browser while it
 * finishes the popup's navigation (bench/bench_popup.py). domains.js is loaded when the page has no site
 * named, the extras (popup/extras.js) after the first draw's frame, and the companion client only when
 * a choice or the history link needs it.
 */
import { activeControl, arrange, awayText, isAwayStatus, offText, pageCountsText, pageStateLabel, pageSummary, plural,
  siteCountsText, siteStateLabel, summary, trustText, whyText } from './view.js';

performance.mark('crumbs:script'); // the bench's split of the popup's time (bench/bench_popup.py)
const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;

// Asked before anything else: the tab, and the background's record of it (one message).
const param = new URLSearchParams(location.search).get('tab');
const fixedTab = param !== null && /^\d+$/.test(param) ? Number(param) : null;
const tabAsked = fixedTab !== null ? chrome.tabs.get(fixedTab).catch(() => null)
  : chrome.tabs.query({ active: true, currentWindow: true }).then(([tab]) => tab || null);
// `prefetch`: the background starts asking the companion for the site's answer (the second draw) now.
const tabInfo = (id) => chrome.runtime.sendMessage({ type: 'tab-info', tabId: id, prefetch: true });
// Opened from the toolbar: the background is asked about the active tab while this page asks which tab
// that is, in parallel rather than one after the other; its answer counts only if it is about that tab.
const infoAsked = fixedTab !== null ? tabInfo(fixedTab)
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
 * nothing for it). */
function setText(li, selector, text) {
  const el = li.querySelector(selector);
  if (el.textContent !== (text || '')) el.textContent = text || '';
  return el;
}

/** This page's record of a domain (what each of its requests did), or null if the page did not use it. */
function onPage(domain) {
  const domains = (info && info.tab && info.tab.domains) || [];
  return domains.find((d) => d.domain === domain) || null;
}

/** The requests that got through, each with what let it: host and path, and the filter or lack of one. */
function renderThrough(li, page) {
  const rows = page && page.reached ? page.through : [];
  let box = li.querySelector('.through');
  if (!box && rows.length === 0) return; // nothing got through, and nothing to hide
  const drawn = JSON.stringify([rows, page ? page.reached : 0]);
  if (box && box.dataset.drawn === drawn) return; // the same requests as last drawn
  if (!box) box = rowPart(li, 'row-through', li.querySelector('.more') || li.querySelector('.seg'));
  box.dataset.drawn = drawn;
  box.querySelector('.through-list').replaceChildren(...rows.map((r) => {
    const item = document.createElement('li');
    const where = document.createElement('code');
    where.textContent = `${r.host}${r.path}`;
    item.append(where, document.createTextNode(` — let through by ${whyText(r.why)}`));
    return item;
  }));
  const more = page ? page.reached - rows.length : 0;
  box.querySelector('summary').textContent = `What got through (${page ? page.reached : 0})`;
  box.querySelector('.through-more').textContent = more > 0 ? `and ${plural(more, 'more request')}` : '';
  show(box, rows.length > 0);
}

/** A part of a row that most rows never show (its template in popup.html), made when a row first has
 * something for it, before `next`: 30 rows with two hidden <details> each were a third of the row's
 * elements for the first frame's style and layout to go through (bench/bench_popup.py). */
function rowPart(li, template, next) {
  const el = $(template).content.firstElementChild.cloneNode(true);
  li.insertBefore(el, next);
  return el;
}

/** " — from Disconnect" after a fact a knowledge source gave (the companion's owner_source/category_source);
 * nothing after Crumbs' own knowledge. */
function fromSource(source) {
  return source && source !== 'Crumbs' ? ` — from ${source}` : '';
}

const rowEls = new Map(); // each domain's row element: a redraw updates it in place

/** A domain's row, made once: its buttons act on the freshest data drawn for the domain (rowsByDomain). */
function rowFor(domain) {
  let li = rowEls.get(domain);
  if (!li) {
    li = $('row').content.firstElementChild.cloneNode(true);
    li.dataset.domain = domain;
    setText(li, '.domain', domain);
    li.querySelector('.seg').setAttribute('aria-label', `Your choice for ${domain}`);
    for (const btn of li.querySelectorAll('button[data-action]')) {
      btn.addEventListener('click', () => choose(domain, btn.dataset.action));
    }
    rowEls.set(domain, li);
  }
  return li;
}

const TONES = ['blocked', 'allowed', 'partial', 'neutral'];

/** Draw a third party in its row (made or updated in place: the second draw changes only what changed). */
function renderRow(tp) {
  const li = rowFor(tp.domain);
  rowsByDomain.set(tp.domain, tp);
  const page = onPage(tp.domain);
  // Before the companion's answer (or without it) the state is only what the page's requests did.
  const state = page ? pageStateLabel(page, live ? tp : null, away ? tp.choice : null, choseHere.has(tp.domain))
    : siteStateLabel(tp);
  for (const tone of TONES) li.classList.toggle(tone, tone === state.tone);
  const stateEl = setText(li, '.state', state.text);
  for (const tone of TONES) stateEl.classList.toggle(tone, tone === state.tone);
  if (state.standIns) stateEl.title = `Stand-ins: ${state.standIns}. The page's calls keep working; nothing is sent.`;
  else stateEl.removeAttribute('title');
  setText(li, '.owner', tp.owner ? tp.owner + fromSource(tp.owner_source) : 'Owner unknown');
  const category = tp.category_label || tp.category;
  setText(li, '.category', category ? category + fromSource(tp.category_source) : category);
  setText(li, '.counts', page ? pageCountsText(page) : siteCountsText(tp));
  renderThrough(li, page);
  show(setText(li, '.description', tp.description), Boolean(tp.description));
  let more = li.querySelector('.more');
  if (!more && tp.learns) {
    more = rowPart(li, 'row-more', li.querySelector('.seg'));
    // The whole description while "What it can learn" is open.
    more.addEventListener('toggle', () => li.classList.toggle('more-open', more.open));
  }
  if (more) {
    setText(li, '.learns', tp.learns);
    show(more, Boolean(tp.learns));
    if (!tp.learns) li.classList.remove('more-open'); // hidden: its description no longer shown whole
  }
  const seg = li.querySelector('.seg');
  // Which choice is in force is the companion's to say (or, while it is away, the choices queued here):
  // until its answer is in, no button claims to be the one in force.
  const known = live || away;
  if (!known) seg.setAttribute('aria-busy', 'true');
  else seg.removeAttribute('aria-busy');
  const active = known ? activeControl(tp.choice) : null;
  for (const btn of li.querySelectorAll('button[data-action]')) {
    const pressed = String(btn.dataset.action === active);
    if (btn.getAttribute('aria-pressed') !== pressed) btn.setAttribute('aria-pressed', pressed);
  }
  return li;
}

/** Make `list` hold exactly `rows`, in order, moving only the rows out of place (rows kept in place are
 * not laid out again from scratch). */
function placeRows(list, rows) {
  rows.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
  });
  while (list.children.length > rows.length) list.lastElementChild.remove();
}

function renderThirdParties(data) {
  const parties = Array.isArray(data.third_parties) ? data.third_parties : [];
  rowsByDomain.clear();
  const { trackers, others } = arrange(parties, shownOrder);
  if (shownOrder.length === 0) shownOrder = [...trackers, ...others].map((tp) => tp.domain);
  placeRows($('tracker-list'), trackers.map(renderRow));
  placeRows($('other-list'), others.map(renderRow));
  $('others-title').textContent = `Other third parties (${others.length})`;
  show($('others'), others.length > 0);
  show($('empty'), parties.length === 0);
  show($('parties'), true);
  if (!off) {
    // What this page did, when the extension saw it load; else what the companion knows of the site.
    const onThisPage = (info && info.tab && info.tab.domains) || [];
    $('status').textContent = onThisPage.length ? pageSummary(onThisPage) : summary(parties, data.trusted);
  }
}

/**
 * The companion is away: this page's third parties as the extension saw them, named from the
 * companion's last answers, with the choices made meanwhile shown as in force.
 */
function renderAway() {
  live = false;
  const domains = (info.tab && info.tab.domains) || [];
  const pending = info.offlineChoices || [];
  const rows = domains.map((d) => ({ ...d, choice: pendingChoice(pending, d.domain) }));
  renderThirdParties({ third_parties: rows });
  const trust = pending.find((o) => o.kind === 'trust' && o.site === site);
  const trusted = trust && trust.duration ? { until: trust.until } : null;
  $('trust-state').textContent = trustText(trusted);
  $('trust').classList.toggle('on', Boolean(trusted));
  show($('trust-on'), !trusted);
  show($('trust-off'), Boolean(trusted));
  show($('trust'), true);
  $('page-summary').textContent = pageSummary(domains);
  show($('page-summary'), true);
}

/**
 * The first draw, companion answering: this page's third parties as the extension recorded them,
 * before the companion's answer refines them. Nothing when the page recorded none (the companion may
 * know the site's from before: "none seen" would be premature).
 */
function renderFromPage() {
  const domains = (info.tab && info.tab.domains) || [];
  if (domains.length === 0) return;
  live = false;
  renderThirdParties({ third_parties: domains });
}

function pendingChoice(ops, domain) {
  const here = ops.find((o) => o.kind === 'site-tracker' && o.site === site && o.tracker === domain);
  const everywhere = ops.find((o) => o.kind === 'tracker' && o.tracker === domain);
  return { here: here ? here.action : null, everywhere: everywhere ? everywhere.action : null };
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

  info = await infoAsked;
  performance.mark('crumbs:tab-info');
  tabId = fixedTab !== null ? fixedTab : ((await tabAsked) || {}).id ?? null;
  // The companion's site for this page when it has named one (this page's verdicts, or its last answer
  // for this host); else the tab's host, which a choice resolves to the site when the companion is back.
  site = info.site || (info.tab && info.tab.pageDomain) || null;
  siteExact = Boolean(site);
  // (domains.js only then: one file fewer for the browser to serve before the first draw)
  if (!site) site = (await import('../src/domains.js')).hostOf(((await tabAsked) || {}).url);
  $('site').textContent = site || 'This page is not a website';
  off = info.status !== 'ok';
  away = isAwayStatus(info.status);
  $('status').textContent = away ? awayText(info.status)
    : off ? offText(info.status, info.statusText) : (site ? 'Crumbs is on' : 'Crumbs shows trackers on websites only.');
  $('status').classList.toggle('off', off && !away);
  $('status').classList.toggle('away', away);
  $('power').textContent = away ? 'Blocking · companion away' : off ? 'Off' : 'On';
  $('power').classList.toggle('off', off && !away);
  $('power').classList.toggle('away', away);
  $('power').title = `Rules version ${info.rulesVersion || 'none yet'}`;
  show($('power'), true);
  if (info.dropped) {
    $('dropped').textContent = `${plural(info.dropped, 'report')} ${info.dropped === 1 ? 'was' : 'were'} dropped while the companion was away.`;
    show($('dropped'), true);
  }
  if (info.status === 'unpaired' || info.status === 'unauthorized') {
    show($('unpaired'), true);
    show($('history'), false); // the history lives in the companion
    extras();
    ready();
    return;
  }
  if (!site) { extras(); ready(); return; }
  if (away) {
    renderAway();
    document.body.dataset.drawn = 'true';
    performance.mark('crumbs:first-draw');
    extras();
  } else {
    // The companion's answer asked before the first draw is made (the background has it on its way
    // already: see prefetchSite), so that it is here as soon as this page is free to take it.
    const asked = siteAnswer();
    asked.catch(() => {}); // its failure is handled when it is awaited, below
    renderFromPage();
    document.body.dataset.drawn = 'true'; // the page's own record is on screen
    performance.mark('crumbs:first-draw');
    extras();
    // The status line already says why it failed.
    siteLoaded = off ? loadSite(asked).catch(() => {}) : run(() => loadSite(asked), { choosing: false });
    await siteLoaded;
    siteLoaded = null;
  }
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

main().catch(showError);
