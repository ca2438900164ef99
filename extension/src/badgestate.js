/**
 * What each tab's page did, request by request, and what its badge says about it.
 *
 * Pure: no chrome APIs, so node can test it. `badge.js` turns a view into chrome.action calls.
 * Every third-party request of the current page is kept with its outcome (reached its server, blocked,
 * served from the cache, failed: see outcome.js) and, once the companion has answered, its verdict.
 * The extension sees every request to another host; one the companion calls first-party (another host
 * of the page's site) is dropped when its verdict comes, or at once if an earlier answer said so.
 * A domain is "blocked" on a page only while none of its requests got through: counting per request,
 * not per verdict, is what keeps the badge and the popup true. A page is identified by a navigation
 * number per tab; answers that come back for an older page are not counted on the new one.
 */

import { REPORTED } from './outcome.js';
import { hostAndPath, hostOf } from './domains.js';

export const COLOURS = Object.freeze({
  blocked: '#1b7f3b', // trackers on the page, and none of their requests got through
  reached: '#c0392b', // at least one tracker request reached its server
  off: '#6b6b6b',
});

/**
 * Statuses in which Crumbs is really off (nothing is reported and the companion does not count it),
 * with the tooltip saying why and what to do. The names of buttons are the ones on screen.
 */
export const OFF_REASONS = Object.freeze({
  unpaired: "Crumbs is off: not paired with the companion yet. Open the Crumbs popup and choose 'Pair now'.",
  unauthorized: "Crumbs is off: the companion refused this browser's pairing. Open the Crumbs popup and choose 'Pair now'.",
});

/**
 * Statuses in which the companion is away but Crumbs is not off: the browser keeps blocking with the
 * last rules it got, the popup still shows the page, and reports wait to be delivered.
 */
export const AWAY_REASONS = Object.freeze({
  unreachable: 'The companion is not answering: blocking continues with the last rules, and the history will catch up when it is back.',
  impostor: 'The program on the companion\'s port could not prove it is your companion, so Crumbs tells it nothing: blocking continues with the last rules, and the history will catch up when the real companion is back.',
});

/** True when the status means "off" (no number on the badge). */
export const isOff = (status) => status in OFF_REASONS;
/** True when the companion is away but blocking goes on. */
export const isAway = (status) => status in AWAY_REASONS;

const MAX_REQUESTS = 1500; // per page; older answered requests beyond it are folded into counts
const MAX_PATH = 160;

/** Host and path (no query: it often carries identifiers) of a URL, the path shortened. */
export function hostPath(url) {
  const got = hostAndPath(url); // a slice of the browser's canonical URL, not a URL parse per request
  if (!got) return { host: null, path: '' };
  const path = got.path.length > MAX_PATH ? `${got.path.slice(0, MAX_PATH - 1)}…` : got.path;
  return { host: got.host, path };
}

/** The verdict fields a request keeps (what the popup explains), from a companion VERDICT. */
function keep(verdict) {
  return {
    domain: verdict.domain || null,
    tracker: Boolean(verdict.tracker),
    decided_by: verdict.decided_by || null,
    filter: verdict.filter || null,
    exception: Boolean(verdict.exception),
    list: verdict.list || null,
    blocked: Boolean(verdict.blocked),
  };
}

/*
 * A document the browser names (Firefox) belongs to the tab's page when it is on the same host. Not the
 * same URL: a page's own history.pushState changes its document's URL without a new page, and a reload
 * has the same URL as the page it replaces (there, the page before's beacon cannot be told apart).
 */
export class TabStates {
  constructor() { this.tabs = new Map(); }

  /** The state of a tab, created empty if unknown. */
  get(tabId) {
    let t = this.tabs.get(tabId);
    if (!t) {
      t = { nav: 0, pageUrl: null, pageHost: null, pageDomain: null, requests: [], folded: {}, about: {} };
      this.tabs.set(tabId, t);
    }
    return t;
  }

