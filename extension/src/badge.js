/**
 * The toolbar badge: draws badgeView() for each tab with chrome.action.
 *
 * A tab-specific badge is cleared by the browser on every cross-document navigation, so the
 * default (no tabId) badge carries the "off" (or "companion away") state too: a freshly navigated
 * tab still says it.
 */
import { AWAY_REASONS, badgeView } from './badgestate.js';

// What each tab's badge was last set to, so a redraw makes only the browser calls that change
// something (the number and colour rarely change while a page loads; the tooltip's counts do).
// A forced draw makes all three: the browser clears a tab's badge when a page commits.
const drawn = new Map(); // tabId -> {text, color, title}; forgotten when the tab closes

async function draw(view, tabId, force = true) {
  const where = tabId === undefined ? {} : { tabId };
  let last = force || tabId === undefined ? null : drawn.get(tabId);
  if (tabId !== undefined) drawn.set(tabId, view);
  if (last) {
    // The browser clears a tab's badge when a page commits, and that is not ordered with our own
    // draws (Firefox once kept an empty badge over a page whose number had not changed since): what
    // it shows is read back, one cheap call, before anything is skipped as already drawn.
    try {
      if ((await chrome.action.getBadgeText({ tabId })) !== last.text) last = null;
    } catch {
      last = null;
    }
  }
  const calls = [];
  if (!last || last.text !== view.text) calls.push(chrome.action.setBadgeText({ ...where, text: view.text }));
  if (!last || last.color !== view.color) calls.push(chrome.action.setBadgeBackgroundColor({ ...where, color: view.color }));
  if (!last || last.title !== view.title) calls.push(chrome.action.setTitle({ ...where, title: view.title }));
  try {
    await Promise.all(calls);
  } catch {
    // The tab closed meanwhile: nothing to draw.
  }
}

/** Redraw one tab's badge; `force: false` skips what it already shows (see `drawn`). */
export function render(tabs, tabId, status, { force = true } = {}) {
  return draw(badgeView(tabs.tabs.get(tabId), status), tabId, force);
}

/** Forget a closed tab. */
export function forget(tabId) { drawn.delete(tabId); }

/** Redraw the default badge and every open tab's (after the companion's status changed). */
export async function renderAll(tabs, status) {
  const fallback = badgeView(null, status);
  if (status === 'ok') fallback.title = 'Crumbs';
  else if (status in AWAY_REASONS) fallback.title = `Crumbs: ${AWAY_REASONS[status]}`;
  await draw(fallback);
  let open = [];
  try { open = await chrome.tabs.query({}); } catch { open = []; }
  await Promise.all(open.map((t) => render(tabs, t.id, status)));
}
