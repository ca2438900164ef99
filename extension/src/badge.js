/**
 * The toolbar badge: draws badgeView() for each tab with chrome.action.
 *
 * A tab-specific badge is cleared by the browser on every cross-document navigation, so the
 * default (no tabId) badge carries the "off" (or "companion away") state too: a freshly navigated
 * tab still says it.
 */
import { AWAY_REASONS, badgeView } from './badgestate.js';

async function draw(view, tabId) {
  const where = tabId === undefined ? {} : { tabId };
  try {
    await Promise.all([
      chrome.action.setBadgeText({ ...where, text: view.text }),
      chrome.action.setBadgeBackgroundColor({ ...where, color: view.color }),
      chrome.action.setTitle({ ...where, title: view.title }),
    ]);
  } catch {
    // The tab closed meanwhile: nothing to draw.
  }
}

/** Redraw one tab's badge. */
export function render(tabs, tabId, status) {
  return draw(badgeView(tabs.tabs.get(tabId), status), tabId);
}

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
