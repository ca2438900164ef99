/**
 * The client of the companion's local API: checks the server's proof, then talks JSON with the token.
 *
 * Why a class with injected fetch and config: the service worker and the popup share it, and node's
 * tests drive it against fake servers (a real companion, and an impostor that cannot prove itself).
 * It never sends the token to a server that has not answered a fresh challenge first.
 */
import { dialledHost, expectedProof, newNonce, sameProof } from './proof.js';

export const DEFAULT_PORT = 8737;

/** Why a call failed: 'unpaired' | 'unreachable' | 'impostor' | 'unauthorized' | 'http'. */
export class CompanionError extends Error {
  constructor(kind, message, status = 0, body = null) {
    super(message);
    this.name = 'CompanionError';
    this.kind = kind;
    this.status = status;
    this.body = body;
  }
}

/** True for the loopback http base URLs the extension is willing to talk to. */
export function isLoopbackBase(base) {
  try {
    const u = new URL(base);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
      && u.pathname === '/' && !u.search && !u.hash;
  } catch {
    return false;
  }
}

export class CompanionClient {
  /**
   * @param {{getConfig: () => Promise<{companion?: string, token?: string}|null>, fetch?: typeof fetch,
   *          timeoutMs?: number, origin?: string}} opts  origin: this extension's own origin (default: the
   *          page's or service worker's, e.g. chrome-extension://ID), which the browser sends as Origin
   */
  constructor({ getConfig, fetch: fetchImpl = globalThis.fetch.bind(globalThis), timeoutMs = 5000,
    origin = ownOrigin() }) {
    this.getConfig = getConfig;
    this.origin = origin;
    this.fetch = fetchImpl;
    this.timeoutMs = timeoutMs;
    this.verifiedFor = null; // "base token" that last proved itself; reset on any network error
    this.proving = null; // {key, promise}: the proof being asked, shared by calls made meanwhile
  }

  async config() {
    const cfg = (await this.getConfig()) || {};
    if (!cfg.companion || !cfg.token) throw new CompanionError('unpaired', 'not paired with the companion');
    const base = String(cfg.companion).replace(/\/+$/, '');
    if (!isLoopbackBase(`${base}/`)) throw new CompanionError('unpaired', 'the stored companion address is not local');
    return { base, token: String(cfg.token) };
  }

