/**
 * The stand-in scripts (extension/surrogates/), each run in node's vm with a fake window, the way a page
 * would load it: before it, the page's snippet queued calls; after it, the page calls the API. Every network
 * API of the fake window throws and is logged, and each test checks the log is empty: a stand-in sends nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const DIR = fileURLToPath(new URL('../surrogates/', import.meta.url));
const source = (name) => readFileSync(DIR + name, 'utf8');
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A fake page: window (the vm's global), a tiny document, and network APIs that record and throw. */
function makePage({ scriptSrc = '', ins = 0, elements = {} } = {}) {
  const network = [];
  const trap = (what) => function () { network.push(what); throw new Error(`${what} used by a stand-in`); };
  const attrs = () => {
    const a = {};
    return { attrs: a, getAttribute: (k) => (k in a ? a[k] : null), setAttribute: (k, v) => { a[k] = String(v); },
      get dataset() { return { adStatus: a['data-ad-status'] }; } };
  };
  const units = Array.from({ length: ins }, attrs);
  const document = {
    currentScript: { src: scriptSrc },
    readyState: 'complete',
    createElement: trap('document.createElement'),
    querySelectorAll: (sel) => (sel === 'ins.adsbygoogle' ? units : []),
    getElementById: (id) => elements[id] || null,
    addEventListener() {},
  };
  const location = { href: 'https://shop.example/page' };
  const win = {
    document, location, console, Promise, JSON, Object, Array, Date, Math, String, Number, Error, Proxy,
    setTimeout, clearTimeout,
    fetch: trap('fetch'), XMLHttpRequest: trap('XMLHttpRequest'), WebSocket: trap('WebSocket'),
    EventSource: trap('EventSource'), Image: trap('Image'), importScripts: trap('importScripts'),
    navigator: { sendBeacon: trap('navigator.sendBeacon'), userAgent: 'node' },
  };
  const context = vm.createContext(win);
  vm.runInContext('window = this; self = this;', context);
  return {
    window: context, document, units, location, network,
    run(code) { return vm.runInContext(code, context); },
    /** A value from the page, as plain JSON (objects made in the vm have the vm's prototypes). */
    json(code) { return JSON.parse(vm.runInContext(`JSON.stringify(${code})`, context)); },
    load(file) { vm.runInContext(source(file), context, { filename: file }); },
  };
}

function sendsNothing(page) { assert.deepEqual(page.network, [], 'a stand-in used a network API'); }

test('no stand-in even mentions a network API, a new element or eval', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.js'));
  assert.ok(files.length >= 10);
  for (const f of files) {
    const code = source(f).replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''); // comments may explain
    const strings = code.replace(/'[^'\n]*'/g, "''"); // a string value like 'Image' is not a call
    assert.doesNotMatch(strings, /\b(fetch|XMLHttpRequest|sendBeacon|WebSocket|EventSource|Image|createElement|importScripts|eval|Function\(|innerHTML|write)\b/, f);
    assert.match(source(f), /^\/\*\n \* Crumbs stand-in for /, `${f} starts by saying what it stands in for and why`);
  }
});

test('analytics.js: the queue runs, hitCallback is called, trackers answer', async () => {
  const page = makePage();
  page.run(`window.ga = function(){ (ga.q = ga.q || []).push(arguments) }; ga.l = 1;
    window.calls = [];
    ga('create', 'UA-1-1', 'auto');
    ga('send', 'event', 'outbound', 'click', 'x', { hitCallback: function () { calls.push('queued hit') } });
    ga(function (t) { calls.push('ready ' + t.get('trackingId')) });`);
  page.load('google-analytics.js');
  page.run(`ga('send', { hitType: 'pageview', hitCallback: function () { calls.push('later hit') } });
    ga('create', 'UA-2-2', 'auto', 'second');
    ga('second.send', 'pageview', { hitCallback: function () { calls.push('named hit') } });
    ga('send', 'pageview'); ga('require', 'ec'); ga('ec:addProduct', {}); ga(42);
    window.tracker = ga.create('UA-3-3', { name: 'third' });`);
  assert.deepEqual(page.json('calls'), ['ready UA-1-1']); // ready callbacks run in order, hits answer async
  await tick();
  assert.deepEqual(page.json('calls').sort(), ['later hit', 'named hit', 'queued hit', 'ready UA-1-1']);
  assert.equal(page.run('ga.getAll().length'), 3);
  assert.equal(page.run('ga.getByName("third") === tracker && tracker.get("name")'), 'third');
  assert.equal(page.run('ga.loaded'), true);
  sendsNothing(page);
});