  /** A top-level document request started in the tab at `at` (the browser's event time): a page may follow. */
  loading(tabId, at) {
    this.get(tabId).loadingAt = at;
  }

  /**
   * A new page was committed in the tab: forget the old page's requests. Returns the new nav number.
   * The requests that started after the new page's own request are kept: they are the new page's.
   * Firefox under load reports a page's first subresources before it says the page's response started
   * (seen: a news page's two head scripts counted for the old page and lost, the badge saying 1 of 3).
   */
  navigate(tabId, pageUrl) {
    const t = this.get(tabId);
    const since = typeof t.loadingAt === 'number' ? t.loadingAt : Infinity;
    // Kept: what started after the new page's own request, unless the browser named another site's
    // document as the request's page (the page before's last beacon, Firefox: see addRequest).
    const host = hostOf(pageUrl);
    const early = t.requests.filter((r) => typeof r.at === 'number' && r.at >= since && (!r.pageHost || r.pageHost === host));
    t.nav += 1;
    t.startedAt = since;
    t.loadingAt = null;
    t.previousUrl = t.pageUrl; // a leaving document's requests are recorded for it (reporting.js)
    t.pageUrl = pageUrl;
    t.pageHost = host; // once per page, not once per request (the reporter asks for it each time)
    t.pageDomain = null;
    t.requests = early;
    t.folded = {};
    const about = {}; // per domain, once: owner, category, description (kept apart from the many requests)
    for (const r of early) {
      const domain = (r.v && r.v.domain) || (r.facts && r.facts.domain);
      if (domain && t.about[domain]) about[domain] = t.about[domain];
    }
    t.about = about;
    return t.nav;
  }

  /** Whether a request of page `nav` started at `at` belongs to the tab's page now: it was made for it, or
   * for the page before while the new page's own request had already started (see navigate). */
  current(t, nav, at = null) {
    if (t.nav === nav) return true;
    return nav === t.nav - 1 && typeof at === 'number' && typeof t.startedAt === 'number' && at >= t.startedAt;
  }

  remove(tabId) { this.tabs.delete(tabId); }

  /**
   * A request of page `nav` to another host settled with `outcome`. `rid` links the companion's verdict to
   * it later; `facts` ({domain, tracker, owner, ...} from earlier answers about this host, or null) stand
   * in until then, and for good while the companion is away. `pageSite` is the site the companion last
   * gave for this page's host, or null. The extension reports every other host (it does not guess
   * sites), so a request whose known domain is the page's own site is first-party and is not kept.
   * Returns true when the badge may have changed.
   */
  addRequest(tabId, nav, { rid, url, outcome, type = null, at = null, page = null }, facts = null, pageSite = null) {
    // A tab the extension has heard nothing of yet (nav 0): Firefox may report a new tab's first page's
    // scripts before its own top-level request (seen: the news page's three trackers dropped, badge 0 of 3).
    // They wait here, and navigate() keeps them as that page's if they started after its request.
    const t = this.tabs.get(tabId) || (nav === 0 ? this.get(tabId) : null);
    if (!t || !this.current(t, nav, at) || !outcome) return false;
    // `page`: the request's own top document, where the browser names it (Firefox). Another host's than the
    // tab's page, with no navigation pending, is the page before's: its unload beacon, once the tab moved on.
    const pending = typeof t.loadingAt === 'number';
    const pageHost = page ? hostOf(page) : null;
    if (pageHost && t.pageUrl && !pending && pageHost !== t.pageHost) return false; // hosts, not URLs: see above TabStates
    const { host, path } = hostPath(url);
    if (!host) return false;
    const known = facts && facts.domain ? { domain: facts.domain, tracker: Boolean(facts.tracker) } : null;
    if (known && known.domain === (t.pageDomain || pageSite)) return false; // the page's own site
    if (known && !t.about[known.domain]) t.about[known.domain] = describe(facts);
    const r = { rid, host, path, type, outcome, v: null, facts: known, at };
    // Kept whether or not a navigation is pending: Firefox may report the page before's beacon before the
    // extension hears of the next page's own request (seen: the beacon settled, then loading(), earlier in
    // time, then navigate()); navigate() keeps a request that names a document only if it is the new page's.
    if (pageHost) r.pageHost = pageHost;
    t.requests.push(r);
    if (t.requests.length > MAX_REQUESTS) fold(t);
    return true;
  }

