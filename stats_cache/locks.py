"""One holder at a time: an exclusive lock per local path (a store, a run directory, an
output file), refused at once, never waited for.

``hold(path, doing)`` takes ``<real path>.lock`` beside the path's resolved real path
(``os.path.realpath``), so that every spelling of one path (relative, absolute, through a
symlink) takes the same lock.  The lock is ``fcntl.flock`` (through ``filelock``): the
kernel drops it when its process ends, killed or not, so a lock file left behind blocks
nobody.  The holder writes its pid and host into the lock file, and a refusal names them.
Within one process a lock is re-entrant (counted: each ``hold`` wants its ``release``).
Remote (fsspec) URLs have no lock: ``hold`` returns None for them.
"""
import os
import socket

import filelock


class LockedError(ValueError):
    """Another process holds the lock of a path."""


def is_local(url):
    url = str(url)
    return "://" not in url or url.startswith("file://")


def local_path(url):
    """The file-system path of a local URL (``file://`` dropped, no trailing slash)."""
    return str(url).removeprefix("file://").rstrip("/") or "/"


def lock_file(path):
    """The lock file of ``path``: ``<real path>.lock``."""
    return os.path.realpath(local_path(path)) + ".lock"


def holder(lock_path):
    """Who holds ``lock_path``, as its holder wrote it ('pid N on host H')."""
    try:
        with open(lock_path) as f:
            text = f.read(200).strip()
    except OSError:
        text = ""
    return text or "a process that has not yet written its pid"


def hold(path, doing, subject=None, error=LockedError):
    """Hold the lock of ``path`` until ``release()`` on the returned lock (or the end of
    the process); None for a remote URL.  When another process holds it, raises
    ``error``: '<subject>: <doing> (pid N on host H holds <lock file>); wait for it to
    finish, or stop it' (``subject`` defaults to ``path``)."""
    if not is_local(path):
        return None
    where = lock_file(path)
    lock = filelock.FileLock(where, timeout=0, is_singleton=True, thread_local=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise error(f"{subject or path}: {doing} ({holder(where)} holds {where}); "
                    "wait for it to finish, or stop it") from None
    try:  # the holder's name, for a refusal's message (the lock itself is the flock)
        with open(where, "r+") as f:
            f.truncate(0)
            f.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
    except OSError:
        pass
    return lock