test('analytics.js under a renamed global (GoogleAnalyticsObject)', async () => {
  const page = makePage();
  page.run(`window.GoogleAnalyticsObject = '__gaTracker'; window.__gaTracker = function(){
    (__gaTracker.q = __gaTracker.q || []).push(arguments) }; window.hit = false;
    __gaTracker('create', 'UA-1'); __gaTracker('send', 'pageview', { hitCallback: function () { hit = true } });`);
  page.load('google-analytics.js');
  await tick();
  assert.equal(page.run('hit'), true);
  assert.equal(page.run('typeof window.ga'), 'undefined');
});

test('ga.js: functions pushed to _gaq run, hitCallback is called, _link navigates, any _method is accepted', async () => {
  const page = makePage();
  page.run(`window._gaq = [['_setAccount', 'UA-1'], ['_trackPageview'], function () { window.ranQueued = true }];`);
  page.load('google-analytics-ga.js');
  page.run(`window.hit = 0;
    _gaq.push(['_set', 'hitCallback', function () { hit += 1 }], ['_trackEvent', 'a', 'b']);
    _gaq.push(['_setDomainName', 'shop.example'], ['_addIgnoredRef', 'x'], ['b._trackPageview']);
    window.t = _gat._getTracker('UA-9'); t._setCustomVar(1, 'a', 'b', 1); t._trackPageview();
    window.pushed = _gaq.push(['_link', 'https://partner.example/']);`);
  assert.equal(page.run('ranQueued'), true);
  assert.equal(page.run('pushed'), 0);
  assert.equal(page.location.href, 'https://partner.example/');
  assert.equal(page.run('t._getAccount()'), 'UA-9');
  await tick();
  assert.equal(page.run('hit'), 1);
  sendsNothing(page);
});

test('gtag.js: event_callback and get callbacks run, before and after load; dataLayer stays an array', async () => {
  const page = makePage({ scriptSrc: 'https://www.googletagmanager.com/gtag/js?id=G-TEST' });
  page.run(`window.dataLayer = []; function gtag(){ dataLayer.push(arguments) } window.gtag = gtag; window.calls = [];
    gtag('js', new Date()); gtag('config', 'G-TEST');
    gtag('event', 'early', { event_callback: function () { calls.push('early') } });`);
  page.load('google-tag.js');
  page.run(`gtag('event', 'purchase', { value: 1, event_callback: function () { calls.push('purchase') } });
    gtag('get', 'G-TEST', 'client_id', function (v) { calls.push('get ' + v) });
    gtag('set', { user_properties: { plan: 'free' } }); gtag('consent', 'update', {});`);
  await tick();
  assert.deepEqual(page.json('calls').sort(), ['early', 'get undefined', 'purchase']);
  assert.equal(page.run('Array.isArray(dataLayer) && dataLayer.length'), 7);
  sendsNothing(page);
});

