"""Local pages that depend on a blocked script's API, for the stand-in (surrogate) tests in Chromium and Firefox.

Each :class:`Scenario` is one page on ``shop.example`` that loads a tracker's script from its real address
(the fake web answers every host) and then uses that script's API the way real sites do. ``works`` is a
JavaScript expression that becomes true only when the page's own code path completed (a link followed in
GA's hitCallback, an ad slot filled by the page on GPT's "empty" event, the content video playing).

Every page sets ``window.done`` on load, like the fake web's other pages, and ``window.errors`` lists what
the page's scripts threw.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass, field

SITE = "shop.example"

_HEAD = ("<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
         "<script>window.errors=[];window.addEventListener('error',e=>errors.push(String(e.message)));"
         "window.addEventListener('load',()=>{{window.done=true}});</script>")


@dataclass(frozen=True)
class Scenario:
    name: str  # the stand-in's catalog name
    path: str
    body: str  # the page's <head> additions and <body>
    tracker_hosts: tuple[str, ...]  # hosts that must receive nothing while Crumbs blocks
    works: str  # JS: true once the page's own code path completed
    click: str | None = None  # a selector to click after load (the path starts with a person's action)
    extra: dict[str, tuple[bytes | str, str]] = field(default_factory=dict)  # more files on SITE: path -> (body, type)

    @property
    def url(self) -> str:
        return f"http://{SITE}{self.path}"

    def html(self) -> str:
        return _HEAD.format(title=self.name) + self.body + "</html>"


def tiny_wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    """A real (quiet) audio file the content "video" element can play: made here, nothing downloaded."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(800 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        out.writeframes(frames)
    return buf.getvalue()


