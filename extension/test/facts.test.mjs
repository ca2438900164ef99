import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Facts } from '../src/facts.js';

test('the last answers about hosts and page sites, bounded, and a tracker host stays one', () => {
  const f = new Facts(2);
  f.learn({ host: 'www.google.com', domain: 'google.com', tracker: true, owner: 'Google', category_label: 'Advertising',
    page_domain: 'news.example' }, 'www.news.example');
  f.learn({ host: 'www.google.com', domain: 'google.com', tracker: false, owner: 'Google' }, null);
  assert.equal(f.about('www.google.com').tracker, true, 'an unlisted path does not make the host innocent');
  assert.equal(f.siteOf('www.news.example'), 'news.example');
  f.learn({ host: 'a.net', domain: 'a.net' });
  f.learn({ host: 'b.net', domain: 'b.net' });
  assert.equal(f.about('www.google.com'), null, 'the least recently learnt went first');
  const back = Facts.fromJSON(JSON.parse(JSON.stringify(f)), 2);
  assert.equal(back.about('b.net').domain, 'b.net');
  assert.equal(Facts.fromJSON(null).about('x'), null);
  f.learn(null); f.learn({ host: 'x' });
  assert.equal(f.about('x'), null);
});
