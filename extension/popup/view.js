/**
 * Pure helpers for the popup: plain words and ordering. No DOM, no chrome.*: node tests import them.
 */

/** "1 request", "3 requests". */
export function plural(n, word, many = `${word}s`) {
  const count = Number(n) || 0;
  return `${count} ${count === 1 ? word : many}`;
}

/**
 * What happens to a third party now, in plain words: {text, tone} with tone one of
 * 'blocked', 'allowed' (a tracker that gets through) or 'neutral' (not a known tracker).
 */
export function stateLabel(tp) {
  let label = decisionWords(tp);
  // Letting a non-tracker load is nothing to worry about.
  if (label.tone === 'allowed' && !tp.tracker) label = { ...label, tone: 'neutral' };
  // Its scripts are answered by Crumbs' stand-ins, so the page keeps working while nothing reaches it.
  if (tp.blocked_now && Array.isArray(tp.stand_ins) && tp.stand_ins.length) {
    label = { ...label, text: `${label.text} · replaced with a stand-in`, standIns: tp.stand_ins.join(', ') };
  }
  return label;
}

function decisionWords(tp) {
  const blocked = Boolean(tp.blocked_now);
  switch (tp.decided_by) {
    case 'site-tracker':
      return blocked
        ? { text: 'Blocked on this site by you', tone: 'blocked' }
        : { text: 'Allowed on this site by you', tone: 'allowed' };
    case 'site-trust':
      return { text: 'Allowed: you trust this site', tone: 'allowed' };
    case 'tracker-everywhere':
      return blocked
        ? { text: 'Blocked everywhere by you', tone: 'blocked' }
        : { text: 'Allowed: you allow it everywhere', tone: 'allowed' };
    case 'list-default':
      return { text: "Blocked (Crumbs' default)", tone: 'blocked' };
    case 'report-only':
      return { text: 'Reported only (report-only mode)', tone: 'allowed' };
    case 'not-a-tracker':
      return blocked
        ? { text: 'Blocked', tone: 'blocked' }
        : { text: 'Not a known tracker', tone: 'neutral' };
    default:
      return blocked ? { text: 'Blocked', tone: 'blocked' } : { text: 'Allowed', tone: 'allowed' };
  }
}

/**
 * Which of the four controls is in force: 'block-here', 'allow-here', 'allow-everywhere', 'reset'
 * (no choice of yours), or null (a choice the popup has no button for, e.g. blocked everywhere).
 * A choice for this site wins over one for everywhere, as in the companion's precedence.
 */
export function activeControl(choice) {
  const c = choice || {};
  if (c.here === 'block') return 'block-here';
  if (c.here === 'allow') return 'allow-here';
  if (c.everywhere === 'allow') return 'allow-everywhere';
  if (c.everywhere) return null;
  return 'reset';
}

/** In the main list: trackers, and anything blocked (e.g. a non-tracker you blocked). */
export const isProminent = (tp) => Boolean(tp.tracker || tp.blocked_now);

/**
 * Splits third parties into {trackers, others}, each sorted: blocked first, then trackers,
 * then most requests, then by domain. `previous` (domains in the order last shown) keeps rows
 * where they were after a change, so the row you just clicked does not jump away.
 */
export function arrange(parties, previous = []) {
  const list = Array.isArray(parties) ? parties.filter((tp) => tp && typeof tp.domain === 'string') : [];
  const shown = new Map(previous.map((d, i) => [d, i]));
  const rank = (tp) => (shown.has(tp.domain) ? shown.get(tp.domain) : previous.length);
  const flag = (tp, key) => Number(Boolean(tp[key]));
  const sorted = [...list].sort((a, b) => rank(a) - rank(b)
    || flag(b, 'blocked_now') - flag(a, 'blocked_now')
    || flag(b, 'tracker') - flag(a, 'tracker')
    || (Number(b.requests) || 0) - (Number(a.requests) || 0)
    || a.domain.localeCompare(b.domain));
  return { trackers: sorted.filter(isProminent), others: sorted.filter((tp) => !isProminent(tp)) };
}