  /** The companion's verdict for request `rid` of page `nav`. Returns true when the badge may have changed. */
  addVerdict(tabId, nav, rid, verdict) {
    const t = this.tabs.get(tabId);
    // The page before's too: its requests kept by navigate() are found by rid, the rest are not.
    if (!t || !(t.nav === nav || nav === t.nav - 1) || !verdict) return false;
    // The page's site, from a verdict of this page's own requests only: one of the page before's (an early
    // request kept by navigate, reported with the tab's old page in Chromium) names the site before.
    if (verdict.page_domain && t.nav === nav) t.pageDomain = verdict.page_domain;
    let r = null;
    for (let i = t.requests.length - 1; i >= 0 && !r; i -= 1) if (t.requests[i].rid === rid) r = t.requests[i]; // answers come soon: look from the end
    if (!r) return false;
    if (verdict.third_party === false) {
      // Another host of the page's own site (the companion's site rule says so): not a third party.
      t.requests = t.requests.filter((x) => x !== r);
      return true;
    }
    r.v = keep(verdict);
    if (verdict.domain) t.about[verdict.domain] = describe(verdict);
    return true;
  }

  /** Plain data for the popup: the page, and its third parties by domain (see domainsOf). */
  summary(tabId) {
    const t = this.tabs.get(tabId);
    if (!t) return null;
    return { pageUrl: t.pageUrl, pageDomain: t.pageDomain, domains: domainsOf(t) };
  }

  toJSON() { return [...this.tabs]; }

  static fromJSON(data) {
    const s = new TabStates();
    for (const [id, t] of Array.isArray(data) ? data : []) {
      if (t && Array.isArray(t.requests)) s.tabs.set(id, { folded: {}, about: {}, ...t, pageHost: hostOf(t.pageUrl) });
    }
    return s;
  }
}

const describe = (x) => ({ owner: x.owner || null, category_label: x.category_label || null,
  description: x.description || null });

/** Fold the oldest requests that have a verdict into per-domain counts, so a busy page stays bounded. */
function fold(t) {
  const keepFrom = t.requests.length - Math.floor(MAX_REQUESTS * 0.8);
  const rest = [];
  t.requests.forEach((r, i) => {
    if (i < keepFrom && r.v) {
      const d = domainOfRequest(r);
      const f = t.folded[d.domain] || (t.folded[d.domain] = { tracker: false, reached: 0, blocked: 0, cache: 0, failed: 0 });
      f.tracker = f.tracker || d.tracker;
      f[r.outcome] = (f[r.outcome] || 0) + 1;
    } else {
      rest.push(r);
    }
  });
  t.requests = rest.length > MAX_REQUESTS ? rest.slice(rest.length - MAX_REQUESTS) : rest;
}

/**
 * Which domain a request belongs to and whether it counts as a tracker's: the companion's verdict,
 * else what it said about this host before, else (nothing known, e.g. the companion away since
 * install) the host itself, a tracker if the browser's rules blocked it (the rules block trackers).
 */
function domainOfRequest(r) {
  const known = r.v || r.facts;
  return {
    domain: (known && known.domain) || r.host,
    tracker: known ? Boolean(known.tracker) : r.outcome === 'blocked',
    known: Boolean(r.v),
    named: Boolean(known && known.domain), // the companion named this domain (else it is the bare host)
  };
}

