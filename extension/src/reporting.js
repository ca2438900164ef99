/**
 * Reporting: turns observed third-party requests into events and delivers them to the companion.
 *
 * Observation only: webRequest listeners never block, so no page load waits on the companion.
 * A request is reported once it is settled (response started, or failed), so that we know whether
 * the browser's own rules blocked it. Events wait in a bounded queue that is persisted to extension
 * storage, so they survive the service worker being stopped and the companion being down; delivery
 * retries with backoff.
 *
 * Delivery is at least once: a batch the companion recorded but whose answer was lost stays queued and
 * is sent again, and so is a batch delivered after the queue's last save when the browser quits. So
 * each event carries its Reporter's `stream` (a random id per worker start) and a `seq` that grows in
 * queue order (delivery order): the companion keeps the highest seq it recorded per stream and records
 * an event at or below it only once (companion/storage/delivered.py). An event restored from a saved
 * queue keeps the stream and seq it was queued with.
 *
 * No `chrome` here: the browser APIs and the companion client are passed in, so node tests drive it.
 */
import { Batcher, backoffDelay } from './batcher.js';
import { BoundedQueue } from './queue.js';
import { hostOf } from './domains.js';
import { REPORTED, blockedByBrowser, outcomeOfError, outcomeOfRedirect, outcomeOfResponse } from './outcome.js';

export { blockedByBrowser }; // its home is outcome.js; kept here for older imports

export const MAX_BATCH = 1000; // the companion takes at most 1000 events per POST
const PENDING_MAX = 5000;
const PENDING_TTL_MS = 60_000;

/** A new stream id: 8 random bytes in hex (64 bits, so two workers of one companion never share one in practice). */
export function newStream() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A redirect target inside an extension: the browser served a stand-in script instead of the request. */
export function replacedByStandIn(url) {
  return typeof url === 'string' && /^(chrome|moz)-extension:\/\//.test(url);
}

/**
 * The URL of the top document that made a request, where the browser names it (Firefox), else null.
 * Exact even for a page whose response Firefox has not said started yet (TabStates.navigate), when the
 * tab's page is still the one before, and for the page before's last requests after the tab moved on.
 */
export function exactPageUrlOf(details) {
  const anc = details.frameAncestors; // Firefox: the top frame is the last ancestor
  if (Array.isArray(anc) && anc.length && anc[anc.length - 1].url) return anc[anc.length - 1].url;
  if (details.documentUrl && !(Array.isArray(anc) && anc.length)) return details.documentUrl; // Firefox, top document
  return null;
}

/** The top-level page URL of a request: its own top document where the browser names it, else the tab's page. */
export function pageUrlOf(details, tabPageUrl) {
  const exact = exactPageUrlOf(details);
  if (exact) return exact;
  if (tabPageUrl) return tabPageUrl; // Chrome says only the initiator's origin
  if (details.initiator && details.initiator !== 'null') return `${details.initiator}/`;
  return null;
}

/**
 * Whether a request was made by a document being unloaded: the page before, sending a beacon as the tab
 * moves on (Chromium's `documentLifecycle`; Firefox names the document instead, see exactPageUrlOf).
 * Seen in Chromium: such a beacon is reported after the new page's response started, from the tab the
 * new page now holds, so it was counted on the new page's badge and recorded on the new page's site.
 */
export function fromLeavingDocument(details) {
  return details.documentLifecycle === 'pending_deletion';
}

/**
 * The event to report for a webRequest `details`, or null when it is not worth reporting
 * (the page itself, the browser's own traffic, the companion's own API, requests to the page's own host;
 * another host of the same site is reported, and the companion's verdict says it is first-party).
 * `host` (of details.url) and `pageHost` (of pageUrl) may be given when already known, so a request
 * costs one URL parse, not three (bench/bench_extension.py).
 */
export function eventFor(details, pageUrl, { companionHost = null, host: knownHost, pageHost: knownPageHost } = {}) {
  if (details.type === 'main_frame' || !(details.tabId >= 0) || !pageUrl) return null;
  const host = knownHost === undefined ? hostOf(details.url) : knownHost;
  const pageHost = knownPageHost === undefined ? hostOf(pageUrl) : knownPageHost;
  if (!host || !pageHost) return null;
  if (companionHost && host === companionHost) return null;
  // Same host: first-party for sure. Anything else goes to the companion, which knows sites.
  if (host === pageHost) return null;
  return {
    url: details.url,
    page_url: pageUrl,
    type: details.type,
    tab_id: details.tabId,
    time: Math.round(details.timeStamp || Date.now()),
    browser_blocked: false,
    outcome: null, // set when it settles: see outcome.js
  };
}

