/**
 * The catalog of social and video embeds that get a click-to-load placeholder when blocked, and
 * the pure helpers around it (matching a blocked request, the session rule that lets one through,
 * the placeholder's words). No DOM and no chrome.*: node tests import it, and so does the
 * background (src/clicktoload.js). The content script gets the entry it needs as plain data.
 *
 * Each entry: what the embed is, which frame and script addresses it loads from, which tracker
 * domain a choice is stored for, and who sees the visit when it loads. Frames are replaced where
 * the <iframe> was; scripts (widgets that turn a <blockquote> or <div> into an embed) are replaced
 * where their container elements are.
 */

/**
 * @typedef {{id: string, name: string, kind: string, tracker: string, owner: string,
 *   frames: Array<{hosts: string[], path: RegExp}>, scripts: Array<{hosts: string[], path: RegExp}>,
 *   containers: string[], size: [number, number]}} Embed
 */

/** @type {Embed[]} */
export const EMBEDS = [
  {
    id: 'youtube', name: 'YouTube', kind: 'video', tracker: 'youtube.com', owner: 'Google (YouTube)',
    frames: [{ hosts: ['youtube.com', 'youtube-nocookie.com'], path: /^\/embed\// }],
    scripts: [], containers: [], size: [560, 315],
  },
  {
    id: 'vimeo', name: 'Vimeo', kind: 'video', tracker: 'vimeo.com', owner: 'Vimeo',
    frames: [{ hosts: ['player.vimeo.com'], path: /^\/video\// }],
    scripts: [], containers: [], size: [640, 360],
  },
  {
    id: 'facebook', name: 'Facebook', kind: 'post', tracker: 'facebook.com', owner: 'Meta (Facebook)',
    frames: [{ hosts: ['facebook.com'], path: /^\/(v[\d.]+\/)?plugins\/(post|video|page|comments)\.php/ }],
    scripts: [{ hosts: ['connect.facebook.net'], path: /\/sdk\.js$/ }],
    containers: ['.fb-post', '.fb-video', '.fb-page', '.fb-comments'], size: [500, 400],
  },
  {
    id: 'instagram', name: 'Instagram', kind: 'post', tracker: 'instagram.com', owner: 'Meta (Instagram)',
    frames: [{ hosts: ['instagram.com'], path: /^\/(p|reel|tv)\/[^/]+\/embed/ }],
    scripts: [{ hosts: ['instagram.com'], path: /^\/embed\.js$/ }],
    containers: ['blockquote.instagram-media'], size: [400, 480],
  },
  {
    id: 'x', name: 'X (Twitter)', kind: 'post', tracker: 'twitter.com', owner: 'X Corp.',
    frames: [{ hosts: ['platform.twitter.com', 'platform.x.com'], path: /^\/embed\// }],
    scripts: [{ hosts: ['platform.twitter.com', 'platform.x.com'], path: /^\/widgets\.js$/ }],
    containers: ['blockquote.twitter-tweet', 'blockquote.twitter-video', 'a.twitter-timeline'], size: [550, 300],
  },
  {
    id: 'tiktok', name: 'TikTok', kind: 'video', tracker: 'tiktok.com', owner: 'ByteDance (TikTok)',
    frames: [{ hosts: ['tiktok.com'], path: /^\/(embed|player)\// }],
    scripts: [{ hosts: ['tiktok.com'], path: /^\/embed\.js$/ }],
    containers: ['blockquote.tiktok-embed'], size: [325, 575],
  },
  {
    id: 'disqus', name: 'Disqus', kind: 'comments', tracker: 'disqus.com', owner: 'Disqus',
    frames: [{ hosts: ['disqus.com'], path: /^\/embed\/comments\// }],
    scripts: [{ hosts: ['disqus.com'], path: /^\/embed\.js$/ }],
    containers: ['#disqus_thread'], size: [600, 300],
  },
  {
    id: 'spotify', name: 'Spotify', kind: 'player', tracker: 'spotify.com', owner: 'Spotify',
    frames: [{ hosts: ['open.spotify.com'], path: /^\/embed(-podcast)?\// }],
    scripts: [], containers: [], size: [300, 380],
  },
  {
    id: 'soundcloud', name: 'SoundCloud', kind: 'player', tracker: 'soundcloud.com', owner: 'SoundCloud',
    frames: [{ hosts: ['w.soundcloud.com'], path: /^\/player\// }],
    scripts: [], containers: [], size: [600, 166],
  },
  {
    id: 'googlemaps', name: 'Google Maps', kind: 'map', tracker: 'google.com', owner: 'Google',
    frames: [
      { hosts: ['google.com'], path: /^\/maps\/embed/ },
      { hosts: ['maps.google.com'], path: /^\/maps/ },
    ],
    scripts: [], containers: [], size: [600, 450],
  },
];

const KIND_WORDS = { video: 'video', post: 'post', comments: 'comments', player: 'player', map: 'map' };

/** True when host is domain or one of its subdomains. */
function under(host, domain) {
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * The catalog entry a request belongs to, as {embed, as: 'frame'|'script'}, or null.
 * Only frames and scripts count: a blocked image or beacon of the same company is not an embed.
 * @param {string} url
 * @param {string} type webRequest ResourceType
 */
export function embedFor(url, type) {
  const as = type === 'sub_frame' ? 'frame' : type === 'script' ? 'script' : null;
  if (!as) return null;
  let u;
  try { u = new URL(url); } catch { return null; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  const host = u.hostname.toLowerCase();
  for (const embed of EMBEDS) {
    const patterns = as === 'frame' ? embed.frames : embed.scripts;
    if (patterns.some((p) => p.hosts.some((h) => under(host, h)) && p.path.test(u.pathname))) return { embed, as };
  }
  return null;
}

/** The plain-data view of an entry the content script needs (RegExps do not cross the message). */
export function embedInfo(embed) {
  const { id, name, kind, tracker, owner, containers, size } = embed;
  return { id, name, kind, tracker, owner, containers, size };
}

/** Session rule ids for click-to-load live in their own range, apart from anyone else's session rules. */
export const RULE_BASE = 700_000;
export const RULE_SPAN = 100_000;
// Above every rule of the companion (400 at most), below GPC's header rule (10000).
export const ALLOW_PRIORITY = 450;

export const isOurRule = (id) => id >= RULE_BASE && id < RULE_BASE + RULE_SPAN;

/** The first free id of our range, given the session rules the browser holds. */
export function nextRuleId(sessionRules) {
  const used = sessionRules.map((r) => r.id).filter(isOurRule);
  return used.length ? Math.max(...used) + 1 : RULE_BASE;
}

const URL_FILTER_SPECIALS = /[*^|]/;

/** A regexFilter (RE2) matching exactly this URL. */
function exactRegex(url) {
  return `^${url.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}$`;
}

/**
 * The session rules that load one blocked embed in one tab, with ids from `id` on.
 * A frame: its exact URL, as allowAllRequests, so the player's own requests inside it go through too.
 * A widget script: its exact URL, plus allowAllRequests for frames from the embed's own hosts (the
 * script builds those frames next). Scoped to the tab; the background removes them when the tab
 * navigates or closes, so other pages stay blocked.
 */
export function rulesFor({ id, tabId, url, as, embed }) {
  const match = URL_FILTER_SPECIALS.test(url) ? { regexFilter: exactRegex(url) } : { urlFilter: `|${url}|` };
  if (as === 'frame') {
    return [{ id, priority: ALLOW_PRIORITY, action: { type: 'allowAllRequests' },
      condition: { ...match, resourceTypes: ['sub_frame'], tabIds: [tabId] } }];
  }
  const hosts = [...new Set([...embed.frames, ...embed.scripts].flatMap((p) => p.hosts))].sort();
  return [
    { id, priority: ALLOW_PRIORITY, action: { type: 'allow' },
      condition: { ...match, resourceTypes: ['script'], tabIds: [tabId] } },
    { id: id + 1, priority: ALLOW_PRIORITY, action: { type: 'allowAllRequests' },
      condition: { requestDomains: hosts, resourceTypes: ['sub_frame'], tabIds: [tabId] } },
  ];
}

/** The session rules of ours that belong to a tab (to remove when it navigates or closes). */
export function tabRuleIds(sessionRules, tabId) {
  return sessionRules.filter((r) => isOurRule(r.id) && (r.condition.tabIds || []).includes(tabId)).map((r) => r.id);
}

/**
 * What the placeholder says: {title, body, load, allow, allowTitle}. Plain strings: the content
 * script puts them in the page with textContent only.
 * @param {{name: string, kind: string, owner: string}} info
 * @param {string|null} site the page's site, when known
 */
export function placeholderText(info, site) {
  const what = `${info.name} ${KIND_WORDS[info.kind] || 'content'}`;
  const where = site ? ` on ${site}` : '';
  return {
    title: `${what} blocked by Crumbs`,
    body: `Crumbs blocked this ${what} so that ${info.owner} does not learn you visited this page. `
      + `If you load it, ${info.owner} will see your visit${where}.`,
    load: `Load ${what}`,
    allow: site ? `Always allow ${info.name} on ${site}` : `Always allow ${info.name} here`,
  };
}

/**
 * The placeholder's size in CSS pixels, from what the blocked element said: its width and height
 * attributes, else its laid-out box (Chromium collapses a blocked frame to 0x0, so that is often
 * empty), else the embed's usual size. Widths are kept within 100% of the container by CSS.
 * @param {{attrWidth?: string|null, attrHeight?: string|null, boxWidth?: number, boxHeight?: number}} seen
 * @param {[number, number]} fallback
 */
export function placeholderSize(seen, fallback) {
  const px = (v) => {
    const n = Number.parseFloat(String(v ?? ''));
    return Number.isFinite(n) && n >= 40 && n <= 4000 && /^\s*\d+(\.\d+)?\s*(px)?\s*$/.test(String(v)) ? Math.round(n) : null;
  };
  const box = (n) => (Number.isFinite(n) && n >= 40 ? Math.round(n) : null);
  return {
    width: px(seen.attrWidth) || box(seen.boxWidth) || fallback[0],
    height: px(seen.attrHeight) || box(seen.boxHeight) || fallback[1],
  };
}
