/**
 * Pure helper for "Page broken?": which tracker domains the browser blocked on the tab's page.
 * No DOM, no chrome.*: node tests import it.
 */

/**
 * The tracker domains of a tab summary (TabStates.summary: `domains`, one entry per domain with its
 * per-request outcome counts) that the browser blocked at least once on the page, sorted, without the
 * page's own site and at most 200 (what the companion takes). A tracker all of whose requests got
 * through was not blocked, so blocking it cannot be what broke the page.
 * @param {{domains?: Array<{domain: string, tracker: boolean, blocked: number}>}|null} summary
 * @param {string|null} site
 */
export function blockedTrackers(summary, site = null) {
  const list = summary && Array.isArray(summary.domains) ? summary.domains : [];
  const out = new Set();
  for (const d of list) {
    if (d && d.tracker && d.blocked > 0 && typeof d.domain === 'string' && d.domain && d.domain !== site) out.add(d.domain);
  }
  return [...out].sort().slice(0, 200);
}
