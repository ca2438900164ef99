/*
 * Crumbs stand-in for Google AdSense's adsbygoogle.js, served instead of the blocked ad library.
 *
 * Why: pages call (adsbygoogle = window.adsbygoogle || []).push({}) once per ad unit, read
 * adsbygoogle.loaded, and H5 games wait for adBreak()'s adBreakDone / adConfig()'s onReady before going on.
 * This accepts every push, marks each <ins class="adsbygoogle"> the way AdSense marks a unit it could not
 * fill (data-adsbygoogle-status="done", data-ad-status="unfilled", which pages style to hide empty units),
 * and calls the game callbacks with a "no ad" outcome. No ad is requested and nothing is sent: no network
 * API is used, and no frame or script is created.
 */
(function () {
  'use strict';
  var w = window;
  var d = w.document;
  var old = w.adsbygoogle;
  if (old && old.crumbsStandIn) return;

  function later(fn, arg) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(arg); } catch (e) { /* the page's own error */ } }, 0);
  }

  // The next unit nobody has handled yet; AdSense takes one per push.
  function markNextUnit() {
    if (!d || !d.querySelectorAll) return;
    var units = d.querySelectorAll('ins.adsbygoogle');
    for (var i = 0; i < units.length; i++) {
      var u = units[i];
      if (!u.getAttribute('data-adsbygoogle-status')) {
        u.setAttribute('data-adsbygoogle-status', 'done');
        u.setAttribute('data-ad-status', 'unfilled');
        return;
      }
    }
  }

  function handle(params) {
    try {
      if (params && typeof params === 'object' && (params.type || params.adBreakDone || params.beforeAd || params.onReady
          || params.preloadAdBreaks || params.sound)) {
        // H5 games API (adBreak / adConfig push these): no ad is shown, so the break is done at once.
        if (params.type) {
          later(params.adBreakDone, { breakType: params.type, breakName: params.name || '', breakFormat:
            params.type === 'reward' ? 'reward' : 'interstitial', breakStatus: 'notReady' });
        }
        later(params.onReady);
        return;
      }
      markNextUnit(); // an ad unit push ({} or {google_ad_client, enable_page_level_ads, ...})
    } catch (e) { /* never break the page */ }
  }

  var queued = Array.isArray(old) ? old.slice() : [];
  var standIn = {
    crumbsStandIn: true,
    loaded: true,
    push: function (params) { handle(params); },
  };
  w.adsbygoogle = standIn;
  for (var i = 0; i < queued.length; i++) handle(queued[i]);
})();