/**
 * A page's third parties by domain: [{domain, tracker, owner, category_label, description, requests,
 * reached, blocked, cache, failed, through: [{host, path, why}], pending, named}], trackers first.
 * `requests` counts what was sent or stopped (reached + blocked); cache hits and failures are apart.
 * A domain is a tracker's when any of its requests is; every request to it then counts, because a
 * request the lists do not name still reaches the same company.
 */
export function domainsOf(tab) {
  const out = new Map();
  const abouts = (tab && tab.about) || {};
  const entry = (domain) => {
    const about = abouts[domain] || {};
    let e = out.get(domain);
    if (!e) {
      e = { domain, tracker: false, owner: null, category_label: null, description: null,
        requests: 0, reached: 0, blocked: 0, cache: 0, failed: 0, through: [], pending: 0, named: false };
      out.set(domain, e);
    }
    for (const k of ['owner', 'category_label', 'description']) if (!e[k] && about[k]) e[k] = about[k];
    return e;
  };
  for (const [domain, f] of Object.entries((tab && tab.folded) || {})) {
    const e = entry(domain);
    e.tracker = e.tracker || f.tracker;
    e.named = true;
    for (const k of ['reached', 'blocked', 'cache', 'failed']) e[k] += f[k] || 0;
  }
  for (const r of (tab && tab.requests) || []) {
    const d = domainOfRequest(r);
    const e = entry(d.domain);
    e.tracker = e.tracker || d.tracker;
    e.named = e.named || d.named;
    e[r.outcome] = (e[r.outcome] || 0) + 1;
    if (!d.known && REPORTED.has(r.outcome)) e.pending += 1; // the companion's answer is still to come
    if (r.outcome === 'reached' && e.through.length < 20) {
      e.through.push({ host: r.host, path: r.path, why: r.v ? whyFields(r.v) : null });
    }
  }
  const list = [...out.values()];
  for (const e of list) e.requests = e.reached + e.blocked;
  return list.sort((a, b) => Number(b.tracker) - Number(a.tracker) || b.requests - a.requests
    || a.domain.localeCompare(b.domain));
}

const whyFields = (v) => ({ decided_by: v.decided_by, filter: v.filter, exception: v.exception, list: v.list,
  would_block: v.blocked });

/** The badge's facts for a page: {trackers, blocked, reached, reachedDomains}. */
export function pageCounts(tab) {
  const trackers = domainsOf(tab).filter((d) => d.tracker);
  return {
    trackers: trackers.length,
    blocked: trackers.reduce((n, d) => n + d.blocked, 0),
    reached: trackers.reduce((n, d) => n + d.reached, 0),
    reachedDomains: trackers.filter((d) => d.reached > 0).length,
  };
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The badge for one tab: {text, color, title}.
 * status: 'ok', an AWAY_REASONS key (still counting, still blocking) or an OFF_REASONS key.
 * The number is the distinct tracker domains on the page; green only when none of their requests
 * reached a server; the tooltip says how many did.
 */
export function badgeView(tab, status) {
  if (isOff(status)) return { text: 'off', color: COLOURS.off, title: OFF_REASONS[status] };
  const away = isAway(status) ? `\n${AWAY_REASONS[status]}` : '';
  const c = pageCounts(tab);
  if (c.trackers === 0) {
    return { text: '', color: COLOURS.blocked, title: `Crumbs: no trackers seen on this page${away}` };
  }
  const head = `Crumbs: ${plural(c.trackers, 'tracker')} on this page`;
  if (c.reached === 0) {
    return { text: String(c.trackers), color: COLOURS.blocked,
      title: `${head}: all blocked, none of their requests got through (${plural(c.blocked, 'request')} blocked)${away}` };
  }
  const whom = c.reachedDomains === c.trackers && c.trackers === 1 ? '' : ` (to ${c.reachedDomains} of them)`;
  return { text: String(c.trackers), color: COLOURS.reached,
    title: `${head}: ${plural(c.reached, 'request')} got through${whom}, ${c.blocked} blocked${away}` };
}
