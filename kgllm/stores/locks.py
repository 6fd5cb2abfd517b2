"""Named cross-process locks on a file next to the graph (``fcntl.flock``: released when the holder dies).

:func:`file_lock` is what ``store.lock(name, timeout)`` of the memory store uses:
the lock file ``<graph file>.<name>.lock`` exists while the lock is held (its holder removes it) and
holds the holder's ``pid N on HOST``, so
the second process either waits (up to ``timeout`` seconds) or gets a
:class:`~kgllm.errors.StoreError` naming the holder. A killed holder (SIGKILL)
releases the lock with its file descriptor: no stale locks.

Examples
--------
>>> import os, tempfile
>>> from kgllm.errors import StoreError
>>> with tempfile.TemporaryDirectory() as tmp:
...     graph = os.path.join(tmp, "g.sqlite")
...     with file_lock(graph, "build", timeout=0):
...         try:
...             with file_lock(graph, "build", timeout=0):
...                 pass
...         except StoreError as exc:
...             print("refused:", "being written by another process" in str(exc))
...     print("left behind:", os.listdir(tmp))
refused: True
left behind: []
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from kgllm.errors import InputError, StoreError
from kgllm.stores.ledger import lock_holder, lock_message

__all__ = ["file_lock", "local_lock", "lock_path"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_local: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def lock_path(graph: str | os.PathLike[str], name: str) -> Path:
    """The lock file of lock ``name`` on the graph file ``graph``.

    >>> lock_path("data/g.sqlite", "nightly").name
    'g.sqlite.nightly.lock'
    """
    if not _NAME.match(name):
        raise InputError(f"lock name must be 1-100 letters, digits, '_', '.' or '-', got {name!r}")
    p = Path(graph)
    return p.with_name(f"{p.name}.{name}.lock")


def _wait(try_once: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = 0.01
    while True:
        if try_once():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 2, 0.25)


@contextlib.contextmanager
def local_lock(key: str, name: str, timeout: float) -> Iterator[None]:
    """A lock within this process only (for stores without a file); same messages as :func:`file_lock`."""
    with _local_guard:
        lock = _local.setdefault(f"{key}\x00{name}", threading.Lock())
    if not _wait(lambda: lock.acquire(blocking=False), timeout):
        raise StoreError(lock_message(name, key, "another thread of this process"))
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def file_lock(graph: str | os.PathLike[str], name: str, timeout: float) -> Iterator[None]:
    """Hold lock ``name`` on the graph file ``graph`` for the block; wait up to ``timeout`` seconds for it.

    The lock file is removed by its holder when the block ends (a holder killed with SIGKILL leaves it,
    unlocked: the next holder removes it), so nothing stays beside the graph file.

    Raises
    ------
    StoreError
        Another process (or another holder in this one) kept the lock for ``timeout`` seconds;
        the message names the graph file, the holder's pid and host and the lock.
    """
    path = lock_path(graph, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        # flock is per open file description: a second open in this process conflicts too, as another process would.
        if not _wait(lambda: _try_flock(fd), deadline - time.monotonic()):
            try:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown holder"
            except OSError:
                holder = "unknown holder"
            os.close(fd)
            raise StoreError(lock_message(name, str(graph), holder))
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous holder removed the file we locked: lock the one at the path now
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, lock_holder().encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still holding it: a waiter on this file sees it gone and starts over
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (own.st_ino, own.st_dev)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
