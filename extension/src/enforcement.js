/**
 * Enforcement: keeps the browser's dynamic declarativeNetRequest rules equal to the companion's.
 *
 * Blocking happens in the browser: the companion compiles the person's choices and the lists into
 * rules (GET /api/v1/dnr, versioned with an ETag), and this module applies only the difference with
 * updateDynamicRules. The rules stay in the browser when the companion is down, so blocking goes on.
 * No `chrome` here: the declarativeNetRequest API object and storage functions are passed in.
 */
import { canonical, diffRules } from './rulediff.js';

const MAX_BAD_RULES = 50; // give up retrying after this many rules refused one by one

export class RuleSync {
  /**
   * @param {{client: {get: Function}, dnr: {getDynamicRules: Function, updateDynamicRules: Function},
   *   loadApplied: () => Promise<{version: string|null, rules: object[]}|null>,
   *   saveApplied: (v: {version: string, rules: object[]}) => Promise<any>,
   *   onError?: (err: Error) => void}} opts
   */
  constructor({ client, dnr, loadApplied, saveApplied, onError }) {
    this.client = client;
    this.dnr = dnr;
    this.loadApplied = loadApplied;
    this.saveApplied = saveApplied;
    this.onError = onError || (() => {});
    this.running = null;
    this.again = false;
    this.version = null;
    this.lastError = null;
    this.skipped = []; // rules of the last sync the browser could not take: {id, reason}
  }

  /** The rules without the regex rules this browser cannot compile (Chrome caps a compiled regex at 2 KB). */
  async supported(rules) {
    this.skipped = [];
    if (typeof this.dnr.isRegexSupported !== 'function') return rules;
    const out = [];
    for (const rule of rules) {
      const regex = rule.condition && rule.condition.regexFilter;
      if (regex) {
        let answer;
        try {
          answer = await this.dnr.isRegexSupported({ regex, isCaseSensitive: Boolean(rule.condition.isUrlFilterCaseSensitive) });
        } catch {
          answer = { isSupported: true }; // cannot tell: let updateDynamicRules decide
        }
        if (!answer.isSupported) {
          this.skipped.push({ id: rule.id, reason: answer.reason || 'regex not supported' });
          continue;
        }
      }
      out.push(rule);
    }
    return out;
  }

  /** The companion says its rules are at `version`: sync if ours differ. */
  noteVersion(version) {
    if (version && version !== this.version) return this.sync();
    return Promise.resolve(false);
  }

  /** Fetch and apply the companion's rules if they changed. Calls made meanwhile coalesce into one rerun. */
  sync() {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      let changed = false;
      do {
        this.again = false;
        changed = (await this._syncOnce()) || changed;
      } while (this.again);
      return changed;
    })().finally(() => { this.running = null; });
    return this.running;
  }

  async _syncOnce() {
    const applied = (await this.loadApplied()) || { version: null, rules: [] };
    this.version = applied.version;
    const installed = await this.dnr.getDynamicRules();
    // Trust our record of what we applied only if the browser still holds exactly those ids.
    const sameIds = canonical(installed.map((r) => r.id).sort((a, b) => a - b))
      === canonical(applied.rules.map((r) => r.id).sort((a, b) => a - b));
    const headers = applied.version && sameIds ? { 'If-None-Match': `"${applied.version}"` } : {};
    let answer;
    try {
      answer = await this.client.get('/api/v1/dnr', headers);
    } catch (err) {
      this.lastError = err;
      this.onError(err);
      return false; // keep the rules we have: blocking must survive the companion being down
    }
    if (answer.status === 304) return false;
    const { version, rules } = answer.body || {};
    if (typeof version !== 'string' || !Array.isArray(rules)) {
      this.lastError = new Error('the companion sent no rules');
      this.onError(this.lastError);
      return false;
    }
    // Compare against what we applied (as we sent it), since browsers may normalise rules they return.
    const byId = new Map(applied.rules.map((r) => [r.id, r]));
    const current = sameIds ? installed.map((r) => byId.get(r.id) || r) : installed;
    let wanted = await this.supported(rules);
    for (let attempt = 0; ; attempt += 1) {
      const diff = diffRules(current, wanted);
      try {
        if (diff.removeRuleIds.length || diff.addRules.length) await this.dnr.updateDynamicRules(diff);
        break;
      } catch (err) {
        // One bad rule fails the whole update: drop the rule the browser names and try again,
        // so the other rules still protect the person.
        const bad = /Rule with id (\d+)/.exec(String(err && err.message));
        if (!bad || attempt >= MAX_BAD_RULES) {
          this.lastError = err;
          this.onError(err);
          return false;
        }
        this.skipped.push({ id: Number(bad[1]), reason: String(err.message) });
        wanted = wanted.filter((r) => r.id !== Number(bad[1]));
      }
    }
    await this.saveApplied({ version, rules: wanted });
    this.version = version;
    this.lastError = null;
    return true;
  }
}