/**
 * A short answer's result with its domain's facts put back into the verdict: the companion sends each
 * domain's owner, category label and description once per batch ('about'), not once per request.
 * A full answer (an older companion) already has them in every verdict: it is returned as it is.
 */
export function withAbout(result, about) {
  const v = result && result.verdict;
  if (!v || !about || typeof about !== 'object' || !Object.hasOwn(about, v.domain)) return result;
  const facts = about[v.domain] || {};
  return { ...result, verdict: { ...v, owner: facts.owner ?? null, category_label: facts.category_label ?? null,
    description: facts.description ?? null } };
}

export class Reporter {
  /**
   * @param {{client: {post: Function}, queue?: BoundedQueue, persist?: (q: BoundedQueue) => any,
   *   pageOf: (tabId: number) => ({pageUrl: string|null, nav: number, pageHost?: string|null}|null),
   *   onDelivered?: (item: object, result: object) => void, onAnswer?: (body: object) => void,
   *   onFailure?: (err: Error) => void, onSettled?: (item: object) => void, companionHost?: () => string|null, batchSize?: number, delayMs?: number,
   *   setTimer?: Function, clearTimer?: Function, now?: () => number, stream?: string}} opts
   */
  constructor(opts) {
    this.client = opts.client;
    this.queue = opts.queue || new BoundedQueue(5000);
    this.persist = opts.persist || (() => {});
    this.pageOf = opts.pageOf;
    this.onDelivered = opts.onDelivered || (() => {});
    this.onAnswer = opts.onAnswer || (() => {});
    this.onFailure = opts.onFailure || (() => {});
    // Every settled request, reported or not (the page's own record), with the request's host.
    this.onSettled = opts.onSettled || (() => {});
    this.seq = 0; // makes each request's id unique across a real redirect's hops (they share the browser's id)
    this.stream = opts.stream || newStream(); // this worker's reports: see the top of this file
    this.lastQueued = 0; // the seq of the last event queued under this stream
    this.companionHost = opts.companionHost || (() => null);
    this.enabled = opts.enabled || (() => true);
    this.setTimer = opts.setTimer || ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer || ((t) => clearTimeout(t));
    this.now = opts.now || Date.now;
    this.pending = new Map(); // requestId -> {item, since}
    this.batcher = new Batcher({ maxSize: opts.batchSize || 100, delayMs: opts.delayMs ?? 300,
      onFlush: () => { this.flush(); }, setTimer: this.setTimer, clearTimer: this.clearTimer });
    this.inFlight = null;
    this.failures = 0;
    this.retryTimer = null;
    this.nextTryAt = 0;
  }

  /**
   * webRequest.onBeforeRequest: remember a third-party request until it settles. Called for every
   * request the browser makes: one URL parse (the request's host; the page's is the tab's, kept once
   * per page), no storage, no browser call.
   */
  started(details) {
    if (details.type === 'main_frame' || !(details.tabId >= 0)) return; // the page itself, the browser's own
    if (this.pending.has(details.requestId)) return; // a redirect or HSTS upgrade of a request we hold
    if (!this.enabled()) return; // not paired: the person has not asked for reports yet
    const page = this.pageOf(details.tabId);
    const exact = exactPageUrlOf(details);
    // A leaving document's page is the tab's page before once the tab has moved on (no navigation pending:
    // TabStates.navigate ran), else still the tab's page. It is counted on no badge (nav -1): its page is gone.
    const leaving = !exact && fromLeavingDocument(details);
    const tabPage = !page ? null : leaving && page.loadingAt == null ? page.previousUrl || null : page.pageUrl;
    const pageUrl = exact || pageUrlOf(details, tabPage);
    const host = hostOf(details.url);
    const pageHost = page && page.pageUrl === pageUrl && page.pageHost !== undefined ? page.pageHost : undefined;
    const event = eventFor(details, pageUrl, { companionHost: this.companionHost(), host, pageHost });
    if (!event) return;
    this.seq += 1;
    const rid = `${details.requestId}.${this.seq}`;
    // `at`: the browser's own time of the request (TabStates.navigate keeps a new page's early requests).
    const at = typeof details.timeStamp === 'number' ? details.timeStamp : this.now();
    const item = { event, nav: leaving ? -1 : page ? page.nav : 0, rid, at };
    if (exact) item.exact = true; // event.page_url is the browser's own word: TabStates checks it against the tab's page
    this.pending.set(details.requestId, { item, host, since: this.now() });
    if (this.pending.size > PENDING_MAX) this.sweep(true);
  }

