/**
 * Choices made while the companion is away: applied in the browser at once, delivered when it is back.
 *
 * Why: a site that breaks while the companion is down must still be fixable with one click. A choice
 * ("Trust this site", "Block on this site", ...) becomes a browser session rule at once, with the
 * same priority and condition the companion compiles for it (companion/dnr/compiler.py: 400 a tracker on a
 * site, 300 trusting a site, 200 a tracker everywhere), and waits in a queue kept in extension
 * storage. When the companion answers again the queue is sent in order, the companion's rules
 * (which now hold those choices) are fetched, and only then are the session rules removed, so
 * there is no moment without them.
 *
 * Session rules, not dynamic ones: the dynamic rules are the companion's (enforcement.js makes them
 * equal to its list), and session rules are a separate set the browser consults alongside them.
 * They end with the browser session; the queue does not, and re-creates them on start.
 * The rule ids used here are in a range of their own, so other session rules are left alone.
 * No `chrome` here: the DNR API object, storage and the companion client are passed in.
 */

import { canonical } from './rulediff.js';

export const RULE_ID_BASE = 7_700_000;
export const PRIORITY = Object.freeze({ siteTracker: 400, trust: 300, everywhere: 200 }); // as companion/dnr/compiler.py
const MAX_OPS = 200;
const TRUST_MS = Object.freeze({ hour: 3_600_000, day: 86_400_000, always: null });

/**
 * One choice, as the popup's buttons make it:
 *   {kind: 'site-tracker', site, tracker, action: 'block'|'allow'|null}
 *   {kind: 'tracker', tracker, action: 'allow'|'block'|null}
 *   {kind: 'trust', site, duration: 'hour'|'day'|'always'|null}
 * null undoes a choice. `exact: false` marks a site or tracker that is a host the extension saw, not a
 * registrable domain the companion named: it is resolved with the companion's /check before delivery.
 * Returns the normalised op, or throws a readable Error.
 */
export function normalise(op, now = Date.now()) {
  const name = (x) => (typeof x === 'string' && /^[a-z0-9.-]+$/i.test(x) && x.includes('.') ? x.toLowerCase() : null);
  if (!op || typeof op !== 'object') throw new Error('a choice must be an object');
  const exact = op.exact !== false;
  if (op.kind === 'site-tracker') {
    const site = name(op.site); const tracker = name(op.tracker);
    if (!site || !tracker) throw new Error('a choice for a tracker on a site needs both names');
    if (![null, 'block', 'allow'].includes(op.action ?? null)) throw new Error("action must be 'block', 'allow' or null");
    return { kind: op.kind, site, tracker, action: op.action ?? null, exact, pageUrl: op.pageUrl || null, trackerUrl: op.trackerUrl || null };
  }
  if (op.kind === 'tracker') {
    const tracker = name(op.tracker);
    if (!tracker) throw new Error('a choice for a tracker needs its name');
    if (![null, 'block', 'allow'].includes(op.action ?? null)) throw new Error("action must be 'block', 'allow' or null");
    return { kind: op.kind, tracker, action: op.action ?? null, exact, trackerUrl: op.trackerUrl || null };
  }
  if (op.kind === 'trust') {
    const site = name(op.site);
    if (!site) throw new Error('trusting needs a site');
    const duration = op.duration ?? null;
    if (duration !== null && !(duration in TRUST_MS)) throw new Error("duration must be 'hour', 'day' or 'always'");
    const until = duration && TRUST_MS[duration] ? now + TRUST_MS[duration] : null;
    return { kind: op.kind, site, duration, until, exact, pageUrl: op.pageUrl || null };
  }
  throw new Error(`unknown kind of choice ${JSON.stringify(op.kind)}`);
}

/** What a choice is about: a later choice about the same thing replaces an earlier one in the queue. */
export const keyOf = (op) => (op.kind === 'tracker' ? `tracker ${op.tracker}` : op.kind === 'trust'
  ? `trust ${op.site}` : `site-tracker ${op.site} ${op.tracker}`);

/** The session rule a choice stands for (without its id), or null (undoing cannot be a rule: it waits). */
export function ruleFor(op, now = Date.now()) {
  if (op.kind === 'site-tracker' && op.action) {
    const condition = { requestDomains: [op.tracker], initiatorDomains: [op.site] };
    if (op.action === 'block') condition.domainType = 'thirdParty';
    return { priority: PRIORITY.siteTracker, action: { type: op.action }, condition };
  }
  if (op.kind === 'trust' && op.duration && (op.until === null || op.until > now)) {
    return { priority: PRIORITY.trust, action: { type: 'allowAllRequests' },
      condition: { requestDomains: [op.site], resourceTypes: ['main_frame'] } };
  }
  if (op.kind === 'tracker' && op.action) {
    const condition = { requestDomains: [op.tracker] };
    if (op.action === 'block') condition.domainType = 'thirdParty';
    return { priority: PRIORITY.everywhere, action: { type: op.action }, condition };
  }
  return null;
}

