/**
 * The popup's markup, as text: its rows (popup.js makes each new row from rowHtml), and its whole first
 * frame, written into popup.html by the extension's worker before the page is served (prerender, from
 * src/popupserve.js). No DOM, no chrome.*: node tests import it, and a service worker has no DOM.
 *
 * Every piece of data goes through escapeHtml, in text and in quoted attribute values alike: domains,
 * owners and descriptions come from the companion, and URLs from websites.
 */

/** Text made safe for HTML text and double- or single-quoted attribute values. */
export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const CONTROLS = [
  ['block-here', 'Block', 'on this site'],
  ['allow-here', 'Allow', 'on this site'],
  ['allow-everywhere', 'Allow', 'everywhere'],
  ['reset', 'Default', ''],
];

/** "What got through": a row's part for the requests that got through (view.through of a row view). */
export function throughHtml(through) {
  const items = through.items.map((r) => `<li><code>${escapeHtml(r.where)}</code>${escapeHtml(r.why)}</li>`).join('');
  return `<details class="through"><summary>${escapeHtml(through.title)}</summary>`
    + `<ul class="through-list">${items}</ul><p class="through-more">${escapeHtml(through.more)}</p></details>`;
}

/** "What it can learn": a row's part, shown folded. */
export function moreHtml(learns) {
  return `<details class="more"><summary>What it can learn</summary><p class="learns">${escapeHtml(learns)}</p></details>`;
}

/**
 * One third party's row (a row view of view.js). The parts most rows never show ("What got through",
 * "What it can learn") are in it only when it has something for them: 30 rows with two hidden <details>
 * each were a third of the first frame's elements to style and lay out (bench/bench_popup.py).
 */
export function rowHtml(row) {
  const tone = escapeHtml(row.tone);
  const title = row.stateTitle ? ` title="${escapeHtml(row.stateTitle)}"` : '';
  const buttons = CONTROLS.map(([action, main, sub]) => `<button type="button" data-action="${action}"`
    + ` aria-pressed="${String(row.active === action)}"><span class="seg-main">${main}</span>`
    + (sub ? ` <span class="seg-sub">${sub}</span>` : '') + '</button>').join('');
  return `<li class="tp ${tone}" data-domain="${escapeHtml(row.domain)}">`
    + `<div class="tp-head"><span class="domain">${escapeHtml(row.domain)}</span>`
    + `<span class="state ${tone}"${title}>${escapeHtml(row.state)}</span></div>`
    + `<div class="meta"><span class="owner">${escapeHtml(row.owner)}</span>`
    + `<span class="category">${escapeHtml(row.category)}</span><span class="counts">${escapeHtml(row.counts)}</span></div>`
    + `<p class="description"${row.description ? '' : ' hidden'}>${escapeHtml(row.description)}</p>`
    + (row.through ? throughHtml(row.through) : '')
    + (row.learns ? moreHtml(row.learns) : '')
    + `<div class="seg" role="group" aria-label="Your choice for ${escapeHtml(row.domain)}"${row.busy ? ' aria-busy="true"' : ''}>`
    + `${buttons}</div></li>`;
}

/**
 * popup.html with its first frame drawn in (a first view of view.js), and `data` (what popup.js needs to take
 * the page over without asking again) in a JSON block it reads. Each element is found by its id; an id
 * popup.html no longer has throws, so that the worker serves the page as it is instead of a half-drawn one.
 */
export function prerender(html, view, data) {
  const page = new Page(html);
  page.text('site', view.site);
  page.text('status', view.status).classes('status', view.statusTone ? [view.statusTone] : []);
  page.text('power', view.power).classes('power', view.powerTone ? [view.powerTone] : [])
    .attr('power', 'title', view.powerTitle).show('power', true);
  if (view.dropped) page.text('dropped', view.dropped).show('dropped', true);
  if (view.unpaired) page.show('unpaired', true).show('history', false);
  if (view.parties) {
    page.inner('tracker-list', view.parties.trackers.map(rowHtml).join(''));
    page.inner('other-list', view.parties.others.map(rowHtml).join(''));
    page.text('others-title', view.parties.othersTitle).show('others', view.parties.others.length > 0);
    page.show('empty', view.parties.empty).show('parties', true);
  }
  if (view.trust) {
    page.text('trust-state', view.trust.text).classes('trust', view.trust.on ? ['on'] : [])
      .show('trust-on', !view.trust.on).show('trust-off', view.trust.on).show('trust', true);
  }
  if (view.pageSummary !== null) page.text('page-summary', view.pageSummary).show('page-summary', true);
  // A data block, never run (the page's policy runs no inline script); "<" written as \u003c so that no
  // text in it can end the element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  // Its scripts: only boot.js, after the rows, which loads popup.js once the page is on screen. The browser
  // shows a popup when its document has loaded, script files included (see boot.js).
  const before = page.html;
  page.html = page.html.replace(/ *<(script type="module"|link rel="modulepreload")[^>]*>(<\/script>)?\n/g, '');
  if (page.html === before) throw new Error('popup.html names no script');
  page.html = page.html.replace('</body>', () => `<script type="application/json" id="first-frame">${json}</script>\n<script src="boot.js"></script>\n</body>`);
  return page.html;
}

/**
 * Edits to elements of an HTML text found by id: the opening tag's attributes, and the content of an element
 * that holds no element of its own tag name (the popup's are headings, paragraphs, spans and lists).
 */
class Page {
  constructor(html) { this.html = html; }

  /** [start of the opening tag, end of it, tag name] of the element with this id. */
  find(id) {
    const at = this.html.indexOf(` id="${id}"`);
    if (at < 0) throw new Error(`popup.html has no element #${id}`);
    const start = this.html.lastIndexOf('<', at);
    const end = this.html.indexOf('>', at) + 1;
    return [start, end, /^<([a-z0-9]+)/i.exec(this.html.slice(start, end))[1]];
  }

  tag(id, edit) {
    const [start, end] = this.find(id);
    this.html = this.html.slice(0, start) + edit(this.html.slice(start, end)) + this.html.slice(end);
    return this;
  }

  inner(id, markup) {
    const [, end, name] = this.find(id);
    const close = this.html.indexOf(`</${name}>`, end);
    if (close < 0) throw new Error(`#${id} is not closed`);
    this.html = this.html.slice(0, end) + markup + this.html.slice(close);
    return this;
  }

  text(id, value) { return this.inner(id, escapeHtml(value)); }

  show(id, on) {
    return this.tag(id, (open) => {
      const bare = open.replace(/\shidden(?=[\s>])/, '');
      return on ? bare : bare.replace(/>$/, ' hidden>');
    });
  }

  attr(id, name, value) {
    return this.tag(id, (open) => open.replace(/>$/, ` ${name}="${escapeHtml(value)}">`));
  }

  classes(id, names) {
    if (names.length === 0) return this;
    return this.tag(id, (open) => open.replace(/ class="([^"]*)"/, (_, had) => ` class="${had} ${names.map(escapeHtml).join(' ')}"`));
  }
}
