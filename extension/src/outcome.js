/**
 * What became of one observed request: did it leave the browser and reach its server?
 *
 * Why: Crumbs tells a person who saw them. A request counts as reaching its server only when the
 * server answered it over the network; one the browser's rules stopped is "blocked"; one served from
 * the browser's cache, or that failed with no answer, reached no one. Chromium also makes cache-only
 * attempts that fail with net::ERR_CACHE_MISS and are then retried under a new request id (fonts do
 * this): those are not requests at all, and are dropped so the retry is the one counted.
 * The table of every webRequest outcome is in extension/README.md. Pure: node tests it.
 */

/** Outcomes, as reported to the companion in each event's `outcome` field. */
export const OUTCOMES = Object.freeze({
  reached: 'reached', // the server answered (a response or a redirect from the network)
  blocked: 'blocked', // the browser's rules cancelled it, or replaced it by a local resource
  cache: 'cache', // served from the browser's cache: nothing left the browser
  failed: 'failed', // an error with no answer (no such host, refused, aborted): counted as reaching no one
});

/**
 * The outcomes the companion hears about. Cache hits and failures reached no one, and until the
 * companion counts an `outcome` it reads every event with browser_blocked=false as having got
 * through; so, for now, they stay in the extension (the popup shows them) and are not reported.
 */
export const REPORTED = new Set([OUTCOMES.reached, OUTCOMES.blocked]);

/** Chrome's and Firefox's error strings for a request cancelled by an extension's rules. */
export function blockedByBrowser(error) {
  return typeof error === 'string' && (error.includes('ERR_BLOCKED_BY_CLIENT') || error === 'NS_ERROR_ABORT');
}

/** Chromium's failed cache-only attempt: it is retried under a new request id, so it is no request at all. */
export function isCacheMiss(error) {
  return typeof error === 'string' && error.includes('ERR_CACHE_MISS');
}

/** onErrorOccurred: 'blocked', 'failed', or null for a cache-only attempt that must not be counted. */
export function outcomeOfError(details) {
  const error = details && details.error;
  if (isCacheMiss(error)) return null;
  return blockedByBrowser(error) ? OUTCOMES.blocked : OUTCOMES.failed;
}

/** onResponseStarted (or onCompleted): 'cache' when the browser's cache answered, else 'reached'. */
export function outcomeOfResponse(details) {
  return details && details.fromCache ? OUTCOMES.cache : OUTCOMES.reached;
}

const WEB_SCHEMES = /^(https?|wss?):/i;

/**
 * onBeforeRedirect: what the redirect says about the request so far.
 * - 'reached': a server answered with a redirect (the request left the browser; its target is a new request);
 * - 'blocked': the browser's rules replaced it with a local resource (a surrogate script, a data: URL);
 * - null: an internal redirect (HSTS or a rule upgrading http to https): the same request goes on.
 */
export function outcomeOfRedirect(details) {
  if (!details) return null;
  if (details.redirectUrl && !WEB_SCHEMES.test(details.redirectUrl)) return OUTCOMES.blocked;
  if (details.fromCache) return OUTCOMES.cache;
  const line = String(details.statusLine || '');
  // Chromium names its own redirects (HSTS, DNR upgradeScheme/redirect) "Internal Redirect"; they never
  // touched the network, and have no server address.
  if (/internal redirect/i.test(line)) return null;
  if (details.statusCode === 307 && !details.ip) return null;
  return OUTCOMES.reached;
}