  /** webRequest.onResponseStarted: its server answered, or the browser's cache did. */
  answered(details) { this.settle(details.requestId, outcomeOfResponse(details)); }

  /**
   * webRequest.onBeforeRedirect: a server's redirect settles this hop as reached (the target is then a
   * new request, seen by onBeforeRequest under the same browser id); a rule's redirect to a local
   * resource settles it as blocked; an internal redirect (HSTS, upgrade) changes nothing.
   */
  redirected(details) {
    const outcome = outcomeOfRedirect(details);
    if (outcome) this.settle(details.requestId, outcome);
  }

  /** webRequest.onErrorOccurred: blocked by the browser's rules, failed, or a cache-only attempt (dropped). */
  failed(details) { this.settle(details.requestId, outcomeOfError(details)); }

  /** Settle a held request with its outcome; a null outcome drops it (it was no real request). */
  settle(requestId, outcome) {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    if (!outcome) return;
    p.item.event.outcome = outcome;
    p.item.event.browser_blocked = outcome === 'blocked';
    this.onSettled(p.item, p.host);
    if (REPORTED.has(outcome)) this.enqueue([p.item]);
  }

  /** Report requests that never settled (long polls, lost events) as not blocked; `all` when over the cap. */
  sweep(all = false) {
    const cutoff = this.now() - PENDING_TTL_MS;
    const old = [];
    for (const [id, p] of this.pending) {
      if (all ? this.pending.size - old.length > PENDING_MAX / 2 : p.since < cutoff) old.push(id);
    }
    for (const id of old) this.settle(id, 'reached'); // still open (a socket, a long poll): it left the browser
  }

  enqueue(items) {
    // Numbered as queued: the queue's order is the order of delivery, so a seq only grows on the wire.
    for (const item of items) {
      this.lastQueued += 1;
      item.event.stream = this.stream;
      item.event.seq = this.lastQueued;
    }
    this.queue.push(...items);
    this.batcher.added(items.length);
  }

  /** Deliver what is queued, a batch at a time. Resolves when done or when the companion fails. */
  flush() {
    if (this.inFlight) return this.inFlight;
    this.inFlight = this._flush().finally(() => { this.inFlight = null; });
    return this.inFlight;
  }

  async _flush() {
    if (this.now() < this.nextTryAt) { this.persist(this.queue); return false; } // backing off
    while (this.queue.length) {
      const items = this.queue.peek(MAX_BATCH);
      let answer;
      try {
        // 'short': the verdict fields we read, each domain's owner and description once (see withAbout).
        answer = await this.client.post('/api/v1/events', { events: items.map((i) => i.event), answer: 'short' });
      } catch (err) {
        if (err && err.kind === 'http' && err.status >= 400 && err.status < 500 && err.status !== 429) {
          // The companion refuses this batch as such: retrying cannot help, and it would block the rest.
          this.queue.remove(items.length);
          this.queue.dropped += items.length;
          this.onFailure(err);
          continue;
        }
        this.failures += 1;
        const delay = backoffDelay(this.failures - 1);
        this.nextTryAt = this.now() + delay;
        this.scheduleRetry(delay);
        this.persist(this.queue);
        this.onFailure(err);
        return false;
      }
      this.failures = 0;
      this.nextTryAt = 0;
      this.queue.remove(items.length);
      const body = answer.body || {};
      const results = Array.isArray(body.results) ? body.results : [];
      items.forEach((item, i) => {
        if (results[i] && results[i].ok) this.onDelivered(item, withAbout(results[i], body.about));
      });
      this.onAnswer(body);
    }
    this.persist(this.queue);
    return true;
  }

  scheduleRetry(delay) {
    if (this.retryTimer !== null) this.clearTimer(this.retryTimer);
    this.retryTimer = this.setTimer(() => { this.retryTimer = null; this.flush(); }, delay);
  }

  /** Try again now, whatever the backoff says (the companion came back, the person paired). */
  retryNow() {
    this.nextTryAt = 0;
    return this.flush();
  }
}

/** Attach a Reporter to a webRequest API object (chrome.webRequest or browser.webRequest). */
export function observe(webRequest, reporter) {
  const filter = { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*'] };
  webRequest.onBeforeRequest.addListener((d) => reporter.started(d), filter);
  webRequest.onResponseStarted.addListener((d) => reporter.answered(d), filter);
  webRequest.onBeforeRedirect.addListener((d) => reporter.redirected(d), filter);
  webRequest.onErrorOccurred.addListener((d) => reporter.failed(d), filter);
}
