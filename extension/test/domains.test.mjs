// The host and path of a URL by slicing the browser's canonical form must be what the URL parser says,
// for every URL: the fast way is taken only when it cannot differ, and the parser decides the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostAndPath, hostOf, parsedHostOf } from '../src/domains.js';

const reference = (url) => {
  const host = parsedHostOf(url);
  return host ? { host, path: new URL(url).pathname } : null;
};

const URLS = [
  'https://www.google-analytics.com/collect?v=1&tid=UA-1', 'http://news.example/article', 'https://a.example',
  'https://a.example?x=1', 'https://a.example#top', 'wss://socket.example:8443/live', 'ws://chat.example/',
  'http://127.0.0.1:8737/api/v1/events', 'http://[::1]:8080/x', 'https://0x7f.1/', 'http://1.2.3.4/', 'https://a.1/',
  'https://WWW.News.Example./x', 'https://news.example./x', 'http://a..b/', 'https://.a.example/', 'http://./',
  'https://xn--bcher-kva.example/', 'https://xn--a.example/', 'https://bücher.example/', 'https://a.example:443/',
  'https://a.example:99999/', 'https://a.example:/x', 'https://user:pw@a.example/', 'https://a.example\\b/c',
  'HTTPS://A.EXAMPLE/', ' https://a.example/', 'https://a.example/a/../b', 'https://a.example/./b', 'https://a.example/%2e%2E/b',
  'https://a.example/.well-known/x', 'https://a.example/sp ace', 'https://a.example/q"uote<>`{}', 'https://a.example/ü',
  'https://a.example/a|b^c', 'https://a%2eexample/', 'data:image/png;base64,AA', 'chrome-extension://abc/surrogates/x.js',
  'ftp://files.example/x', 'about:blank', '', 'not a url', 'https://', 'https:///x', 'http://a.example:8080',
  `https://cdn.example/${'p'.repeat(300)}?q=${'x'.repeat(2000)}`,
];

test('hostOf and hostAndPath agree with the URL parser on every URL, canonical or not', () => {
  for (const url of URLS) {
    assert.deepEqual(hostAndPath(url), reference(url), url);
    assert.equal(hostOf(url), parsedHostOf(url), url);
  }
  assert.equal(hostOf(null), null);
  assert.equal(hostOf(undefined), null);
  assert.equal(hostAndPath(42), null);
});

test('generated URLs: random hosts, ports and paths agree too', () => {
  const pick = (s) => s[Math.floor(Math.random() * s.length)];
  const parts = ['a', 'b1', 'x-y', '', '0', '9z', 'xn--', 'Q', '.', '%41', '_'];
  const paths = ['', '/', '/a', '/a/b.js', '/./', '/../x', '/%2e', '/a b', '/é', '/a?b', '/a#b', '/a%20b', '/;x', '/a\\b'];
  for (let i = 0; i < 3000; i += 1) {
    const host = Array.from({ length: 1 + (i % 4) }, () => pick(parts) + pick(parts)).join('.');
    const port = pick(['', ':80', ':8080', ':65536', ':x', ':']);
    const url = `${pick(['http', 'https', 'ws', 'wss', 'ftp'])}://${host}${port}${pick(paths)}`;
    assert.deepEqual(hostAndPath(url), reference(url), url);
    assert.equal(hostOf(url), parsedHostOf(url), url);
  }
});
