/*
 * Crumbs stand-in for Google Analytics' classic ga.js (and dc.js), served instead of the blocked script.
 *
 * Why: pages push commands to _gaq and call _gat._getTracker(...) directly; some follow links only through
 * _gaq.push(['_link', url]) or wait for a hitCallback. This keeps those calls working: functions pushed
 * to _gaq run, `_link` navigates, hitCallback is called. Nothing is recorded or sent (no network API used).
 */
(function () {
  'use strict';
  var w = window;
  if (w._gat && w._gat.crumbsStandIn) return;

  function later(fn) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(); } catch (e) { /* the page's own error */ } }, 0);
  }
  function noop() {}

  function makeTracker(account, name) {
    var fields = {};
    var t = {
      _getName: function () { return name || ''; },
      _getAccount: function () { return account || ''; },
      _setAccount: function (a) { account = a; },
      _getVersion: function () { return '5.7.2'; },
      _set: function (k, v) { fields[k] = v; },
      _get: function (k) { return fields[k]; },
      // A hit: nothing is sent, but a hitCallback set with _set runs as if it had been.
      _trackPageview: function () { later(fields.hitCallback); },
      _trackEvent: function () { later(fields.hitCallback); return true; },
      _trackSocial: function () { later(fields.hitCallback); },
      _trackTiming: function () { later(fields.hitCallback); },
      _trackTrans: function () { later(fields.hitCallback); },
      // Cross-domain links: the page cancels the click and expects _link to navigate.
      _link: function (url) { if (typeof url === 'string' && url) w.location.href = url; },
      _linkByPost: function () { return true; }, // the form submits by itself
      _getLinkerUrl: function (url) { return url; },
      _getVisitorCustomVar: function () { return undefined; },
      _getClientInfo: function () { return true; },
      _getDetectTitle: function () { return true; },
      _getDetectFlash: function () { return false; },
      _getLocalGifPath: function () { return ''; },
      _getServiceMode: function () { return 1; },
    };
    // Every other _setX/_addX/_clearX/... method the page may call: accepted and ignored.
    return typeof Proxy === 'function'
      ? new Proxy(t, { get: function (o, k) { return k in o ? o[k] : (typeof k === 'string' && k.charAt(0) === '_' ? noop : undefined); } })
      : t;
  }

  var trackers = {};
  function tracker(name) { name = name || ''; if (!trackers[name]) trackers[name] = makeTracker('', name); return trackers[name]; }

  var gat = {
    crumbsStandIn: true,
    _getTracker: function (account) { return makeTracker(account, ''); },
    _createTracker: function (account, name) { var t = makeTracker(account, name); if (name !== undefined) trackers[name] = t; return t; },
    _getTrackerByName: function (name) { return tracker(name); },
    _anonymizeIp: noop,
    _forceSSL: noop,
  };

  // _gaq.push(['tracker._method', args...], function () {...}, ...): returns how many failed (always 0).
  function run(item) {
    try {
      if (typeof item === 'function') { item.call(w); return; }
      if (!item || typeof item[0] !== 'string') return;
      var command = item[0];
      var dot = command.indexOf('.');
      var t = tracker(dot > 0 ? command.slice(0, dot) : '');
      var method = dot > 0 ? command.slice(dot + 1) : command;
      if (typeof t[method] === 'function') t[method].apply(t, Array.prototype.slice.call(item, 1));
    } catch (e) { /* never break the page */ }
  }
  var gaq = {
    push: function () { for (var i = 0; i < arguments.length; i++) run(arguments[i]); return 0; },
    _getAsyncTracker: function (name) { return tracker(name); },
    _createAsyncTracker: function (account, name) { var t = tracker(name); t._setAccount(account); return t; },
  };

  var queued = Array.isArray(w._gaq) ? w._gaq.slice() : [];
  w._gat = gat;
  w._gaq = gaq;
  for (var i = 0; i < queued.length; i++) run(queued[i]);
})();
