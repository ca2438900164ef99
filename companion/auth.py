"""Secrets: the API token, the pairing codes that hand it to the extension, and the server's proof.

- The token is 256 random bits, made at first start, stored in a file only the user can
  read (0600), compared in constant time and never logged or put in a URL.
- A pairing code is 8 digits, valid for 10 minutes and single use. Only its SHA-256 is stored,
  in the database, so ``crumbs pair`` (another process) can make one that the running server
  accepts. Guessing is bounded by :class:`PairingThrottle` (5 tries per 10 s, whoever makes
  them), not by killing codes: a wrong guess cannot tell which code it missed, so a kill after N
  wrong tries let any local process kill every live code with N bad guesses (issue 15).
- The proof lets the extension check that the server on the port is really this companion
  before it sends the token: HMAC-SHA256, keyed by the token, of a nonce the extension chose,
  the Host it dialled and its Origin. Binding the Host is what stops a relay: a program squatting
  the extension's port that forwards the challenge to the real companion on another port gets a
  proof for *that* port (the companion refuses any Host but its own), which the extension rejects.
- Whether a browser holds the token (decides if ``crumbs serve`` prints a pairing code): see
  :func:`is_paired`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

PAIRING_CODE_DIGITS = 8
PAIRING_CODE_TTL_MS = 10 * 60 * 1000
# At most this many pairing tries (right or wrong, from anyone) per window: over a code's 10 minutes
# that is 300 guesses of 10^8, a 3-in-a-million chance for a guesser; the person waits seconds at worst.
PAIRING_TRIES_PER_WINDOW = 5
PAIRING_WINDOW_S = 10.0


def load_or_create_token(path: Path) -> str:
    """Read the token, creating it (0600) on first use. Refuses a token file others can read or write."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & 0o077:
            os.chmod(path, 0o600)  # tighten rather than serve with a token others may have read
        token = path.read_text(encoding="ascii").strip()
        if len(token) < 32:
            raise ValueError(f"{path} does not hold a valid token; delete it to make a new one (re-pair the extension)")
        return token
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    return token


def tokens_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def new_pairing_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PAIRING_CODE_DIGITS))


def issue_pairing_code(store) -> str:
    """Make a pairing code and store its hash (``store``: a :class:`companion.storage.Store`); returns the code."""
    from .storage import now_ms

    code = new_pairing_code()
    store.add_pairing_code(hash_code(code), now_ms() + PAIRING_CODE_TTL_MS)
    return code


class PairingThrottle:
    """How many pairing tries may be checked now: ``take(who)`` is 0.0 and counts the try when one may, else
    the seconds to wait. Refusing to check (rather than checking and killing codes) keeps a guesser from
    both guessing fast and destroying the code the person is typing. One per server process.

    Each ``who`` (the user owning the client's socket, companion/peers.py) has a budget of its own, so a
    guesser running as another user cannot starve the person's try by keeping one shared budget full
    (issue 15); clients that cannot be told apart share the budget of ``None``. Budgets are forgotten
    once their window has passed, so the map holds at most the users who tried lately. Budgets per user
    multiply the rate a guesser with several accounts (or sockets that cannot be told apart) gets: even
    ten budgets check 6,000 of the 10^8 codes in a code's 10 minutes of life."""

    def __init__(self, tries: int = PAIRING_TRIES_PER_WINDOW, window_s: float = PAIRING_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tries, self.window_s, self.clock = tries, window_s, clock
        self._recent: dict[object, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, who: object = None) -> float:
        with self._lock:
            now = self.clock()
            for key in [k for k, times in self._recent.items() if times[-1] <= now - self.window_s]:
                del self._recent[key]
            recent = self._recent.setdefault(who, deque())
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) >= self.tries:
                return max(0.001, recent[0] + self.window_s - now)
            recent.append(now)
            return 0.0


