/*
 * Crumbs stand-in for Google's IMA SDK (ima3.js, video ads), served instead of the blocked script.
 *
 * Why: a video player built on IMA requests ads first and plays the content only when IMA says so. With
 * ima3.js blocked outright, `google.ima` is undefined, the player's code throws, and the video never starts.
 * This provides the google.ima namespace and answers an ad request the way IMA answers one with no ads:
 *   - a player listening for ADS_MANAGER_LOADED gets an AdsManager with no ads; its start() says
 *     CONTENT_RESUME_REQUESTED then ALL_ADS_COMPLETED, which is where players start or resume the content;
 *   - a player listening only for AD_ERROR gets an AdErrorEvent (no ads: VAST empty response), and players
 *     play the content on it.
 * No ad is requested and nothing is sent: no network API is used, and no frame, script or media is loaded.
 */
(function () {
  'use strict';
  var w = window;
  var google = w.google = w.google || {};
  if (google.ima && google.ima.crumbsStandIn) return;

  function later(fn) { setTimeout(function () { try { fn(); } catch (e) { /* the page's own error */ } }, 0); }

  // A tiny event target: IMA's objects take addEventListener(type or [types], listener, useCapture, scope).
  function Target() { this.listeners = {}; }
  Target.prototype.addEventListener = function (types, fn, capture, scope) {
    var list = Array.isArray(types) ? types : [types];
    for (var i = 0; i < list.length; i++) (this.listeners[list[i]] = this.listeners[list[i]] || []).push({ fn: fn, scope: scope });
  };
  Target.prototype.removeEventListener = function (types, fn) {
    var list = Array.isArray(types) ? types : [types];
    for (var i = 0; i < list.length; i++) {
      this.listeners[list[i]] = (this.listeners[list[i]] || []).filter(function (l) { return l.fn !== fn; });
    }
  };
  Target.prototype.has = function (type) { return (this.listeners[type] || []).length > 0; };
  Target.prototype.dispatch = function (event) {
    event.target = this;
    var list = (this.listeners[event.type] || []).slice();
    for (var i = 0; i < list.length; i++) {
      var l = list[i];
      try {
        if (typeof l.fn === 'function') l.fn.call(l.scope || this, event);
        else if (l.fn && typeof l.fn.handleEvent === 'function') l.fn.handleEvent(event);
      } catch (e) { /* the page's own error */ }
    }
  };

  var AdEventType = {
    AD_BREAK_READY: 'adBreakReady', AD_BUFFERING: 'adBuffering', AD_CAN_PLAY: 'adCanPlay', AD_METADATA: 'adMetadata',
    AD_PROGRESS: 'adProgress', ALL_ADS_COMPLETED: 'allAdsCompleted', CLICK: 'click', COMPLETE: 'complete',
    CONTENT_PAUSE_REQUESTED: 'contentPauseRequested', CONTENT_RESUME_REQUESTED: 'contentResumeRequested',
    DURATION_CHANGE: 'durationChange', FIRST_QUARTILE: 'firstQuartile', IMPRESSION: 'impression',
    INTERACTION: 'interaction', LINEAR_CHANGED: 'linearChanged', LOADED: 'loaded', LOG: 'log',
    MIDPOINT: 'midpoint', PAUSED: 'pause', RESUMED: 'resume', SKIPPABLE_STATE_CHANGED: 'skippableStateChanged',
    SKIPPED: 'skip', STARTED: 'start', THIRD_QUARTILE: 'thirdQuartile', USER_CLOSE: 'userClose',
    VIDEO_CLICKED: 'videoClicked', VIDEO_ICON_CLICKED: 'videoIconClicked', VOLUME_CHANGED: 'volumeChange',
    VOLUME_MUTED: 'mute',
  };
  var ErrorCode = {
    VAST_EMPTY_RESPONSE: 1009, VAST_LOAD_TIMEOUT: 301, UNKNOWN_ERROR: 900, FAILED_TO_REQUEST_ADS: 1005,
    VAST_NO_ADS_AFTER_WRAPPER: 303, ADS_REQUEST_NETWORK_ERROR: 1012,
  };

  function AdError(message, code) { this.message = message; this.code = code; }
  AdError.prototype.getErrorCode = function () { return this.code; };
  AdError.prototype.getVastErrorCode = function () { return this.code; };
  AdError.prototype.getInnerError = function () { return null; };
  AdError.prototype.getMessage = function () { return this.message; };
  AdError.prototype.getType = function () { return 'adLoadError'; };
  AdError.prototype.toString = function () { return 'AdError ' + this.code + ': ' + this.message; };
  AdError.ErrorCode = ErrorCode;
  AdError.Type = { AD_LOAD: 'adLoadError', AD_PLAY: 'adPlayError' };

  function AdErrorEvent(error, context) { this.type = AdErrorEvent.Type.AD_ERROR; this.error = error; this.context = context; }
  AdErrorEvent.prototype.getError = function () { return this.error; };
  AdErrorEvent.prototype.getUserRequestContext = function () { return this.context || null; };
  AdErrorEvent.Type = { AD_ERROR: 'adError' };

  function AdEvent(type, manager) { this.type = type; this.manager = manager; }
  AdEvent.prototype.getType = function () { return this.type; };
  AdEvent.prototype.getAd = function () { return null; };
  AdEvent.prototype.getAdData = function () { return {}; };
  AdEvent.Type = AdEventType;

  // An AdsManager with no ads at all.
  function AdsManager(content) {
    Target.call(this);
    this.content = content;
    this.volume = 1;
    this.done = false;
  }
  AdsManager.prototype = Object.create(Target.prototype);
  var M = AdsManager.prototype;
  M.init = function () {};
  M.start = function () {
    var self = this;
    if (self.done) return;
    self.done = true;
    // No ad to show: hand playback straight back to the content.
    later(function () {
      self.dispatch(new AdEvent(AdEventType.CONTENT_RESUME_REQUESTED, self));
      self.dispatch(new AdEvent(AdEventType.ALL_ADS_COMPLETED, self));
    });
  };
  M.discardAdBreak = function () {};
  M.stop = function () {}; M.skip = function () {}; M.pause = function () {}; M.resume = function () {};
  M.resize = function () {}; M.focus = function () {}; M.collapse = function () {}; M.expand = function () {};
  M.destroy = function () { this.listeners = {}; };
  M.configureAdsManager = function () {};
  M.updateAdsRenderingSettings = function () {};
  M.getCuePoints = function () { return []; };
  M.getCurrentAd = function () { return null; };
  M.getRemainingTime = function () { return -1; };
  M.getAdSkippableState = function () { return false; };
  M.getVolume = function () { return this.volume; };
  M.setVolume = function (v) { this.volume = v; };
  M.isCustomClickTrackingUsed = function () { return false; };
  M.isCustomPlaybackUsed = function () { return false; };
  M.setAutoPlayAdBreaks = function () {};

  function AdsManagerLoadedEvent(context) { this.type = AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED; this.context = context; }
  AdsManagerLoadedEvent.prototype.getAdsManager = function (content) { return new AdsManager(content); };
  AdsManagerLoadedEvent.prototype.getUserRequestContext = function () { return this.context || null; };
  AdsManagerLoadedEvent.Type = { ADS_MANAGER_LOADED: 'adsManagerLoaded' };

  function AdDisplayContainer(container, video) { this.container = container; this.video = video; }
  AdDisplayContainer.prototype.initialize = function () {};
  AdDisplayContainer.prototype.destroy = function () {};

  function Settings() { this.values = {}; }
  ['Locale', 'VpaidMode', 'VpaidAllowed', 'NumRedirects', 'PlayerType', 'PlayerVersion', 'AutoPlayAdBreaks',
    'CookiesEnabled', 'DisableCustomPlaybackForIOS10Plus', 'SessionId', 'FeatureFlags', 'PpidAllowed',
    'DisableFlashAds', 'CompanionBackfill'].forEach(function (name) {
    Settings.prototype['set' + name] = function (v) { this.values[name] = v; };
    Settings.prototype['get' + name] = function () { return this.values[name]; };
  });
  Settings.prototype.isCookiesEnabled = function () { return false; };
  Settings.prototype.isVpaidAdapter = function () { return false; };
  Settings.VpaidMode = { DISABLED: 0, ENABLED: 1, INSECURE: 2 };

  function AdsLoader(container) {
    Target.call(this);
    this.container = container;
    this.settings = new Settings();
  }
  AdsLoader.prototype = Object.create(Target.prototype);
  AdsLoader.prototype.getSettings = function () { return this.settings; };
  AdsLoader.prototype.contentComplete = function () {};
  AdsLoader.prototype.destroy = function () { this.listeners = {}; };
  AdsLoader.prototype.getVersion = function () { return 'crumbs-stand-in'; };
  AdsLoader.prototype.requestAds = function (request, context) {
    var self = this;
    later(function () {
      if (self.has(AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED)) {
        self.dispatch(new AdsManagerLoadedEvent(context)); // an empty playlist: start() resumes the content
      } else {
        self.dispatch(new AdErrorEvent(new AdError('No ads (Crumbs stand-in: ads are blocked)', ErrorCode.VAST_EMPTY_RESPONSE), context));
      }
    });
  };

  function AdsRequest() {
    this.adTagUrl = ''; this.adsResponse = null; this.linearAdSlotWidth = 0; this.linearAdSlotHeight = 0;
    this.nonLinearAdSlotWidth = 0; this.nonLinearAdSlotHeight = 0;
  }
  AdsRequest.prototype.setAdWillAutoPlay = function () {};
  AdsRequest.prototype.setAdWillPlayMuted = function () {};
  AdsRequest.prototype.setContinuousPlayback = function () {};

  function AdsRenderingSettings() {
    this.restoreCustomPlaybackStateOnAdBreakComplete = false; this.enablePreloading = false; this.uiElements = null;
  }
  function CompanionAdSelectionSettings() {}
  CompanionAdSelectionSettings.CreativeType = { ALL: 'All', FLASH: 'Flash', IMAGE: 'Image' };
  CompanionAdSelectionSettings.ResourceType = { ALL: 'All', HTML: 'Html', IFRAME: 'IFrame', STATIC: 'Static' };
  CompanionAdSelectionSettings.SizeCriteria = { IGNORE: 'IgnoreSize', SELECT_EXACT_MATCH: 'SelectExactMatch',
    SELECT_NEAR_MATCH: 'SelectNearMatch' };

  google.ima = {
    crumbsStandIn: true,
    VERSION: '3.0.0-crumbs-stand-in',
    AdDisplayContainer: AdDisplayContainer,
    AdError: AdError,
    AdErrorEvent: AdErrorEvent,
    AdEvent: AdEvent,
    AdsLoader: AdsLoader,
    AdsManager: AdsManager,
    AdsManagerLoadedEvent: AdsManagerLoadedEvent,
    AdsRenderingSettings: AdsRenderingSettings,
    AdsRequest: AdsRequest,
    CompanionAdSelectionSettings: CompanionAdSelectionSettings,
    ImaSdkSettings: Settings,
    OmidAccessMode: { DOMAIN: 'domain', FULL: 'full', LIMITED: 'limited' },
    UiElements: { AD_ATTRIBUTION: 'adAttribution', COUNTDOWN: 'countdown' },
    ViewMode: { FULLSCREEN: 'fullscreen', NORMAL: 'normal' },
    settings: new Settings(),
  };
})();