NEXT = ("<!doctype html><title>next</title><p>arrived<script>window.done=true</script>", "text/html")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "google-analytics", "/ga-link.html",
        "<script>window.ga=window.ga||function(){(ga.q=ga.q||[]).push(arguments)};ga.l=+new Date;"
        "ga('create','UA-1-1','auto');ga('send','pageview');</script>"
        "<script async src='https://www.google-analytics.com/analytics.js'></script></head><body>"
        "<a id='go' href='/next.html'>Read on</a><script>"
        "document.getElementById('go').addEventListener('click',function(e){e.preventDefault();var to=this.href;"
        "ga('send','event','outbound','click',to,{hitCallback:function(){location.href=to}});});</script></body>",
        ("www.google-analytics.com",), "location.pathname === '/next.html'", click="#go",
        extra={"/next.html": NEXT}),
    Scenario(
        "google-gtag", "/gtag-link.html",
        "<script async src='https://www.googletagmanager.com/gtag/js?id=G-TEST'></script><script>"
        "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "gtag('js',new Date());gtag('config','G-TEST');</script></head><body>"
        "<a id='go' href='/next.html'>Buy</a><script>"
        "document.getElementById('go').addEventListener('click',function(e){e.preventDefault();var to=this.href;"
        "gtag('event','purchase',{value:1,event_callback:function(){location.href=to}});});</script></body>",
        ("www.googletagmanager.com",), "location.pathname === '/next.html'", click="#go",
        extra={"/next.html": NEXT}),
    Scenario(
        "google-tag-manager", "/gtm.html",
        "<script>window.dataLayer=window.dataLayer||[];dataLayer.push({'gtm.start':Date.now(),event:'gtm.js'});"
        "dataLayer.push({event:'checkout',step:2,eventCallback:function(id){window.gtmCallback=id||'called'},"
        "eventTimeout:60000});</script>"
        "<script async src='https://www.googletagmanager.com/gtm.js?id=GTM-TEST'></script></head><body>"
        "<p id='out'></p><script>window.addEventListener('load',function(){var t=window.google_tag_manager;"
        "document.getElementById('out').textContent=t&&t['GTM-TEST']?'step '+t['GTM-TEST'].dataLayer.get('step'):'none';"
        "});</script></body>",
        ("www.googletagmanager.com",),
        "window.gtmCallback === 'GTM-TEST' && document.getElementById('out').textContent === 'step 2'"),
    Scenario(
        "google-publisher-tag", "/gpt.html",
        "<script async src='https://securepubads.g.doubleclick.net/tag/js/gpt.js'></script><script>"
        "window.googletag=window.googletag||{cmd:[]};googletag.cmd.push(function(){"
        "googletag.defineSlot('/1234/news/top',[[300,250],[336,280]],'ad-top').setTargeting('section','news')"
        ".addService(googletag.pubads());"
        "googletag.pubads().addEventListener('slotRenderEnded',function(e){if(e.isEmpty){"
        "document.getElementById(e.slot.getSlotElementId()).textContent='Our own offer'}});"
        "googletag.pubads().enableSingleRequest();googletag.enableServices();});</script></head><body>"
        "<div id='ad-top'></div><script>googletag.cmd.push(function(){googletag.display('ad-top')});</script></body>",
        ("securepubads.g.doubleclick.net",), "document.getElementById('ad-top').textContent === 'Our own offer'"),
    Scenario(
        "google-adsense", "/adsense.html",
        "<script async src='https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-1'"
        " crossorigin='anonymous'></script></head><body>"
        "<ins class='adsbygoogle' style='display:block' data-ad-client='ca-pub-1' data-ad-slot='1'></ins>"
        "<script>(adsbygoogle=window.adsbygoogle||[]).push({});</script>"
        "<p id='out'></p><script>window.addEventListener('load',function(){"
        "document.getElementById('out').textContent=window.adsbygoogle&&adsbygoogle.loaded?'ready':'missing'});"
        "</script></body>",
        ("pagead2.googlesyndication.com",),
        "document.getElementById('out').textContent === 'ready'"
        " && document.querySelector('ins.adsbygoogle').dataset.adStatus === 'unfilled'"),
    Scenario(
        "meta-pixel", "/pixel.html",
        # The snippet queues calls before the library loads; a later inline script calls fbq after a plain tag.
        "<script>!function(f){if(f.fbq)return;var n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments)"
        ":n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[]}(window);"
        "fbq('init','1234');fbq('track','PageView');</script>"
        "<script src='https://connect.facebook.net/en_US/fbevents.js'></script></head><body><script>"
        "fbq('track','ViewContent',{content_ids:['a']});"
        "window.pixelState=fbq.getState().pixels.map(function(p){return p.id}).join(',');</script></body>",
        ("connect.facebook.net",), "window.pixelState === '1234' && fbq.queue.length === 0"),
    Scenario(
        "amazon-apstag", "/apstag.html",
        "<script>!function(a9,a){if(a[a9])return;function q(c,r){a[a9]._Q.push([c,r])}a[a9]={init:function()"
        "{q('i',arguments)},fetchBids:function(){q('f',arguments)},setDisplayBids:function(){},"
        "targetingKeys:function(){return[]},_Q:[]}}('apstag',window);"
        "apstag.init({pubID:'1',adServer:'googletag'});"
        "apstag.fetchBids({slots:[{slotID:'ad-top',sizes:[[300,250]]}],timeout:2000},function(bids){"
        "window.bidsAnswered=Array.isArray(bids)?'bids:'+bids.length:'bad'});</script>"
        "<script async src='https://c.amazon-adsystem.com/aax2/apstag.js'></script></head><body></body>",
        ("c.amazon-adsystem.com",), "window.bidsAnswered === 'bids:0'"),
    Scenario(
        "google-ima", "/video.html",
        "<script src='https://imasdk.googleapis.com/js/sdkloader/ima3.js'></script></head><body>"
        "<div id='player'><video id='content' muted playsinline preload='auto' src='/content.wav'></video>"
        "<div id='ads'></div></div><script>"
        "var video=document.getElementById('content');"
        "video.addEventListener('playing',function(){window.contentPlaying=true});"
        "var adc=new google.ima.AdDisplayContainer(document.getElementById('ads'),video);"
        "var loader=new google.ima.AdsLoader(adc);"
        "loader.addEventListener(google.ima.AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED,function(e){"
        "var m=e.getAdsManager(video);"
        "m.addEventListener(google.ima.AdEvent.Type.CONTENT_PAUSE_REQUESTED,function(){video.pause()});"
        "m.addEventListener(google.ima.AdEvent.Type.CONTENT_RESUME_REQUESTED,function(){video.play()});"
        "m.addEventListener(google.ima.AdErrorEvent.Type.AD_ERROR,function(){video.play()});"
        "adc.initialize();m.init(640,360,google.ima.ViewMode.NORMAL);m.start();},false);"
        "loader.addEventListener(google.ima.AdErrorEvent.Type.AD_ERROR,function(){video.play()},false);"
        "var req=new google.ima.AdsRequest();req.adTagUrl='https://pubads.g.doubleclick.net/gampad/ads?iu=/1/video';"
        "req.linearAdSlotWidth=640;req.linearAdSlotHeight=360;loader.requestAds(req);</script></body>",
        ("imasdk.googleapis.com", "pubads.g.doubleclick.net"),
        "window.contentPlaying === true && document.getElementById('content').currentTime > 0",
        extra={"/content.wav": (tiny_wav(), "audio/wav")}),
    Scenario(
        "segment", "/segment.html",
        "<script>!function(){var a=window.analytics=window.analytics||[];if(a.initialize)return;a.invoked=!0;"
        "a.methods=['track','identify','page','ready','group','alias'];a.factory=function(m){return function(){"
        "var t=Array.prototype.slice.call(arguments);t.unshift(m);a.push(t);return a}};"
        "for(var i=0;i<a.methods.length;i++){var k=a.methods[i];a[k]=a.factory(k)}"
        "a.load=function(key){var s=document.createElement('script');s.async=!0;"
        "s.src='https://cdn.segment.com/analytics.js/v1/'+key+'/analytics.min.js';document.head.appendChild(s)};"
        "a._writeKey='KEY';a.SNIPPET_VERSION='4.15.3';a.load('KEY');a.page();"
        "a.ready(function(){window.segmentReady=true});"
        "a.track('Signed up',{plan:'free'},{},function(){window.segmentTracked=true});}();</script>"
        "</head><body></body>",
        ("cdn.segment.com",), "window.segmentReady === true && window.segmentTracked === true"),
    Scenario(
        "comscore", "/comscore.html",
        "<script>var _comscore=_comscore||[];_comscore.push({c1:'2',c2:'1'});</script>"
        "<script src='https://sb.scorecardresearch.com/cs/1/beacon.js'></script></head><body><script>"
        "COMSCORE.beacon({c1:'2',c2:'1'});window.afterBeacon=true;</script></body>",
        ("sb.scorecardresearch.com",), "window.afterBeacon === true"),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def serve(app) -> None:
    """Register every scenario page (and its extra files) with the fake web."""
    for s in SCENARIOS:
        app.pages[(SITE, s.path)] = (s.html(), "text/html")
        for path, item in s.extra.items():
            app.pages[(SITE, path)] = item