# -- whether a browser holds the token ----------------------------------------------------
#
# When an extension receives the token (a pairing code redeemed, the native messaging host handing
# it over) or makes its first authenticated call from an extension origin (which covers a browser
# paired by other means), the companion stores a short hash of the token in force under the
# ``paired_token`` setting. A browser counts as paired while that hash matches the current token, so
# ``crumbs token --rotate`` (after which every browser must pair again) brings the code back by
# itself, and deleting the database does too. The hash is a SHA-256 prefix of a salted string: it
# says which token was handed out without storing anything that would let someone rebuild it.

PAIRED_SETTING = "paired_token"


def paired_mark(token: str) -> str:
    return hashlib.sha256(("crumbs-paired:" + token).encode("utf-8")).hexdigest()[:16]


def is_paired(store, token: str) -> bool:
    """True when a browser received ``token`` (``store``: a :class:`companion.storage.Store`)."""
    return store.get_setting(PAIRED_SETTING) == paired_mark(token)


def mark_paired(store, token: str) -> None:
    """Record that a browser holds ``token`` (idempotent: writes only when the mark changes)."""
    if not is_paired(store, token):
        store.set_setting(PAIRED_SETTING, paired_mark(token))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def proof(token: str, nonce: str, host: str, origin: str = "") -> str:
    """What the server answers to a challenge: hex HMAC-SHA256(token, "crumbs-proof-v2\\n" + nonce + "\\n" +
    host + "\\n" + origin). ``host`` is the Host header as received (already checked to be this server's
    own address and port), lower case; ``origin`` the Origin header, "" when the browser sent none.
    The extension computes the same for the address it dialled and its own origin (extension/src/proof.js)."""
    message = "\n".join(("crumbs-proof-v2", nonce, host.lower(), origin))
    return hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def rotate_token(path: Path) -> str:
    """Replace the token with a new one (atomically, 0600): every paired browser must pair again."""
    token = secrets.token_urlsafe(32)
    staging = path.with_name(path.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
    os.replace(staging, path)
    return token


class TokenFile:
    """The token as a running server sees it: re-read when the file changes (``crumbs token --rotate``
    from another process takes effect without a restart). One stat per request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._value = load_or_create_token(path)
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int]:
        info = self.path.stat()
        return info.st_mtime_ns, info.st_ino

    @property
    def value(self) -> str:
        try:
            stamp = self._stat()
        except OSError:  # deleted: keep serving with the token in force until one is made again
            return self._value
        if stamp != self._stamp:
            self._value = load_or_create_token(self.path)
            self._stamp = stamp
        return self._value


# -- web sign-in (the history pages) ------------------------------------------------------

SIGNIN_CODE_TTL_MS = 2 * 60 * 1000
SESSION_TTL_MS = 12 * 3_600_000


def new_signin_code(store, ttl_ms: int = SIGNIN_CODE_TTL_MS) -> str:
    """A one-time code for ``/signin/<code>``; only its hash is stored, so any process may make one."""
    from .storage import now_ms
    code = secrets.token_urlsafe(32)
    store.add_signin_code(hash_code(code), now_ms() + ttl_ms)
    return code


def redeem_signin_code(store, code: str) -> tuple[str, str] | None:
    """Consume a code (single use) and open a session: returns (session id, CSRF token), or None."""
    from .storage import now_ms
    if not code or len(code) > 100:
        return None
    session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    if not store.open_session(hash_code(code), hash_code(session), csrf, now_ms() + SESSION_TTL_MS):
        return None
    return session, csrf


def opened_by(store, session: str | None, code: str) -> bool:
    """True when ``session`` is live and was opened by the sign-in ``code`` (a used link opened again
    in the browser that signed in with it)."""
    if not session or len(session) > 100 or not code or len(code) > 100:
        return False
    return store.session_opened_by(hash_code(session), hash_code(code))


def session_csrf(store, session: str | None) -> str | None:
    """The CSRF token of a live session, or None when the session is unknown or expired."""
    if not session or len(session) > 100:
        return None
    return store.session_csrf(hash_code(session))


def end_session(store, session: str | None) -> None:
    if session:
        store.end_session(hash_code(session))
