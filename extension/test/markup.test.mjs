import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { escapeHtml, prerender, rowHtml } from '../popup/markup.js';
import { firstView } from '../popup/view.js';

const HOSTILE = `<img src=x onerror="alert(1)">'&`;
const html = readFileSync(new URL('../popup/popup.html', import.meta.url), 'utf8');

test('escapeHtml leaves no markup and no way out of a quoted attribute', () => {
  assert.equal(escapeHtml(HOSTILE), '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;');
  assert.equal(escapeHtml(null), '');
});

test('a row of hostile names is text, in the text and in its attributes', () => {
  const row = rowHtml({ domain: HOSTILE, tone: 'blocked', state: HOSTILE, stateTitle: HOSTILE, owner: HOSTILE,
    category: HOSTILE, counts: HOSTILE, description: HOSTILE, learns: HOSTILE,
    through: { title: HOSTILE, items: [{ where: HOSTILE, why: HOSTILE }], more: HOSTILE }, busy: true, active: null });
  assert.ok(!row.includes('<img'), row);
  assert.ok(!row.includes('"alert'), row);
  assert.match(row, /aria-busy="true"/);
  assert.equal((row.match(/aria-pressed="true"/g) || []).length, 0);
});

test('the first frame drawn into popup.html: the page record while the companion is away, and the data block', () => {
  const info = {
    tabId: 7, status: 'unreachable', dropped: 2, rulesVersion: 'v1',
    tab: { pageUrl: 'https://news.example/', domains: [
      { domain: 'tracker.example', tracker: true, reached: 0, blocked: 1, cache: 0, failed: 0, through: [], owner: HOSTILE },
    ] },
    offlineChoices: [],
  };
  const page = prerender(html, firstView(info, 'news.example'), { info, site: 'news.example', siteExact: true, x: '</script>' });
  assert.match(page, /<h1 id="site" class="site">news\.example<\/h1>/);
  assert.match(page, /<p id="status" class="status away" role="status">The companion is not answering\./);
  assert.match(page, /<main id="parties">/);
  assert.match(page, /<section id="trust" class="trust">/);
  assert.match(page, /<p id="page-summary" class="page-summary">1 tracker on this page · none got through<\/p>/);
  assert.match(page, /<p id="dropped" class="note">2 reports were dropped/);
  assert.match(page, /data-domain="tracker\.example"/);
  assert.ok(!page.includes('<img src=x'), 'the owner is escaped');
  const block = /<script type="application\/json" id="first-frame">(.*)<\/script>/.exec(page)[1];
  assert.ok(!block.includes('</script>'));
  assert.equal(JSON.parse(block).x, '</script>');
  // Its one script is boot.js, after the rows and the data block: popup.js and its modules are not part of
  // the document's load, which the browser waits for before it shows a popup.
  assert.ok(page.indexOf('<script src="boot.js"></script>') > page.indexOf('id="first-frame"'));
  assert.ok(!page.includes('src="popup.js"') && !page.includes('rel="modulepreload"'));
  assert.equal(page.match(/<script\b/g).length, 2);
});

test('an id popup.html no longer has is an error, so that the worker serves the page as it is', () => {
  assert.throws(() => prerender('<html><body></body></html>', firstView({ status: 'ok' }, null), {}), /no element #site/);
});