test('gtm.js: eventCallback gets the container id, pushed functions run, google_tag_manager reads the model', async () => {
  const page = makePage({ scriptSrc: 'https://www.googletagmanager.com/gtm.js?id=GTM-ABC&l=shopLayer' });
  page.run(`window.shopLayer = [{ 'gtm.start': 1, event: 'gtm.js' },
    { event: 'checkout', ecommerce: { step: 2 }, eventCallback: function (id) { window.cb = id }, eventTimeout: 2000 }];`);
  page.load('google-tag.js');
  page.run(`shopLayer.push({ ecommerce: { value: 9 } }); shopLayer.push(function () { window.fromThis = this.get('ecommerce.step') });`);
  await tick();
  assert.equal(page.run('cb'), 'GTM-ABC');
  assert.equal(page.run('fromThis'), 2);
  assert.equal(page.run('google_tag_manager["GTM-ABC"].dataLayer.get("ecommerce.value")'), 9);
  assert.equal(page.run('google_tag_manager["GTM-ABC"].dataLayer.get("event")'), 'checkout');
  assert.equal(page.run('typeof window.dataLayer'), 'undefined', 'the data layer named by ?l= is used');
  // Loaded a second time (gtag and GTM on one page): callbacks run once.
  page.run('window.count = 0; shopLayer.push({ event: "x", eventCallback: function () { count += 1 } });');
  page.load('google-tag.js');
  await tick();
  assert.equal(page.run('count'), 1);
  sendsNothing(page);
});

test('gpt.js: the cmd queue drains, chains return the right objects, display says the slot is empty', async () => {
  const div = { style: {}, textContent: '' };
  const page = makePage({ elements: { 'ad-top': div } });
  page.run(`window.googletag = { cmd: [] }; window.events = [];
    googletag.cmd.push(function () {
      window.slot = googletag.defineSlot('/1/top', [[300, 250], [336, 280]], 'ad-top');
      window.chain = slot.addService(googletag.pubads()).setTargeting('k', 'v').setTargeting('l', ['a', 'b'])
        .defineSizeMapping(googletag.sizeMapping().addSize([0, 0], [300, 250]).build());
      googletag.pubads().addEventListener('slotRenderEnded', function (e) {
        events.push([e.slot.getSlotElementId(), e.isEmpty]);
        if (e.isEmpty) document.getElementById(e.slot.getSlotElementId()).textContent = 'house ad';
      });
      window.single = googletag.pubads().enableSingleRequest();
      googletag.pubads().setTargeting('section', 'news').collapseEmptyDivs;
      googletag.enableServices();
    });`);
  page.load('google-publisher-tag.js');
  assert.equal(page.run('chain === slot'), true);
  assert.equal(page.run('single'), true);
  assert.deepEqual(page.json('slot.getTargeting("l")'), ['a', 'b']);
  assert.deepEqual(page.json('slot.getSizes().map(s => s.getWidth() + "x" + s.getHeight())'), ['300x250', '336x280']);
  assert.equal(page.run('googletag.pubads() === googletag.pubads() && slot.getServices()[0] === googletag.pubads()'), true);
  page.run(`window.n = googletag.cmd.push(function () { googletag.display('ad-top') }, function () { throw new Error('page bug') });
    googletag.cmd.push(function () { window.ranAfter = true });`);
  assert.equal(page.run('ranAfter'), true, 'a later push runs at once, even after a page error');
  await tick();
  assert.deepEqual(page.json('events'), [['ad-top', true]]);
  assert.equal(div.textContent, 'house ad');
  page.run('googletag.pubads().refresh([slot])');
  await tick();
  assert.equal(page.run('events.length'), 2);
  assert.equal(page.run('googletag.pubads().getSlots().length'), 1);
  assert.equal(page.run('googletag.apiReady && googletag.pubadsReady'), true);
  sendsNothing(page);
});

test('gpt.js: with initial load disabled, display registers and refresh answers; collapse hides empty slots', async () => {
  const div = { style: {} };
  const page = makePage({ elements: { a: div } });
  page.load('google-publisher-tag.js');
  page.run(`window.events = 0; googletag.pubads().addEventListener('slotRenderEnded', function () { events += 1 });
    googletag.pubads().disableInitialLoad(); googletag.pubads().collapseEmptyDivs();
    googletag.defineSlot('/1/a', [728, 90], 'a').addService(googletag.pubads()); googletag.enableServices();
    googletag.display('a');`);
  await tick();
  assert.equal(page.run('events'), 0);
  page.run('googletag.pubads().refresh()');
  await tick();
  assert.equal(page.run('events'), 1);
  assert.equal(div.style.display, 'none');
  sendsNothing(page);
});

