/**
 * What the companion last said about each host: its domain, whether it was a tracker's, owner,
 * category and one-line description; and the site of each page host.
 *
 * Why: while the companion is away, the popup still names the page's third parties and the badge
 * still counts trackers, from these last answers. Bounded (least recently learnt dropped first) and
 * plain JSON, so it lives in chrome.storage.local. Pure: node tests it.
 */

export class Facts {
  constructor(max = 3000, hosts = [], pages = []) {
    this.max = max;
    this.hosts = new Map(hosts);
    this.pages = new Map(pages);
  }

  /** Learn from one companion VERDICT for a request made by a page on pageHost. */
  learn(verdict, pageHost = null) {
    if (!verdict || !verdict.host || !verdict.domain) return;
    const before = this.hosts.get(verdict.host);
    this.hosts.delete(verdict.host);
    this.hosts.set(verdict.host, {
      domain: verdict.domain,
      // A host once seen serving a tracker's request stays a tracker's host: the lists name paths on it.
      tracker: Boolean(verdict.tracker || (before && before.tracker)),
      owner: verdict.owner || null,
      category_label: verdict.category_label || null,
      description: verdict.description || null,
    });
    if (pageHost && verdict.page_domain) {
      this.pages.delete(pageHost);
      this.pages.set(pageHost, verdict.page_domain);
    }
    trim(this.hosts, this.max);
    trim(this.pages, this.max);
  }

  /** What is known about a host, or null. */
  about(host) { return this.hosts.get(host) || null; }

  /** The site (registrable domain) the companion gave for pages on this host, or null. */
  siteOf(pageHost) { return this.pages.get(pageHost) || null; }

  toJSON() { return { max: this.max, hosts: [...this.hosts], pages: [...this.pages] }; }

  static fromJSON(obj, max = 3000) {
    if (!obj || !Array.isArray(obj.hosts)) return new Facts(max);
    return new Facts(max, obj.hosts, Array.isArray(obj.pages) ? obj.pages : []);
  }
}

function trim(map, max) {
  while (map.size > max) map.delete(map.keys().next().value);
}
