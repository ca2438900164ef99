/**
 * Pure helper for "Page broken?": which tracker domains the browser blocked on the tab's page.
 * No DOM, no chrome.*: node tests import it.
 */

/**
 * The tracker domains of a tab summary (TabStates.summary) that were blocked, sorted, without the
 * page's own site and at most 200 (what the companion takes).
 * @param {{trackers?: Array<{domain: string, blocked: boolean}>}|null} summary
 * @param {string|null} site
 */
export function blockedTrackers(summary, site = null) {
  const list = summary && Array.isArray(summary.trackers) ? summary.trackers : [];
  const out = new Set();
  for (const t of list) {
    if (t && t.blocked && typeof t.domain === 'string' && t.domain && t.domain !== site) out.add(t.domain);
  }
  return [...out].sort().slice(0, 200);
}
