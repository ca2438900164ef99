/**
 * What each tab's badge should say: the distinct tracker domains on its current page, or "off".
 *
 * Pure: no chrome APIs, so node can test it. `badge.js` turns a view into chrome.action calls.
 * A page is identified by a navigation number per tab; verdicts that come back for an older page
 * (reports delivered late from the offline queue) are not counted on the new one.
 */

export const COLOURS = Object.freeze({
  blocked: '#1b7f3b', // every tracker on the page was blocked
  allowed: '#c0392b', // at least one tracker got through
  off: '#6b6b6b',
});

/** Why the badge is off, as the tooltip says it. */
export const OFF_REASONS = Object.freeze({
  unpaired: 'Crumbs is off: not paired with the companion yet. Open the Crumbs popup to pair.',
  unreachable: 'Crumbs is off: the companion is not answering. Start it with `crumbs serve`. Blocking rules still apply.',
  unauthorized: 'Crumbs is off: the companion refused the pairing token. Pair again from the Crumbs popup.',
  impostor: 'Crumbs is off: the program on the companion\'s port could not prove it is your companion. Blocking rules still apply.',
});

export class TabStates {
  constructor() { this.tabs = new Map(); }

  /** The state of a tab, created empty if unknown. */
  get(tabId) {
    let t = this.tabs.get(tabId);
    if (!t) {
      t = { nav: 0, pageUrl: null, pageDomain: null, trackers: new Map() };
      this.tabs.set(tabId, t);
    }
    return t;
  }

  /** A new page was committed in the tab: forget the old page's trackers. Returns the new nav number. */
  navigate(tabId, pageUrl) {
    const t = this.get(tabId);
    t.nav += 1;
    t.pageUrl = pageUrl;
    t.pageDomain = null;
    t.trackers = new Map();
    return t.nav;
  }

  remove(tabId) { this.tabs.delete(tabId); }

  /**
   * Count a companion verdict for a request made by page `nav` of the tab.
   * browserBlocked: whether the browser actually blocked the request (what really happened wins).
   * Returns true when the tab's badge may have changed.
   */
  addVerdict(tabId, nav, verdict, browserBlocked) {
    const t = this.tabs.get(tabId);
    if (!t || t.nav !== nav || !verdict) return false;
    if (verdict.page_domain) t.pageDomain = verdict.page_domain;
    if (!verdict.tracker || !verdict.domain) return false;
    const blocked = Boolean(browserBlocked);
    const seen = t.trackers.get(verdict.domain);
    // A domain counts as blocked only while every request to it on this page was blocked.
    t.trackers.set(verdict.domain, {
      blocked: seen ? seen.blocked && blocked : blocked,
      owner: verdict.owner || null,
      requests: (seen ? seen.requests : 0) + 1,
    });
    return true;
  }

  /** Plain data for the popup. */
  summary(tabId) {
    const t = this.tabs.get(tabId);
    if (!t) return null;
    return {
      pageUrl: t.pageUrl,
      pageDomain: t.pageDomain,
      trackers: [...t.trackers].map(([domain, v]) => ({ domain, ...v })),
    };
  }

  toJSON() {
    return [...this.tabs].map(([id, t]) => [id, { ...t, trackers: [...t.trackers] }]);
  }

  static fromJSON(data) {
    const s = new TabStates();
    for (const [id, t] of Array.isArray(data) ? data : []) {
      s.tabs.set(id, { ...t, trackers: new Map(t.trackers || []) });
    }
    return s;
  }
}

/**
 * The badge for one tab: {text, color, title}.
 * status: 'ok' or one of the OFF_REASONS keys.
 */
export function badgeView(tab, status) {
  if (status !== 'ok') {
    return { text: 'off', color: COLOURS.off, title: OFF_REASONS[status] || OFF_REASONS.unreachable };
  }
  const trackers = tab ? [...tab.trackers.values()] : [];
  if (trackers.length === 0) {
    return { text: '', color: COLOURS.blocked, title: 'Crumbs: no trackers seen on this page' };
  }
  const blocked = trackers.filter((t) => t.blocked).length;
  const allowed = trackers.length - blocked;
  const n = trackers.length;
  return {
    text: String(n),
    color: allowed ? COLOURS.allowed : COLOURS.blocked,
    title: `Crumbs: ${n} tracker${n === 1 ? '' : 's'} on this page: ${blocked} blocked, ${allowed} allowed`,
  };
}
