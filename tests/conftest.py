"""Shared fixtures, the way Flask's tutorial has them: a companion on a temporary data folder,
the app around it, and a test client that speaks to it as the extension would."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from companion.classify import Verdict
from companion.service import Companion
from companion.web import create_app

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LISTS_DIR = SHARED / "data" / "lists"
CORPUS = SHARED / "data" / "requests" / "corpus.jsonl"
PORT = 8737
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def companion(data_dir: Path) -> Companion:
    """A companion with the shipped rules only, on a fresh data folder."""
    c = Companion(data_dir)
    yield c
    c.close()


@pytest.fixture
def app(companion: Companion):
    return create_app({"COMPANION": companion, "PORT": PORT, "DNR_MIN_INTERVAL_S": 0.0})


class LoopbackClient(FlaskClient):
    """Speaks to the app as the extension does: Host is the companion's own loopback address and port."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = LoopbackClient
    return app.test_client()


@pytest.fixture
def auth(companion: Companion) -> dict[str, str]:
    return {"Authorization": f"Bearer {companion.token}"}


def sign_in(client, companion: Companion):
    """Sign a test client in to the history pages the way `crumbs open` does: a one-time link."""
    code = companion.new_signin_code()
    assert client.get(f"/signin/{code}").status_code == 200
    return client


def csrf_of(client, page: str = "/choices") -> str:
    """The CSRF token the signed-in pages put in their forms."""
    import re

    html = client.get(page).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="session")
def make_verdict():
    """Verdict factory: ``make_verdict(site, host, domain, tracker, blocked, filter, **more)`` with defaults for
    everything else, so tests name only what they are about. ``domain`` defaults to the host, ``third_party``
    to site != domain, ``blocked`` to ``tracker``, ``list`` to "test" when there is a filter, ``decided_by``
    to what the list default would say."""

    def make(site: str | None = "news.example", host: str = "www.google-analytics.com", domain: str | None = None,
             tracker: bool = True, blocked: bool | None = None, filter: str | None = None, *, list: str | None = None,
             third_party: bool | None = None, type: str = "script", decided_by: str | None = None) -> Verdict:
        domain = host if domain is None else domain
        blocked = tracker if blocked is None else blocked
        return Verdict(
            url=f"https://{host}/x", type=type, host=host, domain=domain, page_domain=site,
            third_party=(site != domain) if third_party is None else third_party, same_owner=False, tracker=tracker,
            owner=None, category=None, category_label=None, description=None, learns=None, filter=filter,
            list=list or ("test" if filter else None), exception=False, overridden_filter=None, blocked=blocked,
            decided_by=decided_by or ("list-default" if blocked else "not-a-tracker"),
        )

    return make
