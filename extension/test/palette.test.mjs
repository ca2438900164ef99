// The welcome page has its own stylesheet (the popup's is inline in popup.html: one file fewer before the
// popup's first draw, issue 14), so the palette is written twice. This keeps the copy true: every colour
// the welcome page names, light and dark, is the popup's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');

// { light: {--name: value}, dark: {--name: value} } from the :root blocks of a stylesheet's text.
function palette(css) {
  const dark = css.indexOf('@media (prefers-color-scheme: dark)');
  const parts = { light: css.slice(0, dark), dark: css.slice(dark) };
  const out = {};
  for (const [scheme, text] of Object.entries(parts)) {
    const block = text.match(/:root\s*{([^}]*)}/);
    assert.ok(block, `a ${scheme} :root block`);
    out[scheme] = Object.fromEntries([...block[1].matchAll(/(--[\w-]+):\s*([^;]+);/g)].map((m) => [m[1], m[2].trim()]));
  }
  return out;
}

test('the welcome page uses the popup palette, light and dark', () => {
  const popupHtml = read('../popup/popup.html');
  const popup = palette(popupHtml.slice(popupHtml.indexOf('<style>'), popupHtml.indexOf('</style>')));
  const welcome = palette(read('../welcome/welcome.css'));
  for (const scheme of ['light', 'dark']) {
    assert.ok(Object.keys(welcome[scheme]).length >= 10, `the welcome page names its ${scheme} colours`);
    for (const [name, value] of Object.entries(welcome[scheme])) {
      assert.equal(value, popup[scheme][name], `${scheme} ${name}`);
    }
  }
});
