/*
 * Crumbs stand-in for the Meta (Facebook) Pixel's fbevents.js, served instead of the blocked script.
 *
 * Why: the pixel snippet queues fbq(...) calls until the library loads and sets fbq.callMethod; pages also
 * load fbevents.js with a plain <script> and call fbq(...) right after it, or read fbq.getState(). Blocked
 * outright, the second kind throws (fbq is not defined) and stops the page's script. This takes over the
 * queue (drains it), answers every later call, and sends nothing: no network API is used.
 */
(function () {
  'use strict';
  var w = window;
  var fbq = w.fbq;
  if (fbq && fbq.crumbsStandIn) return;

  var pixels = [];
  // fbq('init', id), fbq('track', name, data), 'trackCustom', 'trackSingle', 'consent', 'set', ...:
  // nothing is recorded except which pixels were initialised (getState() tells pages that much).
  function callMethod(command, id) {
    try {
      if (command === 'init' && id !== undefined && pixels.indexOf(String(id)) < 0) pixels.push(String(id));
    } catch (e) { /* never break the page */ }
  }

  if (typeof fbq !== 'function') {
    // No snippet: the page calls fbq after this script, so define it the way the snippet does.
    fbq = function () { fbq.callMethod ? fbq.callMethod.apply(fbq, arguments) : fbq.queue.push(arguments); };
    fbq.queue = [];
    fbq.push = fbq;
    fbq.loaded = true;
    fbq.version = '2.0';
    w.fbq = fbq;
    if (!w._fbq) w._fbq = fbq;
  }
  fbq.crumbsStandIn = true;
  fbq.callMethod = callMethod;
  fbq.loaded = true;
  fbq.getState = function () {
    return { pixels: pixels.map(function (id) { return { id: id }; }), pluginConfig: { get: function () { return undefined; } } };
  };
  fbq.registerPlugin = function () {};
  var queued = Array.isArray(fbq.queue) ? fbq.queue.splice(0) : [];
  for (var i = 0; i < queued.length; i++) callMethod.apply(fbq, queued[i]);
})();
