"""Pages of the fake web for the click-to-load and Global Privacy Control tests.

- ``http://<any>.example/embeds.html``: a YouTube video frame and an X (Twitter) post widget, the way
  sites embed them, with a first-party script that records what page script sees.
- ``https://www.youtube.com/embed/<id>`` and ``https://platform.twitter.com/embed/...``: small players.
- ``https://platform.twitter.com/widgets.js``: a widget script that turns each tweet blockquote into a frame.
- ``http://<any>.example/gpc.html``: a page with a first-party script, an image and a fetch, each a subrequest
  whose Sec-GPC header the fake web logs, and that records ``navigator.globalPrivacyControl``.
"""

from __future__ import annotations

import html

YOUTUBE_HOST = "www.youtube.com"
YOUTUBE_EMBED = "https://www.youtube.com/embed/dQw4w9WgXcQ"
X_HOST = "platform.twitter.com"
X_WIDGETS = "https://platform.twitter.com/widgets.js"

EMBEDS_PAGE = f"""<!doctype html><html><head><title>embeds</title>
<script>window.gpc = navigator.globalPrivacyControl;</script></head><body>
<h1>A page with embeds</h1>
<p>A video:</p>
<iframe id="video" width="480" height="270" src="{html.escape(YOUTUBE_EMBED)}" title="A video"></iframe>
<p>A post:</p>
<blockquote class="twitter-tweet" id="tweet"><p>Hello from a post.</p>
<a href="https://twitter.com/someone/status/1">link</a></blockquote>
<script async src="{html.escape(X_WIDGETS)}"></script>
<script>window.addEventListener('load', () => {{ window.done = true; }});</script>
</body></html>"""

PLAYER = ("<!doctype html><title>player</title><body style='margin:0;background:#222;color:#eee'>"
          "<p id='player'>the player</p></body>")

# The widget script the fake X serves: each tweet blockquote becomes a frame from its own host.
WIDGETS_JS = """(function () {
  document.querySelectorAll('blockquote.twitter-tweet').forEach(function (q, i) {
    var f = document.createElement('iframe');
    f.src = 'https://platform.twitter.com/embed/Tweet.html?id=' + i;
    f.width = 500; f.height = 200; f.className = 'x-embed';
    q.replaceWith(f);
  });
  window.xWidgetsRan = (window.xWidgetsRan || 0) + 1;
})();"""

GPC_PAGE = """<!doctype html><html><head><title>gpc</title>
<script>window.gpc = navigator.globalPrivacyControl; window.gpcType = typeof navigator.globalPrivacyControl;</script>
<script src="/first-party.js"></script></head><body><h1>GPC</h1>
<img src="https://cdn.widgets.test/pic.png" alt="">
<script>
fetch('/api/ping').then(() => {}, () => {}).finally(() => {
  if (document.readyState === 'complete') window.done = true;
  else window.addEventListener('load', () => { window.done = true; });
});
</script></body></html>"""


def answer(host: str, path: str) -> tuple[str, str] | None:
    """(body, content type) for the pages above, or None to let the fake web answer as usual."""
    if host.endswith(".example") and path == "/embeds.html":
        return EMBEDS_PAGE, "text/html"
    if host.endswith(".example") and path == "/gpc.html":
        return GPC_PAGE, "text/html"
    if host == YOUTUBE_HOST and path.startswith("/embed/"):
        return PLAYER, "text/html"
    if host == X_HOST and path == "/widgets.js":
        return WIDGETS_JS, "application/javascript"
    if host == X_HOST and path.startswith("/embed/"):
        return PLAYER, "text/html"
    return None
