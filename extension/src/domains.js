/**
 * Hosts: the one thing the extension needs to know about a URL before reporting it.
 *
 * The extension does not guess sites: it ships no Public Suffix List, and a guess (the last two
 * labels) merged a.gob.mx with b.gob.mx and dropped real third parties. It reports every request
 * whose host differs from the page's host; the companion decides what is third-party with the one
 * site rule (companion/sites.py), and its verdicts say so.
 */

/** The lower-case host of an http(s)/ws(s) URL, or null for anything else. */
export function hostOf(url) {
  let u;
  try { u = new URL(url); } catch { return null; }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return null;
  return u.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase() || null;
}
