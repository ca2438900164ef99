/**
 * Pairing through native messaging: the browser starts Crumbs' native host (registered by `crumbs setup`),
 * which makes sure the companion runs and answers {companion: "http://127.0.0.1:PORT", token}.
 *
 * Why: no terminal, no code to type, and a companion that died is started again by simply asking. The
 * host manifest allows only this extension (Chromium id, Firefox gecko id), and web pages have no way to
 * reach the host: `sendNativeMessage` exists only in extension contexts, and the extension exposes no
 * messages to the web (no externally_connectable, no onMessageExternal).
 *
 * Without the host (not set up, or another OS), every ask fails quietly and the pairing code flow stays.
 * Asks are single-flight and at most one per `minIntervalMs`, so a dead companion seen by every failing
 * report does not start a host per report.
 */
import { isLoopbackBase } from './companion.js';

export const HOST_NAME = 'org.crumbs.companion';

/** The browser's sendNativeMessage as a promise-returning function, or null where it does not exist. */
export function browserSend(runtime = globalThis.chrome && globalThis.chrome.runtime) {
  if (!runtime || typeof runtime.sendNativeMessage !== 'function') return null;
  return (name, message) => runtime.sendNativeMessage(name, message);
}

/** Check a host answer; returns {companion, token} or throws saying what is wrong with it. */
export function parseAnswer(answer) {
  if (!answer || typeof answer !== 'object') throw new Error('the native host gave no answer');
  if (answer.ok !== true) throw new Error(`the native host could not start the companion: ${answer.error || 'no reason given'}`);
  const companion = typeof answer.companion === 'string' ? answer.companion.replace(/\/+$/, '') : '';
  if (!isLoopbackBase(`${companion}/`)) throw new Error('the native host named an address that is not local');
  if (typeof answer.token !== 'string' || answer.token.length < 32) throw new Error('the native host gave no token');
  return { companion, token: answer.token };
}

export class NativeHost {
  /**
   * @param {{send: ((name: string, message: object) => Promise<any>)|null, now?: () => number,
   *          minIntervalMs?: number}} opts
   */
  constructor({ send, now = () => Date.now(), minIntervalMs = 5000 }) {
    this.send = send;
    this.now = now;
    this.minIntervalMs = minIntervalMs;
    this.lastTry = -Infinity;
    this.pending = null;
    this.lastError = null; // why the last ask failed (shown nowhere yet; tests and debugging read it)
    this.available = null; // null: not asked yet; false: no host (or it failed); true: it answered
  }

  /** Ask the host for the companion. Resolves to {companion, token}, or null (no host, throttled, failed). */
  ask({ force = false } = {}) {
    if (!this.send) return Promise.resolve(null);
    if (this.pending) return this.pending;
    if (!force && this.now() - this.lastTry < this.minIntervalMs) return Promise.resolve(null);
    this.lastTry = this.now();
    this.pending = (async () => {
      try {
        const got = parseAnswer(await this.send(HOST_NAME, { type: 'companion' }));
        this.available = true;
        this.lastError = null;
        return got;
      } catch (e) {
        this.available = false;
        this.lastError = String((e && e.message) || e);
        return null;
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }
}
