/*
 * Crumbs stand-in for comScore's beacon.js (scorecardresearch.com), served instead of the blocked script.
 *
 * Why: the request corpus shows beacon.js among the scripts most often blocked, and pages call
 * COMSCORE.beacon({...}) right after the tag, which throws (COMSCORE is not defined) and stops the rest of
 * their script when it is blocked outright. This defines COMSCORE, accepts what the page queued in
 * _comscore, and sends nothing: no network API is used.
 */
(function () {
  'use strict';
  var w = window;
  if (w.COMSCORE && w.COMSCORE.crumbsStandIn) return;
  w.COMSCORE = {
    crumbsStandIn: true,
    beacon: function () {},
    purge: function () { return []; },
  };
  // The snippet's queue: an array of measurement objects; keep an array with a push that accepts.
  var queued = w._comscore;
  var standIn = [];
  standIn.push = function () { return 0; };
  w._comscore = standIn;
  if (Array.isArray(queued)) queued.length = 0;
})();
