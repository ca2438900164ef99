/**
 * Hosts: the one thing the extension needs to know about a URL before reporting it.
 *
 * The extension does not guess sites: it ships no Public Suffix List, and a guess (the last two
 * labels) merged a.gob.mx with b.gob.mx and dropped real third parties. It reports every request
 * whose host differs from the page's host; the companion decides what is third-party with the one
 * site rule (companion/sites.py), and its verdicts say so.
 */

/**
 * The start of a URL as the browser hands it over (webRequest, tabs): already canonical (lower-case
 * scheme and host, a port only when not the default), so the host is a slice of the string. Parsing
 * with URL costs far more in the extension's worker (Blink's URL, through the bindings: the largest
 * JS item per request in bench/bench_extension.py). Anything not plainly in that form, and every
 * host the URL parser could rewrite (numbers: IPv4 forms; punycode it would check), goes to URL.
 */
const CANONICAL = /^(?:https?|wss?):\/\/([a-z0-9.-]+)(?::(\d{1,5}))?(?=[/?#]|$)/;

function canonicalHost(m) {
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535) || m[1].includes('xn--')) return undefined;
  const labels = m[1].split('.');
  if (labels[labels.length - 1] === '') labels.pop();
  if (labels.length === 0 || /^[0-9]/.test(labels[labels.length - 1])) return undefined;
  return m[1].replace(/\.$/, '');
}

/** The lower-case host of an http(s)/ws(s) URL, or null for anything else. */
export function hostOf(url) {
  if (typeof url === 'string') {
    const host = canonicalHost(CANONICAL.exec(url));
    if (host !== undefined) return host || null;
  }
  return parsedHostOf(url);
}

/** Characters or segments in a path that URL would encode or resolve: such paths go to URL. */
const NOT_CANONICAL_PATH = /[^\x21-\x7e]|["<>`{}\\]|\/\.|%2e/i;

/**
 * Host and path (no query, no fragment) of an http(s)/ws(s) URL: {host, path} as URL would give
 * (hostname, pathname), by slicing a canonical URL; null when it has no web host.
 */
export function hostAndPath(url) {
  if (typeof url === 'string') {
    const m = CANONICAL.exec(url);
    const host = canonicalHost(m);
    if (host) {
      const rest = url.slice(m[0].length);
      const end = rest.search(/[?#]/);
      const path = (end < 0 ? rest : rest.slice(0, end)) || '/';
      if (!NOT_CANONICAL_PATH.test(path)) return { host, path };
    }
  }
  const host = parsedHostOf(url);
  return host ? { host, path: new URL(url).pathname } : null;
}

/** hostOf by the URL parser: the reference, and the way for anything not canonical. */
export function parsedHostOf(url) {
  let u;
  try { u = new URL(url); } catch { return null; }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return null;
  return u.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase() || null;
}
