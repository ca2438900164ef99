/*
 * Crumbs stand-in for Google's tag containers: gtag.js and Google Tag Manager's gtm.js.
 *
 * Why: both read commands from a shared array, `dataLayer`, and pages wait on them: gtag('event', name,
 * {event_callback}) before following a link or submitting a form, dataLayer.push({event, eventCallback}) in
 * GTM setups, gtag('get', id, field, callback), and checks of window.google_tag_manager. Blocked outright,
 * the callbacks never run. This reads the dataLayer (what was queued before, and every later push), runs
 * those callbacks, keeps a data-layer model pages can read through google_tag_manager[id].dataLayer.get(),
 * and sends nothing: no network API is used, and no other script is loaded.
 */
(function () {
  'use strict';
  var w = window;
  var d = w.document;

  // The container id and data-layer name come from the tag's own URL (?id=GTM-X&l=myLayer), which the
  // script element still carries after the browser swapped in this stand-in.
  var src = '';
  try { src = (d && d.currentScript && d.currentScript.src) || ''; } catch (e) { /* no DOM */ }
  var query = {};
  src.replace(/[?&]([^=&#]+)=([^&#]*)/g, function (_, k, v) {
    try { query[decodeURIComponent(k)] = decodeURIComponent(v); } catch (e) { /* malformed: skip */ }
    return '';
  });
  var layerName = /^[A-Za-z_$][\w$]*$/.test(query.l || '') ? query.l : 'dataLayer';
  var containerId = query.id || '';

  function later(fn, arg) {
    if (typeof fn !== 'function') return;
    setTimeout(function () { try { fn(arg); } catch (e) { /* the page's own error */ } }, 0);
  }

  // The data-layer model: the merge of every object pushed, read with dotted keys ('ecommerce.value').
  var model = {};
  function merge(into, from) {
    for (var k in from) {
      if (!Object.prototype.hasOwnProperty.call(from, k)) continue;
      var v = from[k];
      if (v && typeof v === 'object' && !Array.isArray(v) && into[k] && typeof into[k] === 'object') merge(into[k], v);
      else into[k] = v;
    }
  }
  function read(key) {
    var parts = String(key).split('.');
    var v = model;
    for (var i = 0; i < parts.length; i++) { if (v == null) return undefined; v = v[parts[i]]; }
    return v;
  }

  function isArgs(item) {
    return item && typeof item === 'object' && typeof item.length === 'number' && typeof item[0] === 'string'
      && Object.prototype.toString.call(item) === '[object Arguments]';
  }

  // One dataLayer entry: a gtag command (an `arguments` object) or a GTM message (a plain object).
  function handle(item) {
    try {
      if (isArgs(item)) {
        var cmd = item[0];
        var params = item[2];
        if (cmd === 'event' && params && typeof params === 'object') later(params.event_callback);
        else if (cmd === 'get' && typeof item[3] === 'function') later(item[3], undefined); // nothing is known
        else if (cmd === 'set' && item[1] && typeof item[1] === 'object') merge(model, item[1]);
        else if (cmd === 'config' && params && typeof params === 'object') later(params.event_callback);
      } else if (typeof item === 'function') {
        later(function () { item.call(helper); }); // GTM runs pushed functions with the data-layer helper as `this`
      } else if (item && typeof item === 'object') {
        var cb = item.eventCallback;
        var copy = {};
        for (var k in item) if (k !== 'eventCallback' && k !== 'eventTimeout') copy[k] = item[k];
        merge(model, copy);
        later(cb, containerId || undefined); // GTM passes the container id to eventCallback
      }
    } catch (e) { /* never break the page */ }
  }

  var helper = {
    get: read,
    set: function (k, v) { var o = {}; o[k] = v; merge(model, o); },
    reset: function () { model = {}; },
  };

  var layer = w[layerName];
  if (!Array.isArray(layer)) { layer = []; w[layerName] = layer; }
  if (!layer.crumbsStandIn) {
    var arrayPush = Array.prototype.push;
    // Keep the array an array (pages read dataLayer[i]), and act on each new entry as it arrives.
    Object.defineProperty(layer, 'push', {
      configurable: true, writable: true,
      value: function () {
        var n = arrayPush.apply(layer, arguments);
        for (var i = 0; i < arguments.length; i++) handle(arguments[i]);
        return n;
      },
    });
    Object.defineProperty(layer, 'crumbsStandIn', { value: true });
    for (var i = 0; i < layer.length; i++) handle(layer[i]);
  }

  if (typeof w.gtag !== 'function') w.gtag = function () { layer.push(arguments); };

  // google_tag_manager: pages check it to know the container loaded, and read its data-layer helper.
  var gtm = w.google_tag_manager || (w.google_tag_manager = {});
  if (containerId && !gtm[containerId]) {
    gtm[containerId] = { dataLayer: helper, callback: function () {}, onHtmlSuccess: function () {}, onHtmlFailure: function () {} };
  }
  if (!gtm.dataLayer) gtm.dataLayer = { gtmLoad: true, gtmDom: true, name: layerName };
})();
