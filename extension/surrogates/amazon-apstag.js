/*
 * Crumbs stand-in for Amazon Publisher Services' apstag.js (header bidding), served instead of the blocked script.
 *
 * Why: pages call apstag.init(...) and apstag.fetchBids({slots, timeout}, callback), and many wait for that
 * callback (often together with other bidders) before they request their ads or show their content. The
 * snippet queues those calls in apstag._Q until the library loads. This runs the queue and every later call,
 * answers fetchBids with no bids (an empty array, as when Amazon has no demand), and sends nothing: no
 * network API is used.
 */
(function () {
  'use strict';
  var w = window;
  var old = w.apstag;
  if (old && old.crumbsStandIn) return;

  function later(fn, arg) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(arg); } catch (e) { /* the page's own error */ } }, 0);
  }

  var apstag = {
    crumbsStandIn: true,
    _Q: [],
    init: function (config, callback) { later(callback); },
    fetchBids: function (config, callback) { later(callback, []); },
    setDisplayBids: function () {},
    targetingKeys: function () { return []; },
    renderImp: function () {},
    thirdPartyData: {},
    punt: function () {},
    // Publisher audiences: accepted, nothing kept.
    rpa: function (config, callback) { later(callback); },
    upa: function (config, callback) { later(callback); },
    cpa: function (callback) { later(callback); },
    dpa: function (callback) { later(callback); },
  };
  w.apstag = apstag;

  // The snippet's queue: ['i', arguments] for init, ['f', arguments] for fetchBids.
  var queued = old && Array.isArray(old._Q) ? old._Q.slice() : [];
  for (var i = 0; i < queued.length; i++) {
    var entry = queued[i] || [];
    var args = entry[1] ? Array.prototype.slice.call(entry[1]) : [];
    try {
      if (entry[0] === 'i') apstag.init.apply(apstag, args);
      else if (entry[0] === 'f') apstag.fetchBids.apply(apstag, args);
    } catch (e) { /* never break the page */ }
  }
})();
