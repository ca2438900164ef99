// Every message that tells the person to choose a button names a button that exists, as it is labelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const files = ['src', 'popup', 'welcome', 'pairing'].flatMap((dir) => readdirSync(join(ROOT, dir))
  .filter((f) => /\.(js|html)$/.test(f)).map((f) => join(ROOT, dir, f)));

/** The visible labels of every <button> in the extension's pages (markup removed, spaces folded). */
function buttonLabels() {
  const labels = new Set();
  for (const f of files.filter((x) => x.endsWith('.html'))) {
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
