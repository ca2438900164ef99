"""Whether a browser holds the token yet: decides if `crumbs serve` prints a pairing code at start.

How the companion knows: when an extension receives the token (a pairing code redeemed, the native
messaging host handing it over) or makes its first authenticated call from an extension origin
(which covers a browser paired by other means), the companion stores a short hash of the token in
force under the ``paired_token`` setting. A browser counts as paired while that hash matches the
current token, so ``crumbs token --rotate`` (after which every browser must pair again) brings the
code back by itself, and deleting the database does too. The hash is a SHA-256 prefix: it says which
token was handed out without storing anything that would let someone rebuild it.
"""

from __future__ import annotations

import hashlib

SETTING = "paired_token"


def _mark(token: str) -> str:
    return hashlib.sha256(("crumbs-paired:" + token).encode("utf-8")).hexdigest()[:16]


def is_paired(store, token: str | None = None) -> bool:
    """True when a browser received the token now in force (``store``: a Store; ``token``: default, read it
    from the store's data folder)."""
    if token is None:
        from .auth import load_or_create_token

        token = load_or_create_token(store.path.parent / "token")
    return store.get_setting(SETTING) == _mark(token)


def mark_paired(store, token: str) -> None:
    """Record that a browser holds ``token`` (idempotent, one small write)."""
    if store.get_setting(SETTING) != _mark(token):
        store.set_setting(SETTING, _mark(token))


def note_extension_call(companion) -> None:
    """Called after an authenticated API call from an extension origin; writes at most once per token."""
    token = companion.token
    if getattr(companion, "_paired_for", None) != token:
        mark_paired(companion.store, token)
        companion._paired_for = token