test('adsbygoogle.js: every push is accepted, units are marked unfilled, game callbacks run', async () => {
  const page = makePage({ ins: 2 });
  page.run('window.adsbygoogle = [{}];');
  page.load('google-adsense.js');
  assert.equal(page.units[0].attrs['data-adsbygoogle-status'], 'done');
  assert.equal(page.units[0].attrs['data-ad-status'], 'unfilled');
  assert.equal(page.units[1].getAttribute('data-adsbygoogle-status'), null);
  page.run(`(adsbygoogle = window.adsbygoogle || []).push({});
    adsbygoogle.push({ type: 'start', name: 'level-1', adBreakDone: function (info) { window.done = info.breakStatus } });
    adsbygoogle.push({ preloadAdBreaks: 'on', onReady: function () { window.ready = true } });
    adsbygoogle.push({});`); // one more unit than the page has: accepted, no error
  assert.equal(page.units[1].attrs['data-ad-status'], 'unfilled');
  assert.equal(page.run('adsbygoogle.loaded'), true);
  await tick();
  assert.equal(page.run('done'), 'notReady');
  assert.equal(page.run('ready'), true);
  sendsNothing(page);
});

test('fbevents.js: the snippet queue drains, later calls go through callMethod, getState answers', () => {
  const page = makePage();
  page.run(`!function(f){if(f.fbq)return;var n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};
    if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[]}(window);
    fbq('init', '1234'); fbq('track', 'PageView');`);
  page.load('meta-pixel.js');
  page.run(`fbq('track', 'Purchase', { value: 1 }, { eventID: 'e1' }); fbq('init', '99'); fbq('trackCustom', 'x');`);
  assert.equal(page.run('fbq.queue.length'), 0);
  assert.equal(page.run('typeof fbq.callMethod'), 'function');
  assert.deepEqual(page.json('fbq.getState().pixels.map(p => p.id)'), ['1234', '99']);
  sendsNothing(page);
});

test('fbevents.js without the snippet: fbq exists for the page\'s next script', () => {
  const page = makePage();
  page.load('meta-pixel.js');
  page.run(`fbq('init', '1'); fbq('track', 'PageView');`);
  assert.equal(page.run('window._fbq === window.fbq && fbq.loaded'), true);
  sendsNothing(page);
});

test('apstag.js: queued init and fetchBids run, bids answer empty', async () => {
  const page = makePage();
  page.run(`!function(a9,a){if(a[a9])return;function q(c,r){a[a9]._Q.push([c,r])}a[a9]={init:function(){q('i',arguments)},
    fetchBids:function(){q('f',arguments)},setDisplayBids:function(){},targetingKeys:function(){return[]},_Q:[]}}('apstag',window);
    apstag.init({ pubID: '1' }); window.got = [];
    apstag.fetchBids({ slots: [{ slotID: 'a', sizes: [[300, 250]] }], timeout: 2000 }, function (b) { got.push(b) });`);
  page.load('amazon-apstag.js');
  page.run(`apstag.fetchBids({ slots: [] }, function (b) { got.push(b) }); apstag.setDisplayBids();`);
  await tick();
  assert.deepEqual(page.json('JSON.stringify(got)'), '[[],[]]');
  assert.deepEqual(page.json('apstag.targetingKeys()'), []);
  sendsNothing(page);
});

