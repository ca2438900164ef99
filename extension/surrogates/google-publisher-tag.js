/*
 * Crumbs stand-in for the Google Publisher Tag (gpt.js), served instead of the blocked ad library.
 *
 * Why: pages put all their ad code, and often more, in functions pushed to googletag.cmd, and chain calls
 * (defineSlot(...).addService(googletag.pubads()).setTargeting(...)). Blocked outright, nothing in the
 * queue ever runs, and a stand-in that returned undefined would throw on the first chained call. This runs
 * the queue (and every later push at once), returns the right objects from every call, and reports each
 * displayed or refreshed slot as empty through 'slotRenderEnded' {isEmpty: true}, which is what pages handle
 * when an ad server has nothing to show (collapse the slot, or put their own content there).
 * It requests no ad and sends nothing: no network API is used, and no frame or script is created.
 */
(function () {
  'use strict';
  var w = window;
  var old = w.googletag || {};
  if (old.crumbsStandIn) return;
  var d = w.document;

  function later(fn) { setTimeout(function () { try { fn(); } catch (e) { /* the page's own error */ } }, 0); }
  function self() { return this; }

  // --- events -----------------------------------------------------------------------------------
  function Events() { this.listeners = {}; }
  Events.prototype.add = function (type, fn) {
    if (typeof fn === 'function') (this.listeners[type] = this.listeners[type] || []).push(fn);
  };
  Events.prototype.remove = function (type, fn) {
    var list = this.listeners[type] || [];
    var i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return i >= 0;
  };
  Events.prototype.fire = function (type, event) {
    var list = (this.listeners[type] || []).slice();
    for (var i = 0; i < list.length; i++) { try { list[i](event); } catch (e) { /* the page's own error */ } }
  };

  // --- targeting shared by slots and services ---------------------------------------------------
  function Targeting() { this.map = {}; }
  Targeting.prototype.set = function (k, v) { this.map[k] = Array.isArray(v) ? v.map(String) : [String(v)]; };
  Targeting.prototype.get = function (k) { return (this.map[k] || []).slice(); };
  Targeting.prototype.keys = function () { return Object.keys(this.map); };
  Targeting.prototype.clear = function (k) { if (k === undefined) this.map = {}; else delete this.map[k]; };

  function Size(wd, ht) { this.w = wd; this.h = ht; }
  Size.prototype.getWidth = function () { return this.w; };
  Size.prototype.getHeight = function () { return this.h; };
  function sizesOf(spec) {
    var out = [];
    if (!Array.isArray(spec)) return out;
    if (typeof spec[0] === 'number') return [new Size(spec[0], spec[1])];
    for (var i = 0; i < spec.length; i++) {
      if (Array.isArray(spec[i])) out.push(new Size(spec[i][0], spec[i][1]));
    }
    return out;
  }

  // --- slots ------------------------------------------------------------------------------------
  var slots = [];
  var counter = 0;
  function Slot(path, size, elementId) {
    this.path = String(path);
    this.size = size;
    this.elementId = elementId || ('gpt_unit_' + this.path + '_' + (counter++));
    this.targeting = new Targeting();
    this.services = [];
    this.displayed = false;
    this.instance = counter;
  }
  var S = Slot.prototype;
  S.addService = function (service) { if (service && this.services.indexOf(service) < 0) this.services.push(service); return this; };
  S.setTargeting = function (k, v) { this.targeting.set(k, v); return this; };
  S.updateTargetingFromMap = function (map) { for (var k in map) this.targeting.set(k, map[k]); return this; };
  S.clearTargeting = function (k) { this.targeting.clear(k); return this; };
  S.getTargeting = function (k) { return this.targeting.get(k); };
  S.getTargetingKeys = function () { return this.targeting.keys(); };
  S.getTargetingMap = function () { return JSON.parse(JSON.stringify(this.targeting.map)); };
  S.defineSizeMapping = self; S.setCollapseEmptyDiv = self; S.setClickUrl = self; S.setCategoryExclusion = self;
  S.clearCategoryExclusions = self; S.setForceSafeFrame = self; S.setSafeFrameConfig = self; S.set = self;
  S.setConfig = function () {};
  S.get = function () { return null; };
  S.getAttributeKeys = function () { return []; };
  S.getCategoryExclusions = function () { return []; };
  S.getAdUnitPath = function () { return this.path; };
  S.getSlotElementId = function () { return this.elementId; };
  S.getSizes = function () { return sizesOf(this.size); };
  S.getServices = function () { return this.services.slice(); };
  S.getResponseInformation = function () { return null; };
  S.getHtml = function () { return ''; };
  S.getEscapedQemQueryId = function () { return ''; };
  S.getSlotId = function () {
    var slot = this;
    return { getId: function () { return slot.path + '_' + slot.instance; }, getName: function () { return slot.path; },
      getAdUnitPath: function () { return slot.path; }, getDomId: function () { return slot.elementId; },
      getInstance: function () { return slot.instance; } };
  };

  // --- services ---------------------------------------------------------------------------------
  var enabled = false;
  var initialLoadDisabled = false;
  var collapse = false;

  function Service() { this.events = new Events(); this.targeting = new Targeting(); }
  var P = Service.prototype;
  P.addEventListener = function (type, fn) { this.events.add(type, fn); return this; };
  P.removeEventListener = function (type, fn) { return this.events.remove(type, fn); };
  P.setTargeting = function (k, v) { this.targeting.set(k, v); return this; };
  P.clearTargeting = function (k) { this.targeting.clear(k); return this; };
  P.getTargeting = function (k) { return this.targeting.get(k); };
  P.getTargetingKeys = function () { return this.targeting.keys(); };
  P.getSlots = function () { return slots.slice(); };
  P.set = self; P.setPrivacySettings = self; P.setRequestNonPersonalizedAds = self; P.setPublisherProvidedId = self;
  P.setLocation = self; P.setCookieOptions = self; P.setForceSafeFrame = self; P.setSafeFrameConfig = self;
  P.updateCorrelator = self; P.setTagForChildDirectedTreatment = self; P.clearTagForChildDirectedTreatment = self;
  P.setCategoryExclusion = self; P.clearCategoryExclusions = self; P.setVideoContent = self; P.setCentering = function () {};
  P.get = function () { return null; };
  P.getAttributeKeys = function () { return []; };
  P.enableSingleRequest = function () { return true; };
  P.enableAsyncRendering = function () { return true; };
  P.enableSyncRendering = function () { return true; };
  P.enableLazyLoad = function () {};
  P.enableVideoAds = function () {};
  P.disableInitialLoad = function () { initialLoadDisabled = true; };
  P.isInitialLoadDisabled = function () { return initialLoadDisabled; };
  P.collapseEmptyDivs = function () { collapse = true; return true; };
  P.clear = function () { return true; };
  P.display = function (path, size, div) { var s = googletag.defineSlot(path, size, div); s.addService(this); googletag.display(s); };
  // refresh(): the page asks for new ads; there are none.
  P.refresh = function (list) {
    var chosen = Array.isArray(list) ? list : slots;
    for (var i = 0; i < chosen.length; i++) if (chosen[i] && chosen[i].displayed) renderEmpty(chosen[i]);
  };

  var pubads = new Service();
  var companionAds = new Service();
  companionAds.setRefreshUnfilledSlots = function () {};
  var content = new Service();
  content.setContent = function () {};

  // An empty answer for a slot, the way GPT reports "no ad": slotRenderEnded with isEmpty.
  function renderEmpty(slot) {
    later(function () {
      if (collapse) {
        var el = d && d.getElementById ? d.getElementById(slot.elementId) : null;
        if (el && el.style) el.style.display = 'none';
      }
      var event = { slot: slot, serviceName: 'publisher_ads', isEmpty: true, size: null, creativeId: null,
        lineItemId: null, advertiserId: null, campaignId: null, isBackfill: false, sourceAgnosticCreativeId: null,
        sourceAgnosticLineItemId: null, labelIds: null, companyIds: null, yieldGroupIds: null, slotContentChanged: false };
      pubads.events.fire('slotRenderEnded', event);
    });
  }

  // --- googletag ----------------------------------------------------------------------------------
  var googletag = w.googletag = old; // keep the page's object (it may hold its own fields)
  googletag.crumbsStandIn = true;
  googletag.apiReady = true;
  googletag.pubadsReady = true;
  googletag.defineSlot = function (path, size, div) { var s = new Slot(path, size, div); slots.push(s); return s; };
  googletag.defineOutOfPageSlot = function (path, div) {
    var s = new Slot(path, [], typeof div === 'string' ? div : undefined); slots.push(s); return s;
  };
  googletag.destroySlots = function (list) {
    var gone = Array.isArray(list) ? list : slots.slice();
    slots = slots.filter(function (s) { return gone.indexOf(s) < 0; });
    return true;
  };
  googletag.display = function (target) {
    var slot = target instanceof Slot ? target : null;
    for (var i = 0; !slot && i < slots.length; i++) if (slots[i].elementId === target) slot = slots[i];
    if (!slot) return;
    slot.displayed = true;
    if (enabled && !initialLoadDisabled) renderEmpty(slot);
  };
  googletag.enableServices = function () { enabled = true; };
  googletag.pubads = function () { return pubads; };
  googletag.companionAds = function () { return companionAds; };
  googletag.content = function () { return content; };
  googletag.sizeMapping = function () {
    var map = [];
    return { addSize: function (v, s) { map.push([v, s]); return this; }, build: function () { return map.slice(); } };
  };
  googletag.getVersion = function () { return 'crumbs-stand-in'; };
  googletag.setAdIframeTitle = function () {};
  googletag.setConfig = function (c) { if (c && c.disableInitialLoad) initialLoadDisabled = true; };
  googletag.getConfig = function () { return {}; };
  googletag.openConsole = function () {};
  googletag.disablePublisherConsole = function () {};
  googletag.enums = googletag.enums || { OutOfPageFormat: { BOTTOM_ANCHOR: 3, INTERSTITIAL: 5, REWARDED: 4, TOP_ANCHOR: 2,
    LEFT_SIDE_RAIL: 7, RIGHT_SIDE_RAIL: 8 }, TrafficSource: { ORGANIC: 0, PURCHASED: 1 } };
  googletag.secureSignalProviders = { push: function () { return 0; }, clearAllCache: function () {} };

  // googletag.cmd: what was queued runs now, and every later push runs at once (and says so by its length).
  var queued = Array.isArray(old.cmd) ? old.cmd.slice() : [];
  var ran = 0;
  googletag.cmd = {
    push: function () {
      for (var i = 0; i < arguments.length; i++) {
        if (typeof arguments[i] === 'function') {
          try { arguments[i].call(w); } catch (e) { /* GPT logs a page's error and goes on */ }
        }
        ran += 1;
      }
      return ran;
    },
  };
  googletag.cmd.push.apply(googletag.cmd, queued);
})();
