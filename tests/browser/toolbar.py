"""The toolbar button's popup, opened as a person opens it, for the tests and the bench.

Chromium opens an extension's popup only in a browser window: headless, `chrome.action.openPopup()` finds
no window. So this Chromium runs with a window on a virtual X screen (Debian's Xvfb, which `make test`
installs), and the popup is opened by `chrome.action.openPopup()` from the extension's worker, which is what
a click on the button does: the popup of the focused window's active tab, with no `?tab=` in its address.

The driver (Playwright) does not see a toolbar popup as one of its pages, so the popup is found and read
through Chromium's own DevTools endpoint (`--remote-debugging-port`, on the loopback) over a websocket.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager


@contextmanager
def virtual_screen(size: str = "1280x800x24"):
    """An X display on a virtual screen for as long as the block runs. Yields the DISPLAY value, or None
    when Xvfb is not installed."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        yield None
        return
    # -displayfd: Xvfb picks a free display number and writes it once it accepts clients.
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read, 64) if ready else b""
            if not chunk:  # Xvfb exited, or said nothing in 30 s
                raise RuntimeError("Xvfb did not start")
            number += chunk
        yield f":{number.decode().strip()}"
    finally:
        os.close(read)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def devtools_call(ws_url: str, method: str, params: dict | None = None) -> dict:
    """One DevTools command to one target (a page); its result."""
    from websockets.sync.client import connect

    with connect(ws_url, max_size=None, open_timeout=10) as ws:
        ws.send(json.dumps({"id": 1, "method": method, "params": params or {}}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = json.loads(ws.recv(timeout=10))
            if answer.get("id") == 1:
                if "error" in answer:
                    raise RuntimeError(f"DevTools {method}: {answer['error'].get('message')}")
                return answer.get("result", {})
        raise TimeoutError(f"DevTools did not answer {method}")


def devtools_eval(ws_url: str, expression: str):
    """Evaluate `expression` in one DevTools target (a page) and return its value (promises awaited)."""
    result = devtools_call(ws_url, "Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True})
    if "exceptionDetails" in result:
        raise RuntimeError(f"in the popup: {result['exceptionDetails'].get('text')}: "
                           f"{result.get('result', {}).get('description')}")
    return result.get("result", {}).get("value")


class ToolbarPopup:
    """An open toolbar popup: evaluate in it, close it."""

    def __init__(self, port: int, target: dict, clicked_at: float) -> None:
        self.port, self.target, self.clicked_at = port, target, clicked_at
        self.url = target["url"]

    def eval(self, expression: str):
        return devtools_eval(self.target["webSocketDebuggerUrl"], expression)

    def screenshot(self, path) -> None:
        """The popup as shown, as a PNG file (for a person to look at: test-artifacts/)."""
        import base64

        shot = devtools_call(self.target["webSocketDebuggerUrl"], "Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))

    def is_open(self) -> bool:
        return any(t["id"] == self.target["id"] for t in targets(self.port))

    def close(self) -> None:
        self.eval("window.close()")
        deadline = time.monotonic() + 10
        while self.is_open():
            if time.monotonic() > deadline:
                raise TimeoutError("the popup did not close")
            time.sleep(0.02)


def targets(port: int) -> list[dict]:
    """What Chromium's DevTools endpoint lists: pages, popups, workers."""
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))


def open_toolbar_popup(sw, port: int, extension_id: str, tab_page, popup: str = "popup/popup.html",
                       timeout: float = 10.0) -> ToolbarPopup:
    """Bring `tab_page` to the front and click the toolbar button (openPopup), its popup set to `popup` (a
    path in the extension). `sw` is the extension's worker (Playwright). The popup, once it is listed."""
    tab_page.bring_to_front()  # the popup opens in the focused window, for its active tab
    sw.evaluate(f"chrome.action.setPopup({{popup: {json.dumps(popup)}}})")
    called = sw.evaluate("""(async () => { const at = Date.now();
      try { await chrome.action.openPopup(); return {at}; } catch (e) { return {at, error: String(e)}; } })()""")
    if called.get("error"):
        raise RuntimeError(f"chrome.action.openPopup(): {called['error']}")
    url = f"chrome-extension://{extension_id}/{popup}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((t for t in targets(port) if t["url"].startswith(url)), None)
        if found:
            return ToolbarPopup(port, found, called["at"])
        time.sleep(0.01)
    raise TimeoutError(f"no popup at {url} appeared")