const PLAYER = `
  window.log = [];
  var video = { play: function () { log.push('play') }, pause: function () { log.push('pause') }, currentTime: 0 };
  var adc = new google.ima.AdDisplayContainer({}, video);
  var loader = new google.ima.AdsLoader(adc);
  loader.getSettings().setVpaidMode(google.ima.ImaSdkSettings.VpaidMode.ENABLED);
  var req = new google.ima.AdsRequest(); req.adTagUrl = 'https://ads.example/vast'; req.linearAdSlotWidth = 640;`;

test('ima3.js: a player listening for the ads manager plays the content when IMA resumes it', async () => {
  const page = makePage();
  page.load('google-ima.js');
  page.run(`${PLAYER}
    loader.addEventListener(google.ima.AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED, function (e) {
      var m = e.getAdsManager(video, new google.ima.AdsRenderingSettings());
      m.addEventListener([google.ima.AdErrorEvent.Type.AD_ERROR], function () { log.push('manager error') });
      m.addEventListener(google.ima.AdEvent.Type.CONTENT_PAUSE_REQUESTED, function () { video.pause() });
      m.addEventListener(google.ima.AdEvent.Type.CONTENT_RESUME_REQUESTED, function () { video.play() });
      m.addEventListener(google.ima.AdEvent.Type.ALL_ADS_COMPLETED, function () { log.push('all done'); m.destroy() });
      adc.initialize(); m.init(640, 360, google.ima.ViewMode.NORMAL); m.start();
      log.push('cues ' + m.getCuePoints().length);
    }, false);
    loader.addEventListener(google.ima.AdErrorEvent.Type.AD_ERROR, function () { log.push('loader error'); video.play() }, false);
    loader.requestAds(req);`);
  await tick(20);
  assert.deepEqual(page.json('log'), ['cues 0', 'play', 'all done']);
  sendsNothing(page);
});

test('ima3.js: a player listening only for errors gets "no ads" and plays the content', async () => {
  const page = makePage();
  page.load('google-ima.js');
  page.run(`${PLAYER}
    loader.addEventListener(google.ima.AdErrorEvent.Type.AD_ERROR, function (e) {
      log.push(e.getError().getErrorCode()); video.play(); }, false);
    loader.requestAds(req, { id: 7 });`);
  await tick(20);
  assert.deepEqual(page.json('log'), [google_ima_empty(), 'play']);
  sendsNothing(page);
});

function google_ima_empty() { return 1009; } // VAST empty response: what IMA reports when no ad came back

test('segment analytics.js: the snippet queue replays, ready and track callbacks run, calls resolve', async () => {
  const page = makePage();
  page.run(`var a = window.analytics = []; a.invoked = true; a._writeKey = 'KEY';
    ['track', 'page', 'ready', 'identify'].forEach(function (m) { a[m] = function () {
      var t = Array.prototype.slice.call(arguments); t.unshift(m); a.push(t); return a; }; });
    a.page(); window.calls = [];
    a.ready(function () { calls.push('ready') });
    a.track('Signed up', { plan: 'free' }, {}, function () { calls.push('tracked') });`);
  page.load('segment.js');
  page.run(`analytics.identify('u1', { a: 1 }, function () { calls.push('identified') });
    analytics.trackLink({}, 'Clicked'); analytics.reset();
    window.resolved = analytics.track('x').then(function (ctx) { return ctx.event.event });`);
  await tick();
  assert.deepEqual(page.json('calls').sort(), ['identified', 'ready', 'tracked']);
  assert.equal(await page.run('resolved'), 'x');
  assert.equal(page.run('analytics.user().anonymousId()'), null);
  assert.equal(page.run('analytics._writeKey'), 'KEY');
  sendsNothing(page);
});

test('comScore beacon.js: COMSCORE.beacon works and the queue accepts pushes', () => {
  const page = makePage();
  page.run(`window._comscore = [{ c1: '2', c2: '1' }];`);
  page.load('comscore.js');
  page.run(`COMSCORE.beacon({ c1: '2', c2: '1' }); _comscore.push({ c1: '2' }); window.after = true;`);
  assert.equal(page.run('after'), true);
  sendsNothing(page);
});