/** The header's one line: "4 trackers on this site · 3 blocked". */
export function summary(parties, trusted) {
  const list = Array.isArray(parties) ? parties : [];
  const trackers = list.filter((tp) => tp && tp.tracker);
  const others = list.length - trackers.length;
  if (list.length === 0) return 'No third parties seen on this site yet';
  if (trackers.length === 0) return `No trackers seen · ${plural(others, 'other third party', 'other third parties')}`;
  const blocked = trackers.filter((tp) => tp.blocked_now).length;
  let tail;
  if (blocked === trackers.length) tail = trackers.length === 1 ? 'blocked' : 'all blocked';
  else if (blocked === 0) tail = trusted ? 'none blocked (trusted site)' : 'none blocked';
  else tail = `${blocked} blocked`;
  return `${plural(trackers.length, 'tracker')} on this site · ${tail}`;
}

/** "You trust this site …" (the browser tests rely on that start) or the untrusted hint. */
const shortTime = (t) => new Date(t).toLocaleString(undefined, { weekday: 'short', hour: 'numeric', minute: '2-digit' });

export function trustText(trusted, formatTime = shortTime) {
  if (!trusted) return 'Trusting a site lets every third party on it load.';
  if (trusted.until == null) return 'You trust this site: nothing on it is blocked but what you block on it yourself.';
  return `You trust this site until ${formatTime(trusted.until)}: nothing on it is blocked but what you block on it yourself.`;
}

/** Why Crumbs is off, in words for the popup (the badge's words point at the popup itself). */
const OFF_WORDS = {
  unpaired: "Crumbs is off: it is not paired with the companion on this computer yet. Choose 'Pair now'.",
  unauthorized: "Crumbs is off: the companion no longer accepts this browser. Choose 'Pair now' to pair it again.",
};

export function offText(status, statusText) {
  return OFF_WORDS[status] || statusText || 'Crumbs is off.';
}

/** The companion is away, but Crumbs is not off: what goes on meanwhile. */
const AWAY_WORDS = {
  unreachable: 'The companion is not answering. Blocking continues with the last rules, and the history will catch up when it is back.',
  impostor: "The program on the companion's port could not prove it is your companion, so Crumbs tells it nothing. Blocking continues with the last rules, and the history will catch up when the real companion is back.",
};

export const isAwayStatus = (status) => status in AWAY_WORDS;

export function awayText(status) {
  return AWAY_WORDS[status] || AWAY_WORDS.unreachable;
}

/**
 * Which filter, or lack of one, let a request through, from its verdict's fields
 * ({decided_by, filter, exception, list, would_block}); null when the companion has not answered.
 */
export function whyText(why) {
  if (!why) return 'not yet known: the companion has not judged it';
  const from = why.list ? ` (${why.list})` : '';
  switch (why.decided_by) {
    case 'site-trust': return 'you trust this site';
    case 'site-tracker': return 'you allow it on this site';
    case 'tracker-everywhere': return 'you allow it everywhere';
    case 'report-only': return 'report-only mode blocks nothing';
    case 'list-default':
      // The companion would block it, yet it got through: the browser's rules were not up to date.
      return "the browser's rules did not have this block yet";
    default:
      if (why.exception && why.filter) return `the exception ${why.filter}${from}`;
      return 'no filter names this address';
  }
}

/**
 * The state of a third party on the page in front of the person, from what each of its requests
 * did: {text, tone} with tone 'blocked' (none got through), 'partial', 'allowed' or 'neutral'.
 * `page` is the page's record of the domain (domainsOf), `tp` the companion's row for it, or null;
 * `pending`, while the companion is away, the choice made meanwhile in this browser ({here, everywhere});
 * `justChosen`: the person chose for this domain in this popup just now.
 * "Blocked" is said only when none of its requests got through. A block the person has just chosen is
 * said even though this load's requests went before it (with how many did); an older block whose
 * requests still got through is a leak, and is said as such ("Not blocked on this page").
 */
