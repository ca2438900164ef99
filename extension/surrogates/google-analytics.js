/*
 * Crumbs stand-in for Google Analytics' analytics.js (served by the browser instead of the blocked script).
 *
 * Why: pages call ga(...) and often wait for it, e.g. a link that navigates only in a hit's hitCallback,
 * or ga(function (tracker) {...}) ready callbacks. Blocked outright, those never run and the page hangs.
 * This keeps the command queue API and calls every callback, and records and sends nothing:
 * no network API is used at all.
 */
(function () {
  'use strict';
  var w = window;
  var name = (typeof w.GoogleAnalyticsObject === 'string' && w.GoogleAnalyticsObject) || 'ga';
  var old = w[name];
  if (old && old.crumbsStandIn) return; // loaded twice: keep the first

  // Callbacks run after the current task, as the real library calls them once a hit is "sent".
  function later(fn, arg) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(arg); } catch (e) { /* a page's error is not ours to raise */ } }, 0);
  }

  function Tracker(fields) { this.fields = fields; }
  Tracker.prototype.get = function (key) { return this.fields[key]; };
  Tracker.prototype.set = function (key, value) {
    if (key && typeof key === 'object') { for (var k in key) this.fields[k] = key[k]; } else { this.fields[key] = value; }
  };
  // send(hitType, ..., {hitCallback}) or send({hitType, hitCallback}): the callback is all that matters.
  Tracker.prototype.send = function () {
    var last = arguments[arguments.length - 1];
    var cb = last && typeof last === 'object' && typeof last.hitCallback === 'function' ? last.hitCallback : this.fields.hitCallback;
    later(cb);
  };

  var trackers = [];
  function byName(n) { for (var i = 0; i < trackers.length; i++) if (trackers[i].fields.name === n) return trackers[i]; return undefined; }

  // ga('create', trackingId, [cookieDomain], [name], [fields]) in any of its argument shapes.
  function create() {
    var fields = {};
    var strings = [];
    for (var i = 0; i < arguments.length; i++) {
      var a = arguments[i];
      if (a && typeof a === 'object') { for (var k in a) fields[k] = a[k]; } else if (typeof a === 'string') strings.push(a);
    }
    if (strings[0] && !fields.trackingId) fields.trackingId = strings[0];
    if (strings[1] && !fields.cookieDomain) fields.cookieDomain = strings[1];
    if (strings[2] && !fields.name) fields.name = strings[2];
    fields.name = fields.name || 't0';
    var existing = byName(fields.name);
    if (existing) return existing;
    var t = new Tracker(fields);
    trackers.push(t);
    return t;
  }

  function ga(command) {
    try {
      if (typeof command === 'function') { command(byName('t0') || trackers[0]); return; }
      if (typeof command !== 'string') return;
      var args = Array.prototype.slice.call(arguments, 1);
      var dot = command.indexOf('.');
      var trackerName = dot > 0 ? command.slice(0, dot) : 't0';
      var method = dot > 0 ? command.slice(dot + 1) : command;
      if (method === 'create') { create.apply(null, args); return; }
      if (method === 'remove') { ga.remove(trackerName); return; }
      var t = byName(trackerName);
      if (method === 'send') {
        if (t) t.send.apply(t, args); else later(lastHitCallback(args)); // no tracker: still let the page go on
      } else if (method === 'set' && t) {
        t.set.apply(t, args);
      } // require, provide, plugin:method and the rest: nothing to do
    } catch (e) { /* never break the page */ }
  }
  function lastHitCallback(args) {
    var last = args[args.length - 1];
    return last && typeof last === 'object' ? last.hitCallback : undefined;
  }

  ga.create = function () { return create.apply(null, arguments); };
  ga.getByName = function (n) { return byName(n) || null; };
  ga.getAll = function () { return trackers.slice(); };
  ga.remove = function (n) { trackers = trackers.filter(function (t) { return t.fields.name !== n; }); };
  ga.loaded = true;
  ga.l = (old && old.l) || Date.now();
  ga.q = [];
  ga.crumbsStandIn = true;
  w[name] = ga;

  // Run what the page queued before this script loaded (the snippet's ga.q), in order.
  var queued = old && old.q && old.q.length ? Array.prototype.slice.call(old.q) : [];
  for (var i = 0; i < queued.length; i++) ga.apply(null, queued[i]);
})();
