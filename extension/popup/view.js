/**
 * Pure helpers for the popup: plain words and ordering. No DOM, no chrome.*: node tests import them.
 */

/** "1 request", "3 requests". */
export function plural(n, word, many = `${word}s`) {
  const count = Number(n) || 0;
  return `${count} ${count === 1 ? word : many}`;
}

/**
 * What happens to a third party now, in plain words: {text, tone} with tone one of
 * 'blocked', 'allowed' (a tracker that gets through) or 'neutral' (not a known tracker).
 */
export function stateLabel(tp) {
  let label = decisionWords(tp);
  // Letting a non-tracker load is nothing to worry about.
  if (label.tone === 'allowed' && !tp.tracker) label = { ...label, tone: 'neutral' };
  // Its scripts are answered by Crumbs' stand-ins, so the page keeps working while nothing reaches it.
  if (tp.blocked_now && Array.isArray(tp.stand_ins) && tp.stand_ins.length) {
    label = { ...label, text: `${label.text} · replaced with a stand-in`, standIns: tp.stand_ins.join(', ') };
  }
  return label;
}

function decisionWords(tp) {
  const blocked = Boolean(tp.blocked_now);
  switch (tp.decided_by) {
    case 'site-tracker':
      return blocked
        ? { text: 'Blocked on this site by you', tone: 'blocked' }
        : { text: 'Allowed on this site by you', tone: 'allowed' };
    case 'site-trust':
      return { text: 'Allowed: you trust this site', tone: 'allowed' };
    case 'tracker-everywhere':
      return blocked
        ? { text: 'Blocked everywhere by you', tone: 'blocked' }
        : { text: 'Allowed: you allow it everywhere', tone: 'allowed' };
    case 'list-default':
      return { text: "Blocked (Crumbs' default)", tone: 'blocked' };
    case 'report-only':
      return { text: 'Reported only (report-only mode)', tone: 'allowed' };
    case 'not-a-tracker':
      return blocked
        ? { text: 'Blocked', tone: 'blocked' }
        : { text: 'Not a known tracker', tone: 'neutral' };
    default:
      return blocked ? { text: 'Blocked', tone: 'blocked' } : { text: 'Allowed', tone: 'allowed' };
  }
}

/**
 * Which of the four controls is in force: 'block-here', 'allow-here', 'allow-everywhere', 'reset'
 * (no choice of yours), or null (a choice the popup has no button for, e.g. blocked everywhere).
 * A choice for this site wins over one for everywhere, as in the companion's precedence.
 */
export function activeControl(choice) {
  const c = choice || {};
  if (c.here === 'block') return 'block-here';
  if (c.here === 'allow') return 'allow-here';
  if (c.everywhere === 'allow') return 'allow-everywhere';
  if (c.everywhere) return null;
  return 'reset';
}

/** In the main list: trackers, and anything blocked (e.g. a non-tracker you blocked). */
export const isProminent = (tp) => Boolean(tp.tracker || tp.blocked_now);

/**
 * Splits third parties into {trackers, others}, each sorted: blocked first, then trackers,
 * then most requests, then by domain. `previous` (domains in the order last shown) keeps rows
 * where they were after a change, so the row you just clicked does not jump away.
 */
export function arrange(parties, previous = []) {
  const list = Array.isArray(parties) ? parties.filter((tp) => tp && typeof tp.domain === 'string') : [];
  const shown = new Map(previous.map((d, i) => [d, i]));
  const rank = (tp) => (shown.has(tp.domain) ? shown.get(tp.domain) : previous.length);
  const flag = (tp, key) => Number(Boolean(tp[key]));
  const sorted = [...list].sort((a, b) => rank(a) - rank(b)
    || flag(b, 'blocked_now') - flag(a, 'blocked_now')
    || flag(b, 'tracker') - flag(a, 'tracker')
    || (Number(b.requests) || 0) - (Number(a.requests) || 0)
    || a.domain.localeCompare(b.domain));
  return { trackers: sorted.filter(isProminent), others: sorted.filter((tp) => !isProminent(tp)) };
}

/** The header's one line: "4 trackers on this site · 3 blocked". */
export function summary(parties, trusted) {
  const list = Array.isArray(parties) ? parties : [];
  const trackers = list.filter((tp) => tp && tp.tracker);
  const others = list.length - trackers.length;
  if (list.length === 0) return 'No third parties seen on this site yet';
  if (trackers.length === 0) return `No trackers seen · ${plural(others, 'other third party', 'other third parties')}`;
  const blocked = trackers.filter((tp) => tp.blocked_now).length;
  let tail;
  if (blocked === trackers.length) tail = trackers.length === 1 ? 'blocked' : 'all blocked';
  else if (blocked === 0) tail = trusted ? 'none blocked (trusted site)' : 'none blocked';
  else tail = `${blocked} blocked`;
  return `${plural(trackers.length, 'tracker')} on this site · ${tail}`;
}

/** "You trust this site …" (the browser tests rely on that start) or the untrusted hint. */
const shortTime = (t) => new Date(t).toLocaleString(undefined, { weekday: 'short', hour: 'numeric', minute: '2-digit' });

export function trustText(trusted, formatTime = shortTime) {
  if (!trusted) return 'Trusting a site lets every third party on it load.';
  if (trusted.until == null) return 'You trust this site: nothing on it is blocked.';
  return `You trust this site until ${formatTime(trusted.until)}: nothing on it is blocked.`;
}

/** Why Crumbs is off, in words for the popup (the badge's words point at the popup itself). */
const OFF_WORDS = {
  unpaired: 'Crumbs is off: it is not paired with the companion on this computer yet.',
  unauthorized: 'Crumbs is off: the companion no longer accepts this browser. Pair it again.',
  unreachable: 'Crumbs is off: the companion is not answering. Start it with "crumbs serve". Blocking rules still apply.',
};

export function offText(status, statusText) {
  return OFF_WORDS[status] || statusText || 'Crumbs is off: the companion is not answering.';
}