export function pageStateLabel(page, tp = null, pending = null, justChosen = false) {
  const policy = tp ? stateLabel(tp) : pendingLabel(pending);
  const tracker = Boolean(page.tracker || (tp && tp.tracker));
  const n = page.reached + page.blocked;
  if (n === 0) {
    if (page.cache) return { text: 'Nothing sent: served from the browser\'s cache', tone: 'neutral' };
    if (page.failed) return { text: 'Nothing reached it: the requests failed', tone: 'neutral' };
    return policy || { text: 'Waiting for its requests', tone: 'neutral' };
  }
  if (page.reached === 0) {
    return policy && policy.tone === 'blocked' ? policy : { text: 'Blocked on this page', tone: 'blocked' };
  }
  const chosen = justChosen && (tp ? PERSON_CHOICES.has(tp.decided_by) : Boolean(pending));
  if (chosen && policy && policy.tone === 'blocked') {
    const words = tp ? decisionWords(tp).text : policy.text; // without "replaced with a stand-in": not on this load
    return { text: `${words} now — ${gotThrough(page.reached, n)} got through on this load`, tone: 'partial' };
  }
  if (page.blocked > 0) {
    return { text: `Partly blocked — ${page.reached} of ${plural(n, 'request')} got through`, tone: tracker ? 'partial' : 'neutral' };
  }
  if (policy && policy.tone !== 'blocked') return policy;
  if (!tracker) return { text: 'Not a known tracker', tone: 'neutral' };
  return { text: `Not blocked on this page — ${gotThrough(n, n)} got through`, tone: 'allowed' };
}

/** "its request", "all 3 requests", "1 of 2 requests": which of a page's `n` requests to a domain got through. */
function gotThrough(reached, n) {
  if (reached === n) return n === 1 ? 'its request' : `all ${n} requests`;
  return `${reached} of ${plural(n, 'request')}`;
}

// The decisions that are the person's own (the rest are the lists', trust or report-only mode).
const PERSON_CHOICES = new Set(['site-tracker', 'tracker-everywhere']);

/** The words for a choice made in this browser while the companion is away, or null when there is none. */
function pendingLabel(pending) {
  if (!pending) return null;
  if (pending.here) return decisionWords({ decided_by: 'site-tracker', blocked_now: pending.here === 'block' });
  if (pending.everywhere) return decisionWords({ decided_by: 'tracker-everywhere', blocked_now: pending.everywhere === 'block' });
  return null;
}

/**
 * The state of a third party the page in front of you did not use, from the site's history: the
 * current decision, except that "Blocked" is not said of a domain some of whose requests got through.
 */
export function siteStateLabel(tp) {
  const policy = stateLabel(tp);
  const n = Number(tp.requests) || 0;
  const blocked = Math.min(Number(tp.blocked) || 0, n);
  const through = n - blocked;
  if (policy.tone !== 'blocked' || through === 0) return policy;
  if (blocked > 0) return { text: `Partly blocked — ${through} of ${plural(n, 'request')} got through`, tone: 'partial' };
  return { text: `${policy.text} now — ${through} of ${plural(n, 'request')} got through before`, tone: 'partial' };
}

/** "3 requests on this site, 2 blocked, 1 got through". */
export function siteCountsText(tp) {
  const n = Number(tp.requests) || 0;
  const blocked = Math.min(Number(tp.blocked) || 0, n);
  const parts = [`${plural(n, 'request')} on this site`];
  if (blocked) parts.push(`${blocked} blocked`);
  if (n - blocked && tp.tracker) parts.push(`${n - blocked} got through`);
  return parts.join(', ');
}

/** "On this page: 2 requests, 1 blocked, 1 got through" (and what never left the browser). */
export function pageCountsText(page) {
  const n = page.reached + page.blocked;
  const parts = [`On this page: ${plural(n, 'request')}`];
  if (page.blocked) parts.push(`${page.blocked} blocked`);
  if (page.reached) parts.push(`${page.reached} got through`);
  if (page.cache) parts.push(`${page.cache} from the cache`);
  if (page.failed) parts.push(`${page.failed} failed`);
  return parts.join(', ');
}

