/*
 * Crumbs stand-in for Segment's analytics.js (cdn.segment.com), served instead of the blocked script.
 *
 * Why: the Segment snippet makes window.analytics a queue of [method, ...args] until the library loads;
 * pages then call analytics.track(...) / identify / page with callbacks, await the promises those return,
 * wait in analytics.ready(callback), and read analytics.user().anonymousId(). Blocked outright, callbacks
 * and ready() never fire. This replaces the queue with an object that answers every method, runs the
 * queued calls, calls each callback and ready(), resolves the promises, and sends nothing: no network API
 * is used and no integration script is loaded.
 */
(function () {
  'use strict';
  var w = window;
  var old = w.analytics;
  if (old && old.crumbsStandIn) return;

  function later(fn, arg) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(arg); } catch (e) { /* the page's own error */ } }, 0);
  }
  function lastFunction(args) {
    for (var i = args.length - 1; i >= 0; i--) if (typeof args[i] === 'function') return args[i];
    return undefined;
  }
  function nobody() {
    return { id: function () { return null; }, anonymousId: function () { return null; },
      traits: function () { return {}; }, logout: function () {}, reset: function () {}, properties: function () { return {}; } };
  }

  var analytics = {
    crumbsStandIn: true,
    initialized: true,
    invoked: true,
    VERSION: 'crumbs-stand-in',
    _writeKey: old && old._writeKey,
    SNIPPET_VERSION: old && old.SNIPPET_VERSION,
  };
  // The calls that record something: their callback (last function argument) runs, and they resolve.
  ['track', 'identify', 'page', 'pageview', 'group', 'alias', 'screen'].forEach(function (m) {
    analytics[m] = function () {
      var args = Array.prototype.slice.call(arguments);
      later(lastFunction(args));
      var event = { type: m, event: typeof args[0] === 'string' ? args[0] : undefined };
      return Promise.resolve({ event: event, attempts: 0, stats: {} });
    };
  });
  // Link and form tracking: the real library delays navigation to send a call first; we add nothing,
  // so the link or form just works.
  ['trackLink', 'trackForm', 'trackClick', 'trackSubmit', 'asLink', 'asForm'].forEach(function (m) {
    analytics[m] = function () { return analytics; };
  });
  ['debug', 'on', 'once', 'off', 'reset', 'setAnonymousId', 'addSourceMiddleware', 'addIntegrationMiddleware',
    'addDestinationMiddleware', 'addIntegration', 'use', 'timeout', 'load', 'initialize', 'storage'].forEach(function (m) {
    analytics[m] = function () { return analytics; };
  });
  ['register', 'deregister', 'screen'].forEach(function (m) {
    if (!analytics[m]) analytics[m] = function () { return Promise.resolve(); };
  });
  analytics.ready = function (callback) { later(callback); return Promise.resolve(); };
  analytics.user = nobody;
  analytics.group = (function (record) {
    return function () { return arguments.length ? record.apply(analytics, arguments) : nobody(); };
  })(analytics.group);
  analytics.push = function (call) {
    if (Array.isArray(call) && typeof analytics[call[0]] === 'function') {
      try { analytics[call[0]].apply(analytics, call.slice(1)); } catch (e) { /* never break the page */ }
    }
  };
  w.analytics = analytics;

  // The snippet's queue: [['page'], ['track', 'Signed up', {...}], ...], run in order.
  var queued = Array.isArray(old) ? old.slice() : [];
  for (var i = 0; i < queued.length; i++) analytics.push(Array.prototype.slice.call(queued[i]));
})();