  async raw(url, init) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.timeoutMs);
    try {
      return await this.fetch(url, { ...init, signal: ctrl.signal, credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      this.verifiedFor = null;
      throw new CompanionError('unreachable', `the companion is not answering (${e && e.message})`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ask the server at `base` to prove it knows `token`; throws CompanionError('impostor') if it cannot. */
  async verify(base, token) {
    const nonce = newNonce();
    const res = await this.raw(`${base}/api/v1/health`, { headers: { 'X-Crumbs-Challenge': nonce } });
    const given = res.headers.get('X-Crumbs-Proof') || '';
    if (!res.ok || !(await this.proves(given, token, nonce, dialledHost(base)))) {
      this.verifiedFor = null;
      throw new CompanionError('impostor', 'the server on the companion port did not prove it is the companion');
    }
    this.verifiedFor = `${base} ${token}`;
  }

  /**
   * Make sure the server has proved itself for the stored pairing, asking it once however many calls
   * wait (the popup proves the companion while it draws from the extension's own record, and its first
   * call then needs no second /health). Throws as verify() does.
   */
  async prove() {
    const { base, token } = await this.config();
    const key = `${base} ${token}`;
    if (this.verifiedFor === key) return;
    if (!this.proving || this.proving.key !== key) {
      const promise = this.verify(base, token).finally(() => { if (this.proving && this.proving.promise === promise) this.proving = null; });
      this.proving = { key, promise };
    }
    await this.proving.promise;
  }

  /**
   * Whether `given` proves the token for the host we dialled. The companion signs the Origin header it
   * received; whether a browser attaches one to a GET from an extension is the browser's choice, so both
   * our own origin and none are accepted. What a relay needs, the proof for *our* host, stays out of reach
   * either way: the companion answers only for its own Host (a local relay could set any Origin anyway).
   */
  async proves(given, token, nonce, host) {
    for (const origin of new Set([this.origin, ''])) {
      if (sameProof(given, await expectedProof(token, nonce, host, origin))) return true;
    }
    return false;
  }

  /**
   * Call the API. Returns {status, body, headers}; throws CompanionError on network failure, a failed
   * proof, 401/403 (token or extension refused: kind 'unauthorized') or any other non-2xx/304 answer.
   */
  async call(method, path, body = undefined, headers = {}) {
    const { base, token } = await this.config();
    if (this.verifiedFor !== `${base} ${token}`) await this.prove();
    const init = { method, headers: { ...headers, Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this.raw(`${base}${path}`, init);
    let data = null;
    if (res.status !== 204 && res.status !== 304) {
      const text = await res.text();
      try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    }
    if (res.status === 401) {
      this.verifiedFor = null;
      throw new CompanionError('unauthorized', 'the companion refused the token', 401, data);
    }
    // On the token-protected API a 403 is the companion refusing this extension itself: in Firefox it
    // answers only the moz-extension:// origin that paired with a code (an install paired only by
    // writing the token into storage, or pushed out of the companion's list, gets 403 on every call
    // that carries an Origin). Like a refused token, only pairing again helps, and the reports must
    // wait for it rather than be thrown away as a bad batch.
    if (res.status === 403) {
      const reason = (data && data.error) || 'forbidden';
      throw new CompanionError('unauthorized', `the companion refused this extension (${reason})`, 403, data);
    }
    if (!res.ok && res.status !== 304) {
      const reason = (data && (data.error || data.message)) || res.statusText || 'error';
      throw new CompanionError('http', `${method} ${path}: ${res.status} ${reason}`, res.status, data);
    }
    return { status: res.status, body: data, headers: res.headers };
  }

  get(path, headers) { return this.call('GET', path, undefined, headers); }

  post(path, body) { return this.call('POST', path, body); }

  put(path, body) { return this.call('PUT', path, body); }

  del(path) { return this.call('DELETE', path); }
}

/** This extension's origin where there is one (an extension page or service worker), else ''. */
export function ownOrigin() {
  const origin = globalThis.location && globalThis.location.origin;
  return typeof origin === 'string' && /^(chrome|moz)-extension:\/\//.test(origin) ? origin : '';
}

/**
 * Pair with the companion using the 8-digit code it shows. Returns {companion, token} to store.
 * The code travels once to the loopback port the person typed; nothing else is needed.
 */
export async function pairWithCode({ code, port = DEFAULT_PORT, fetch: fetchImpl = globalThis.fetch.bind(globalThis) }) {
  const digits = String(code || '').replace(/[\s-]/g, '');
  if (!/^\d{8}$/.test(digits)) throw new CompanionError('http', 'the pairing code is 8 digits');
  const p = Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new CompanionError('http', 'the port is a number from 1 to 65535');
  const base = `http://127.0.0.1:${p}`;
  let res;
  try {
    res = await fetchImpl(`${base}/api/v1/pair`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code: digits }),
      credentials: 'omit', cache: 'no-store',
    });
  } catch (e) {
    throw new CompanionError('unreachable', `nothing answers on port ${p}: is \`crumbs serve\` running?`);
  }
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok || !data || typeof data.token !== 'string' || !data.token) {
    const reason = (data && data.error) || `the companion said ${res.status}`;
    throw new CompanionError('http', `pairing refused: ${reason}`, res.status, data);
  }
  // Keep the address we reached, unless the companion names another loopback base (e.g. localhost).
  const named = typeof data.companion === 'string' ? data.companion.replace(/\/+$/, '') : '';
  const companion = named && isLoopbackBase(`${named}/`) ? named : base;
  // The token must also pass the proof check, or the next call would refuse this server anyway.
  const client = new CompanionClient({ getConfig: async () => ({ companion, token: data.token }), fetch: fetchImpl });
  await client.verify(companion, data.token);
  return { companion, token: data.token };
}