/** The header line for this page while the companion is away: "3 trackers on this page · 1 got through". */
export function pageSummary(domains) {
  const list = Array.isArray(domains) ? domains : [];
  const trackers = list.filter((d) => d.tracker);
  if (list.length === 0) return 'No third parties seen on this page yet';
  if (trackers.length === 0) return `No trackers seen · ${plural(list.length, 'other third party', 'other third parties')}`;
  const reached = trackers.reduce((s, d) => s + d.reached, 0);
  const tail = reached === 0 ? 'none got through' : `${plural(reached, 'request')} got through`;
  return `${plural(trackers.length, 'tracker')} on this page · ${tail}`;
}

// ---- What the popup shows, as data: drawn by popup.js into its page, and by the extension's worker into the
// page it serves for the popup's first frame (src/popupserve.js, popup/markup.js). One description, two
// painters, so the first frame and the page popup.js keeps up to date say the same. ----

/** " — from Disconnect" after a fact a knowledge source gave (the companion's owner_source/category_source);
 * nothing after Crumbs' own knowledge. */
export function fromSource(source) {
  return source && source !== 'Crumbs' ? ` — from ${source}` : '';
}

/**
 * One third party's row: {domain, tone, state, stateTitle, owner, category, counts, description, learns,
 * through, busy, active}. `page` is this page's record of the domain (or null: the page did not use it);
 * `live`: `tp` is the companion's answer; `away`: the companion is away and `tp.choice` holds the choices
 * made meanwhile in this browser; `justChosen`: the person chose for it in this popup.
 */
export function rowView(tp, page, { live = false, away = false, justChosen = false } = {}) {
  // Before the companion's answer (or without it) the state is only what the page's requests did.
  const state = page ? pageStateLabel(page, live ? tp : null, away ? tp.choice : null, justChosen) : siteStateLabel(tp);
  const category = tp.category_label || tp.category;
  const reached = page ? Number(page.reached) || 0 : 0;
  const through = reached && Array.isArray(page.through) ? page.through : [];
  // Which choice is in force is the companion's to say (or, while it is away, the choices queued here):
  // until its answer is in, no button claims to be the one in force.
  const known = live || away;
  return {
    domain: tp.domain,
    tone: state.tone,
    state: state.text,
    stateTitle: state.standIns ? `Stand-ins: ${state.standIns}. The page's calls keep working; nothing is sent.` : '',
    owner: tp.owner ? tp.owner + fromSource(tp.owner_source) : 'Owner unknown',
    category: category ? category + fromSource(tp.category_source) : '',
    counts: page ? pageCountsText(page) : siteCountsText(tp),
    description: tp.description || '',
    learns: tp.learns || '',
    // The requests that got through, each with what let it: host and path, and the filter or lack of one.
    through: through.length === 0 ? null : {
      title: `What got through (${reached})`,
      items: through.map((r) => ({ where: `${r.host}${r.path}`, why: ` — let through by ${whyText(r.why)}` })),
      more: reached > through.length ? `and ${plural(reached - through.length, 'more request')}` : '',
    },
    busy: !known,
    active: known ? activeControl(tp.choice) : null,
  };
}

/**
 * The list of third parties: {trackers, others} (row views, in the order to show), `othersTitle`, `empty`
 * (none at all), `status`: the header's line for them, and `parties`: what each row was drawn from (what a
 * click on it acts on). `pageDomains` is this page's record (each
 * domain's requests), `shownOrder` the domains in the order first shown (rows stay where they were).
 */
export function partiesView(parties, pageDomains, { live = false, away = false, trusted = null, shownOrder = [],
  choseHere = new Set() } = {}) {
  const list = Array.isArray(parties) ? parties : [];
  const onPage = new Map((Array.isArray(pageDomains) ? pageDomains : []).map((d) => [d.domain, d]));
  const { trackers, others } = arrange(list, shownOrder);
  const row = (tp) => rowView(tp, onPage.get(tp.domain) || null, { live, away, justChosen: choseHere.has(tp.domain) });
  return {
    trackers: trackers.map(row),
    others: others.map(row),
    othersTitle: `Other third parties (${others.length})`,
    empty: list.length === 0,
    parties: list,
    // What this page did, when the extension saw it load; else what the companion knows of the site.
    status: onPage.size ? pageSummary([...onPage.values()]) : summary(list, trusted),
  };
}

