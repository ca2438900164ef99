"""The running companion of a data folder, reached as a client of its own API.

Why: one process owns a data folder (companion/instance.py). While ``crumbs serve`` runs, a command
that changes something - a choice, a list, a knowledge source, a pairing code - asks the server to do
it instead of writing to the database behind its back: the server's caches, its browser rules and
its list registry then stay the truth, and the change reaches the browser with its next batch.

The address comes from the address file, which counts only while the owner holds the lock; the
token from the data folder. Before the token is sent, the server must prove it knows it
(:func:`proves_itself`): a program squatting on a dead companion's port gets nothing.
Nothing here imports Flask.
"""
from __future__ import annotations

import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .auth import proof
from .instance import Running, running

# A never-proxied opener: the companion is on loopback, and a proxy would see the token.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RemoteError(Exception):
    """The running companion refused or failed a call; ``reason`` is its own words."""

    def __init__(self, status: int, reason: str, payload: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.payload = payload or {}


def proves_itself(found: Running, token: str, timeout: float = 2.0) -> bool:
    """True when the server at ``found`` answers health with a valid proof of ``token``."""
    nonce = secrets.token_hex(16)
    request = urllib.request.Request(f"{found.address}/api/v1/health", headers={"X-Crumbs-Challenge": nonce})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            given = response.headers.get("X-Crumbs-Proof", "")
            # companion.auth.proof, bound to the host:port dialled (urllib sends it as Host) and no Origin:
            # a relay on that port forwarding to a companion elsewhere cannot pass (issue 15)
            host = urllib.parse.urlsplit(found.address).netloc
            return response.status == 200 and hmac.compare_digest(given, proof(token, nonce, host))
    except (OSError, urllib.error.URLError, ValueError):
        return False


class Remote:
    """A proven running companion: ``call()`` its API with the token."""

    def __init__(self, found: Running, token: str) -> None:
        self.found = found
        self._token = token

    @property
    def address(self) -> str:
        return self.found.address

    @classmethod
    def of(cls, root: Path, token_path: Path) -> "Remote | None":
        """The companion serving ``root`` if one runs and proves it holds our token, else None."""
        found = running(root)
        if found is None:
            return None
        try:
            token = token_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not token or not proves_itself(found, token):
            return None
        return cls(found, token)

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
        """``method path`` under ``/api/v1``; (status, JSON answer) for 2xx, else :class:`RemoteError`."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Authorization": f"Bearer {self._token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.found.address}/api/v1{path}", data=data, method=method,
                                         headers=headers)
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            payload = _json(exc.read())
            raise RemoteError(exc.code, str(payload.get("error") or f"HTTP {exc.code}"), payload) from None
        except (OSError, urllib.error.URLError) as exc:
            raise RemoteError(0, f"the companion at {self.found.address} stopped answering ({exc})") from None

    def wait_downloads(self, collection: str, names: set[str] | None, timeout: float = 600.0,
                       every: float = 0.25) -> list[dict[str, Any]]:
        """Poll ``GET /collection`` until no download of ``names`` (all when None) runs; the last items.

        Lists and sources answer 202 when a download outlives the request (it goes on in the server,
        never holding a request thread): the command waits for it, as it would for its own download."""
        deadline = time.monotonic() + timeout
        while True:
            _, answer = self.call("GET", f"/{collection}")
            items = answer.get(collection, [])
            busy = [i for i in items if i.get("downloading") and (names is None or i.get("name") in names)]
            if not busy or time.monotonic() > deadline:
                return items
            time.sleep(every)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# -- the same methods as the local objects, over the API ------------------------------------------
#
# The commands call what they would call on a local :class:`companion.service.Companion`; these
# classes forward each call to the running one and give back the same objects, so a command reads
# the same whether or not a companion runs.


class RemoteCompanion:
    """The writes ``crumbs`` commands make, done by the running companion."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.lists = RemoteLists(remote)
        self.sources = RemoteSources(remote)

    def list_choices(self) -> dict[str, list]:
        return self._call("GET", "/choices")[1]

    def set_site_tracker(self, site: str, tracker: str, action: str | None) -> None:
        self._choice(f"/choices/sites/{_q(site)}/trackers/{_q(tracker)}", action and {"action": action})

    def set_tracker(self, tracker: str, action: str | None) -> None:
        self._choice(f"/choices/trackers/{_q(tracker)}", action and {"action": action})

    def set_trust(self, site: str, duration: str | None) -> int | None:
        answer = self._choice(f"/choices/trust/{_q(site)}", duration and {"duration": duration})
        return answer.get("until")

    def new_pairing_code(self) -> str:
        return str(self._call("POST", "/pairing-code")[1]["code"])

    def new_signin_code(self) -> str:
        url = str(self._call("POST", "/history-link")[1]["url"])
        return url.rstrip("/").rsplit("/", 1)[-1]

    def _choice(self, path: str, body: dict | None) -> dict[str, Any]:
        return self._call("PUT" if body else "DELETE", path, body)[1]

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        return self.remote.call(method, path, body)  # a refusal: RemoteError, one line from the CLI


class RemoteLists:
    """:class:`companion.lists.Lists`' methods the commands use, done by the running companion."""

    collection = "lists"

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def _info(self, item: dict[str, Any]):
        from .lists import ListInfo
        return ListInfo(**{"etag": None, "last_modified": None, **item})

    def _error(self, exc: RemoteError):
        from .lists import ListError
        return ListError(exc.reason)

    def all(self) -> list:
        return [self._info(i) for i in self.remote.call("GET", f"/{self.collection}")[1][self.collection]]

    def get(self, name: str):
        try:
            return self._info(self.remote.call("GET", f"/{self.collection}/{_q(name)}")[1][self.collection[:-1]])
        except RemoteError as exc:
            raise self._error(exc) from None

    def add(self, source: str, name: str | None = None, progress: Any = None, allow_http: bool = False):
        from .lists import ListError
        if "://" not in source and Path(source).expanduser().exists():
            raise ListError(f"the running companion at {self.remote.address} owns the data folder and takes list "
                            "names and URLs only; to add the local file, stop it and run this again")
        before = {i.name for i in self.all()}
        body: dict[str, Any] = {"source": source, "allow_http": allow_http}
        if name:
            body["name"] = name
        started = _now_ms()
        try:
            status, answer = self.remote.call("POST", f"/{self.collection}", body)
        except RemoteError as exc:
            if exc.status == 422 and self.collection[:-1] in exc.payload:
                return self._done(exc.payload)
            raise self._error(exc) from None
        if status == 202:  # the download goes on in the server: wait for it like a local one
            items = self.remote.wait_downloads(self.collection, None)
            added = [i for i in items if i["name"] not in before and (not name or i["name"] == name)]
            if not added:
                raise ListError("the companion accepted the list but does not show it; see 'crumbs lists'")
            info = self._info(added[0])
            return info, self._outcome_since(info, started)
        return self._done(answer)

    def set_enabled(self, name: str, enabled: bool, progress: Any = None):
        started = _now_ms()
        try:
            status, answer = self.remote.call("PUT", f"/{self.collection}/{_q(name)}", {"enabled": enabled})
        except RemoteError as exc:
            raise self._error(exc) from None
        if status == 202:
            self.remote.wait_downloads(self.collection, {name})
            info = self.get(name)
            return info, self._outcome_since(info, started)
        return self._done(answer)

    def remove(self, name: str) -> None:
        try:
            self.remote.call("DELETE", f"/{self.collection}/{_q(name)}")
        except RemoteError as exc:
            raise self._error(exc) from None

    def update(self, name: str | None = None, progress: Any = None, force: bool = False) -> list:
        from .lists import Outcome
        started = _now_ms()
        path = f"/{self.collection}/{_q(name)}/update" if name else f"/{self.collection}/update"
        try:
            status, answer = self.remote.call("POST", path, {"force": force})
        except RemoteError as exc:
            raise self._error(exc) from None
        if status != 202:
            return [Outcome(**o) for o in answer.get("results", [])]
        items = self.remote.wait_downloads(self.collection, {name} if name else None)
        infos = [self._info(i) for i in items if (not name or i["name"] == name)]
        return [self._outcome_since(i, started) for i in infos if (i.last_checked or 0) >= started]

    def _done(self, answer: dict[str, Any]):
        from .lists import Outcome
        outcome = answer.get("outcome")
        return self._info(answer[self.collection[:-1]]), (Outcome(**outcome) if outcome else None)

    @staticmethod
    def _outcome_since(info: Any, started: int):
        """What a download the server finished did, read from the list's own record."""
        from .lists import Outcome
        if info.last_error and (info.last_checked or 0) >= started:
            return Outcome(info.name, "failed", info.last_error)
        if (info.updated or 0) >= started:
            return Outcome(info.name, "updated", used=getattr(info, "used", None))
        return Outcome(info.name, "not-modified")


class RemoteSources(RemoteLists):
    """:class:`companion.lists.Sources`' methods the commands use, done by the running companion."""

    collection = "sources"

    def _info(self, item: dict[str, Any]):
        from .lists import SourceInfo
        return SourceInfo(**item)

    def add(self, source: str, name: str | None = None, progress: Any = None, allow_http: bool = False):
        body: dict[str, Any] = {"source": source, "allow_http": allow_http}
        if name:
            body["name"] = name
        try:
            return self._done(self.remote.call("POST", "/sources", body)[1])
        except RemoteError as exc:
            if exc.status == 422 and "source" in exc.payload:
                return self._done(exc.payload)
            raise self._error(exc) from None


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _now_ms() -> int:
    return int(time.time() * 1000)
