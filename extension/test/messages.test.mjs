// Every message that tells the person to choose a button names a button that exists, as it is labelled:
// the extension's own words, and the companion's (its command line and pages send people to the popup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const REPO = join(ROOT, '..');
const inDirs = (base, dirs, ext) => dirs.flatMap((dir) => readdirSync(join(base, dir))
  .filter((f) => ext.test(f)).map((f) => join(base, dir, f)));
const files = inDirs(ROOT, ['src', 'popup', 'welcome', 'pairing'], /\.(js|html)$/);
const companionFiles = [...inDirs(REPO, ['companion/cli'], /\.py$/), ...inDirs(REPO, ['companion/web/templates'], /\.html$/)];
const docs = [join(REPO, 'README.md'), join(ROOT, 'README.md')];

/** The visible labels of every <button> in the extension's and the companion's pages (markup removed, spaces folded). */
function buttonLabels() {
  const labels = new Set();
  for (const f of [...files, ...companionFiles].filter((x) => x.endsWith('.html'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/g)) {
      labels.add(m[1].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
    }
  }
  return labels;
}

test("every \"choose 'X'\" names a real button", () => {
  const labels = buttonLabels();
  assert.ok(labels.has('Pair now') && labels.has('Open history') && labels.has('Trust'), [...labels].join(' | '));
  let named = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/\\'/g, "'");
    for (const m of text.matchAll(/\b[Cc]hoose '([^']+)'/g)) {
      named += 1;
      assert.ok(labels.has(m[1]), `${f}: "choose '${m[1]}'" but no button is labelled so (${[...labels].join(' | ')})`);
    }
  }
  assert.ok(named >= 4, `expected the messages to name buttons, found ${named}`);
});

test('the companion\'s command line and pages, and the READMEs, name real buttons too', () => {
  const labels = buttonLabels();
  const named = [];
  const patterns = [/\b[Cc]hoose '([^']+)'/g, /\b[Cc]hoose <strong>([^<]+)<\/strong>/g, /\b[Cc]hoose \*{1,2}([^*]+)\*{1,2}/g,
    /(?:,|\bor) \*([A-Z][^*]+)\* in the extension's popup/g];
  for (const f of [...companionFiles, ...docs]) {
    const text = readFileSync(f, 'utf8');
    for (const re of patterns) {
      for (const m of text.matchAll(re)) {
        if (m[1] === '…') continue; // the README speaking of such messages in general
        named.push(m[1]);
        assert.ok(labels.has(m[1]), `${f}: names '${m[1]}' but no button is labelled so (${[...labels].join(' | ')})`);
      }
    }
  }
  // The pairing hint of `crumbs serve` / `crumbs pair` and the sign-in page's hint are among them.
  assert.ok(named.includes('Pair now') && named.includes('Open history'), named.join(' | '));
});

test('a message that sends the person to the popup names a button of the popup', () => {
  const popup = new Set([...readFileSync(join(ROOT, 'popup', 'popup.html'), 'utf8')
    .matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/g)].map((m) => m[1].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()));
  const re = /popup[^.(]{0,30}?\b[Cc]hoose (?:'|<strong>|\*{1,2})([^'<*]+)/g;
  const named = [];
  for (const f of [...files, ...companionFiles, ...docs]) {
    for (const m of readFileSync(f, 'utf8').replace(/\\'/g, "'").matchAll(re)) {
      named.push(m[1]);
      assert.ok(popup.has(m[1]), `${f}: sends the person to the popup to choose '${m[1]}', which the popup has not (${[...popup].join(' | ')})`);
    }
  }
  assert.ok(named.length >= 4, named.join(' | '));
});