/** The choice made for `domain` on `site` while the companion was away ({here, everywhere}), from the queued ops. */
export function pendingChoice(ops, site, domain) {
  const list = Array.isArray(ops) ? ops : [];
  const here = list.find((o) => o.kind === 'site-tracker' && o.site === site && o.tracker === domain);
  const everywhere = list.find((o) => o.kind === 'tracker' && o.tracker === domain);
  return { here: here ? here.action : null, everywhere: everywhere ? everywhere.action : null };
}

/** The trust line while the companion is away: the trust chosen meanwhile in this browser, if any. */
export function awayTrust(ops, site, formatTime) {
  const trust = (Array.isArray(ops) ? ops : []).find((o) => o.kind === 'trust' && o.site === site);
  const trusted = trust && trust.duration ? { until: trust.until } : null;
  return { text: trustText(trusted, formatTime), on: Boolean(trusted) };
}

/**
 * The site the popup speaks of, as named for this page: the companion's (this page's verdicts, or its last
 * answer for this host), or null. With null, the popup (and the worker drawing its first frame) fall back
 * to the tab's host, which a choice resolves to the site once the companion answers (`siteExact` false).
 */
export function namedSite(info) {
  return info.site || (info.tab && info.tab.pageDomain) || null;
}

/**
 * The popup's first draw, from the background's record of the tab (`info`, its 'tab-info' answer) alone:
 * {site, status, statusTone, power, powerTone, powerTitle, dropped, unpaired, mode, parties, trust,
 * pageSummary}. `mode` is 'unpaired', 'no-site', 'away' (the companion is away: the page's record with the
 * choices made meanwhile, trust offered), 'page' (the page's record, the companion's answer to come) or
 * 'wait' (nothing recorded on this page: the companion's answer is all there will be). `site` is the site
 * the popup speaks of (null: the page is no website).
 */
export function firstView(info, site, { formatTime } = {}) {
  const status = info && info.status;
  const off = status !== 'ok';
  const away = isAwayStatus(status);
  const tone = away ? 'away' : off ? 'off' : '';
  const view = {
    site: site || 'This page is not a website',
    status: away ? awayText(status) : off ? offText(status, info && info.statusText)
      : (site ? 'Crumbs is on' : 'Crumbs shows trackers on websites only.'),
    statusTone: tone,
    power: away ? 'Blocking · companion away' : off ? 'Off' : 'On',
    powerTone: tone,
    powerTitle: `Rules version ${(info && info.rulesVersion) || 'none yet'}`,
    dropped: info && info.dropped
      ? `${plural(info.dropped, 'report')} ${info.dropped === 1 ? 'was' : 'were'} dropped while the companion was away.` : '',
    unpaired: status === 'unpaired' || status === 'unauthorized',
    mode: 'wait',
    parties: null,
    trust: null,
    pageSummary: null,
  };
  const domains = (info && info.tab && Array.isArray(info.tab.domains)) ? info.tab.domains : [];
  if (view.unpaired) view.mode = 'unpaired';
  else if (!site) view.mode = 'no-site';
  else if (away) {
    view.mode = 'away';
    const pending = info.offlineChoices || [];
    const rows = domains.map((d) => ({ ...d, choice: pendingChoice(pending, site, d.domain) }));
    view.parties = partiesView(rows, domains, { away: true });
    view.trust = awayTrust(pending, site, formatTime);
    view.pageSummary = pageSummary(domains);
  } else if (domains.length) {
    // Nothing when the page recorded none: the companion may know the site's from before, and "none seen"
    // would be premature.
    view.mode = 'page';
    view.parties = partiesView(domains, domains);
  }
  if (view.parties && !off) view.status = view.parties.status;
  return view;
}
