"""One companion per data folder: the lock it holds while it runs, and the address file it leaves.

Why: two servers on one data folder corrupt each other (per-process caches over one database), and
every other program (``crumbs open``, ``crumbs pair``, the native messaging host) needs to know on
which port the running companion listens.

- ``companion.lock``: an exclusive ``fcntl.flock`` taken by ``crumbs serve`` before it opens the
  database and held until the process ends. The kernel drops it when the process dies, even on
  SIGKILL, so a stale lock can never keep a new companion out. It holds the owner's pid (to name it).
- ``companion.json``: ``{"address", "port", "pid", "started"}``, mode 0600, written atomically once
  the server listens and removed at a clean exit. A file left by a killed companion is ignored:
  it counts only while the lock is held.

Nothing here imports Flask; readers (:func:`running`) take the lock for an instant to learn whether
an owner is alive, and never keep it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the address file is then trusted as it is
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "companion.lock"
ADDRESS_NAME = "companion.json"


class AlreadyRunning(RuntimeError):
    """Another process owns this data folder; the message names it.

    ``command``: the owner is a ``crumbs`` command changing the folder while no companion runs (it
    holds the lock for its few seconds), named by what it does."""

    def __init__(self, root: Path, found: "Running | None", pid: int | None, command: str | None = None) -> None:
        self.found = found
        self.command = command
        if command:
            self.owner = f"'crumbs {command}' (pid {pid}) is changing the data folder {root}"
            super().__init__(f"{self.owner}; try again when it has finished")
            return
        if found is not None:
            where = f"at {found.address} (pid {found.pid})"
        elif pid:
            where = f"(pid {pid}, still starting)"
        else:
            where = "(still starting)"
        # Who holds the folder, without the advice: a command with other advice says its own (repair, restore).
        self.owner = f"another Crumbs companion already serves the data folder {root} {where}"
        super().__init__(f"{self.owner}; use it, or stop it first")


@dataclass(frozen=True)
class Running:
    """What the address file of a live companion says."""

    address: str
    port: int
    pid: int


def lock_path(root: Path) -> Path:
    return Path(root) / LOCK_NAME


def address_path(root: Path) -> Path:
    return Path(root) / ADDRESS_NAME


class Instance:
    """The running companion's hold on its data folder: ``acquire()`` at start, ``release()`` at the end."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._fd: int | None = None
        self._wrote_address = False

    def acquire(self, command: str | None = None, wait_for_commands: float = 0.0) -> None:
        """Take the lock or raise :class:`AlreadyRunning` naming the owner.

        ``command``: a ``crumbs`` command takes the lock while no companion runs, so a companion
        starting meanwhile waits for it instead of writing beside it; it names itself ("lists update").
        ``wait_for_commands``: seconds a starting companion waits for such a command to finish."""
        deadline = time.monotonic() + wait_for_commands
        while True:
            try:
                self._take(command)
                return
            except AlreadyRunning as exc:
                if exc.command is None or time.monotonic() >= deadline:
                    raise
            time.sleep(0.1)

    def _take(self, command: str | None) -> None:
        fd = os.open(lock_path(self.root), os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid, holder = _read_owner(fd)
                os.close(fd)
                if holder:
                    raise AlreadyRunning(self.root, None, pid, holder) from None
                # The owner writes its address a moment after it takes the lock: wait a little for it.
                found = None
                for _ in range(20):
                    found = read_address(self.root)
                    if found is not None:
                        break
                    time.sleep(0.1)
                raise AlreadyRunning(self.root, found, pid) from None
        os.ftruncate(fd, 0)
        # "pid" for a companion, "pid command words" for a command (one line, plain ASCII).
        line = f"{os.getpid()}" + (f" {_plain(command)}" if command else "")
        os.pwrite(fd, f"{line}\n".encode("ascii"), 0)
        self._fd = fd

    def publish(self, host: str, port: int) -> Running:
        """Record where this companion listens (0600, atomic replace)."""
        port = int(port)  # waitress reports the effective port as a string
        running = Running(f"http://{host}:{port}", port, os.getpid())
        body = json.dumps({"address": running.address, "port": port, "pid": running.pid,
                           "started": int(time.time())})
        staging = address_path(self.root).with_suffix(".json.new")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
        os.replace(staging, address_path(self.root))
        self._wrote_address = True
        return running

    def release(self) -> None:
        """Remove the address file and drop the lock (clean exit). Safe to call twice."""
        if self._wrote_address:
            try:
                address_path(self.root).unlink()
            except FileNotFoundError:
                pass
            self._wrote_address = False
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "Instance":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_owner(fd: int) -> tuple[int | None, str | None]:
    """(pid, command) written by the lock's holder; command None for a companion."""
    try:
        text = os.pread(fd, 200, 0).decode("ascii", "replace").strip()
    except OSError:
        return None, None
    pid, _, command = text.partition(" ")
    return (int(pid) if pid.isdigit() else None), (command or None)


def _plain(words: str) -> str:
    return "".join(c if c.isalnum() or c in " -_." else "?" for c in words)[:80]


def owner_alive(root: Path) -> bool:
    """True while some process holds the data folder's lock (a companion runs or is starting)."""
    if fcntl is None:
        return read_address(root, require_lock=False) is not None
    try:
        fd = os.open(lock_path(root), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def read_address(root: Path, require_lock: bool = False) -> Running | None:
    """The address file's content, or None when it is missing or damaged (or, with ``require_lock``,
    when no process holds the lock: the file was left by a companion that was killed)."""
    try:
        data = json.loads(address_path(root).read_text(encoding="utf-8"))
        port, pid, address = data["port"], data["pid"], data["address"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(port, int) and 0 < port < 65536 and isinstance(pid, int) and isinstance(address, str)):
        return None
    if address != f"http://127.0.0.1:{port}":
        return None  # only ever the loopback address this module writes
    if require_lock and not owner_alive(root):
        return None
    return Running(address, port, pid)


def running(root: Path) -> Running | None:
    """The live companion of this data folder, if one runs (its lock is held and it said where)."""
    return read_address(root, require_lock=True)


def port_for_cli(root: Path, given: int | None, default: int) -> tuple[int, str | None]:
    """The port a command should talk to, and a note for the person when it is a guess.

    ``--port`` wins; otherwise the running companion's address file; otherwise the default port, with a
    note that no companion serves this data folder (so a dead link comes with the reason).
    """
    if given:
        return given, None
    found = running(root)
    if found is not None:
        return found.port, None
    return default, (f"no companion is running for the data folder {root}: start it with 'crumbs serve' "
                     f"(this assumes port {default})")
