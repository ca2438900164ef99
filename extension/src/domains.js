/**
 * Hosts and a cheap guess at sites, for deciding which requests are worth reporting.
 *
 * Why a guess: the extension ships no Public Suffix List. It only needs to drop the obviously
 * first-party requests (same host, or same last-two-labels "site") before reporting; the companion
 * decides third-party status properly with the real list. Erring towards reporting is harmless.
 */

// Second-level labels that commonly sit under a country code (bbc.co.uk, abc.net.au): enough to
// keep most ccTLD sites from collapsing into one "site". Not exhaustive, and it needn't be.
const SECOND_LEVEL = new Set(['co', 'com', 'net', 'org', 'gov', 'ac', 'edu', 'ne', 'or', 'go']);

/** The lower-case host of an http(s)/ws(s) URL, or null for anything else. */
export function hostOf(url) {
  let u;
  try { u = new URL(url); } catch { return null; }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return null;
  return u.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase() || null;
}

/** A guess at the registrable domain of a host (the companion's answer wins when it has one). */
export function guessSite(host) {
  if (!host) return null;
  if (/^[\d.]+$/.test(host) || host.includes(':') || !host.includes('.')) return host;
  const labels = host.split('.');
  const n = labels.length;
  if (n >= 3 && labels[n - 1].length === 2 && SECOND_LEVEL.has(labels[n - 2])) {
    return labels.slice(n - 3).join('.');
  }
  return labels.slice(n - 2).join('.');
}

/** True when a request to requestHost from a page on pageHost may be third-party. */
export function maybeThirdParty(requestHost, pageHost) {
  if (!requestHost || !pageHost) return false;
  if (requestHost === pageHost) return false;
  return guessSite(requestHost) !== guessSite(pageHost);
}
