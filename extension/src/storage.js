/**
 * Where the extension keeps things, in one place.
 *
 * chrome.storage.local (survives restarts): the pairing {companion, token}, the offline report queue,
 * the rules last applied, the last answers about hosts, and choices made while the companion was away. chrome.storage.session (survives the service worker being stopped, not
 * the browser): per-tab badge state and the companion status. Web pages can read none of it: the
 * extension exposes no pages or messages to the web, and its page scripts (content/) never read storage.
 */
const local = () => chrome.storage.local;
const session = () => chrome.storage.session;

export const KEYS = Object.freeze({ companion: 'companion', token: 'token', queue: 'queue', applied: 'appliedRules',
  tabs: 'tabs', status: 'status', facts: 'facts', offlineChoices: 'offlineChoices' });

/** The pairing: {companion: "http://127.0.0.1:PORT", token: "..."}, or {} when not paired. */
export async function getConfig() {
  const got = await local().get([KEYS.companion, KEYS.token]);
  return { companion: got.companion || null, token: got.token || null };
}

export function setConfig({ companion, token }) { return local().set({ companion, token }); }

export function clearConfig() { return local().remove([KEYS.companion, KEYS.token]); }

export async function loadQueue() { return (await local().get(KEYS.queue))[KEYS.queue] || null; }

export function saveQueue(queue) { return local().set({ [KEYS.queue]: queue.toJSON() }); }

export async function loadApplied() { return (await local().get(KEYS.applied))[KEYS.applied] || null; }

export function saveApplied(applied) { return local().set({ [KEYS.applied]: applied }); }

/** storage.local by key: the last answers about hosts (facts.js) and the choices made while away (offline.js). */
export async function loadLocal(key) { return (await local().get(key))[key] ?? null; }

export function saveLocal(key, value) { return local().set({ [key]: value }); }

export async function loadSession(key) { return (await session().get(key))[key]; }

export function saveSession(key, value) { return session().set({ [key]: value }); }

/** Call fn when the pairing changes (set by the pairing page, or by anything else). */
export function onConfigChanged(fn) {
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && (KEYS.companion in changes || KEYS.token in changes)) fn();
  });
}