/** The companion API call that delivers a choice: {method, path, body}. */
export function callFor(op) {
  const enc = encodeURIComponent;
  if (op.kind === 'site-tracker') {
    const path = `/api/v1/choices/sites/${enc(op.site)}/trackers/${enc(op.tracker)}`;
    return op.action ? { method: 'PUT', path, body: { action: op.action } } : { method: 'DELETE', path };
  }
  if (op.kind === 'tracker') {
    const path = `/api/v1/choices/trackers/${enc(op.tracker)}`;
    return op.action ? { method: 'PUT', path, body: { action: op.action } } : { method: 'DELETE', path };
  }
  const path = `/api/v1/choices/trust/${enc(op.site)}`;
  return op.duration ? { method: 'PUT', path, body: { duration: op.duration } } : { method: 'DELETE', path };
}

export class OfflineChoices {
  /**
   * @param {{dnr: {getSessionRules: Function, updateSessionRules: Function}, load: () => Promise<object[]|null>,
   *   save: (ops: object[]) => Promise<any>, now?: () => number}} opts
   */
  constructor({ dnr, load, save, now = Date.now }) {
    this.dnr = dnr;
    this.load = load;
    this.save = save;
    this.now = now;
    this.ops = [];
    this.delivering = null;
  }

  /** Read the queue from storage and make the browser's session rules match it (after a browser restart). */
  async start() {
    const saved = await this.load();
    this.ops = Array.isArray(saved) ? saved.filter((o) => o && typeof o.kind === 'string') : [];
    await this.apply();
  }

  /** Choices waiting for the companion, oldest first. */
  list() { return this.ops.map((o) => ({ ...o })); }

  /** Record a choice: the browser applies it now (when a rule can say it), the companion hears it later. */
  async add(raw) {
    const op = normalise(raw, this.now());
    const key = keyOf(op);
    this.ops = this.ops.filter((o) => keyOf(o) !== key);
    this.ops.push(op);
    if (this.ops.length > MAX_OPS) this.ops.splice(0, this.ops.length - MAX_OPS);
    await this.save(this.ops);
    await this.apply();
    return { op, applied: ruleFor(op, this.now()) !== null };
  }

  /**
   * Make our session rules exactly the rules of the queued choices (expired trust dropped). Calls are
   * serialised: two at once (a choice and the 30 s tick) would both read the old rules and add the same
   * rule ids, and the browser would refuse the second update, leaving a choice without its rule.
   */
  apply() {
    const run = (this._applying || Promise.resolve()).then(() => this._applyNow());
    this._applying = run.catch(() => {});
    return run;
  }

  async _applyNow() {
    const ours = (r) => r.id >= RULE_ID_BASE && r.id < RULE_ID_BASE + 100_000;
    const mine = (await this.dnr.getSessionRules()).filter(ours);
    const now = this.now();
    const addRules = [];
    this.ops.forEach((op) => {
      const rule = ruleFor(op, now);
      if (rule) addRules.push({ id: RULE_ID_BASE + addRules.length + 1, ...rule });
    });
    if (canonical(mine) === canonical(addRules)) return addRules.length; // nothing changed (the 30 s tick)
    await this.dnr.updateSessionRules({ removeRuleIds: mine.map((r) => r.id), addRules });
    return addRules.length;
  }

  /**
   * Send the queued choices to the companion, oldest first, then have the companion's rules fetched
   * (syncRules: resolves true when the browser holds the companion's current rules) and drop our
   * session rules. (A trust delivered late starts its hour or day again at the companion.)
   * A choice the companion refuses as such (4xx) is dropped and counted in `refused`; if it cannot be
   * reached, what is left stays queued. Returns {delivered, refused, left}.
   */
  deliver(client, syncRules) {
    if (!this.delivering) {
      this.delivering = this._deliver(client, syncRules).finally(() => { this.delivering = null; });
    }
    return this.delivering;
  }

  async _deliver(client, syncRules) {
    let delivered = 0; let refused = 0;
    while (this.ops.length) {
      const op = this.ops[0];
      if (op.kind === 'trust' && op.until !== null && op.until <= this.now()) {
        // Trust for an hour or a day that ran out while the companion was away: nothing left to tell it.
        this.ops.shift();
        await this.save(this.ops);
        continue;
      }
      try {
        const exact = op.exact ? op : await resolve(client, op);
        const call = callFor(exact);
        await client.call(call.method, call.path, call.body);
        delivered += 1;
      } catch (err) {
        if (!(err && err.kind === 'http' && err.status >= 400 && err.status < 500)) break; // away again: keep it
        refused += 1;
      }
      this.ops.shift();
      await this.save(this.ops);
    }
    if (this.ops.length === 0 && (delivered || refused)) {
      // The companion's rules now hold these choices: fetch them before letting ours go.
      if (await syncRules()) await this.apply();
    } else if (this.ops.length === 0) {
      await this.apply();
    }
    return { delivered, refused, left: this.ops.length };
  }
}

/** Ask the companion which site and tracker domain a host-level choice means (its /check verdict). */
async function resolve(client, op) {
  const out = { ...op, exact: true };
  const check = async (url, pageUrl) => (await client.call('POST', '/api/v1/check', { url, page_url: pageUrl, type: 'other' })).body || {};
  if (op.site && op.pageUrl) {
    const v = await check(op.pageUrl, op.pageUrl);
    if (v.domain) out.site = v.domain;
  }
  if (op.tracker && op.trackerUrl) {
    const v = await check(op.trackerUrl, op.pageUrl || null);
    if (v.domain) out.tracker = v.domain;
  }
  return out;
}
