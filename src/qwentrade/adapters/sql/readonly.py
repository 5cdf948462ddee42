"""Opening a database for reading only, so that reading leaves it exactly as it was.

1. SQLite files open as ``file:<path>?mode=ro`` URIs: SQLite itself refuses every write,
   a missing file is an error instead of a new database, and no PRAGMA that writes runs
   (the journal mode stays whatever it was).
2. PostgreSQL sessions start with ``default_transaction_read_only=on``: the server refuses
   INSERT, UPDATE, DELETE and DDL.
3. Reading a WAL-mode SQLite file makes SQLite create its ``-wal`` and ``-shm`` files, and a
   read-only connection cannot delete them when it closes (the last read-write connection
   normally does). :class:`WalFiles` removes them again when they were absent before, the
   WAL holds no frames, and no connection in any process (this one included) has them open
   - the same test SQLite makes before it deletes them itself.
4. :func:`open_in_this_process` tells whether a second SQLite library may open the file
   without taking locks away from the first (see ``fastread.py``).
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from pathlib import Path
from urllib.parse import quote, unquote

from sqlalchemy.engine import URL

POSTGRES_READ_ONLY = "-c default_transaction_read_only=on"
# The "DMS" byte of the -shm file (SQLite's os_unix.c, UNIX_SHM_DMS): every connection that
# uses the WAL index holds a read lock on it for as long as it is open.
_SHM_DMS_BYTE = 128


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (None for an in-memory database)."""
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = unquote(database.removeprefix("file:").split("?", 1)[0])
        if url.query.get("mode") == "memory":
            return None
    return Path(database)


def sqlite_read_only_url(url: URL) -> URL:
    """``url`` as a ``file:...?mode=ro`` URI that SQLite opens read-only."""
    path = sqlite_file(url)
    if path is None:
        return url
    query = {key: value for key, value in url.query.items() if key not in ("mode", "uri")}
    database = f"file:{quote(str(path.resolve()), safe='/')}"
    return url.set(database=database, query={**query, "mode": "ro", "uri": "true"})


def postgres_read_only_options(options: str) -> str:
    """libpq ``options`` with read-only transactions by default added."""
    return f"{options} {POSTGRES_READ_ONLY}".strip()


class WalFiles:
    """The ``-wal``/``-shm`` files beside a SQLite database, as they were when created.

    :meth:`release` deletes the ones a read-only connection left, only if neither existed
    at construction and SQLite would delete them itself: no frames in the WAL and no open
    connection anywhere (checked with an open-file-description lock, which also sees the
    POSIX locks of SQLite connections in this process). Elsewhere than Linux it does nothing.
    """

    def __init__(self, database: Path) -> None:
        self.wal = Path(f"{database}-wal")
        self.shm = Path(f"{database}-shm")
        self.were_absent = not self.wal.exists() and not self.shm.exists()

    def release(self) -> None:
        if not self.were_absent or not self.shm.exists() or not _HAS_OFD_LOCKS:
            return
        try:
            descriptor = os.open(self.shm, os.O_RDWR)
        except OSError:
            return
        try:
            if not _lock(descriptor, exclusive=True):
                return  # a connection is still open: it (or the last writer) cleans up
            try:
                if self.wal.exists() and self.wal.stat().st_size > 0:
                    return  # frames not yet in the database file: never ours to drop
                with contextlib.suppress(FileNotFoundError):
                    self.wal.unlink()
                self.shm.unlink()
            finally:
                _lock(descriptor, exclusive=False)
        except OSError:
            return
        finally:
            os.close(descriptor)


def open_in_this_process(database: Path) -> bool:
    """True when this process already has ``database`` open (e.g. a sqlite3 connection),
    as far as Linux's ``/proc/self/fd`` tells; False where there is no such listing.

    Another SQLite library (an ADBC driver) must not open the file then: closing it would
    drop this process's POSIX locks that the first library holds (SQLite's "multiple
    copies of SQLite in one process" hazard).
    """
    descriptors = Path("/proc/self/fd")
    try:
        wanted = database.stat()
        entries = list(os.scandir(descriptors))
    except OSError:
        return False
    for entry in entries:
        try:
            found = os.stat(entry.path)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
            return True
    return False


_HAS_OFD_LOCKS = sys.platform == "linux"
_F_OFD_SETLK = 37  # linux/fcntl.h, for Pythons whose fcntl does not name it


def _lock(descriptor: int, exclusive: bool) -> bool:
    """Take (or, with ``exclusive=False``, drop) a write lock on the DMS byte, no waiting."""
    import fcntl

    kind = fcntl.F_WRLCK if exclusive else fcntl.F_UNLCK
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks), padded.
    flock = struct.pack("@hhqqi4x", kind, os.SEEK_SET, _SHM_DMS_BYTE, 1, 0)
    try:
        fcntl.fcntl(descriptor, getattr(fcntl, "F_OFD_SETLK", _F_OFD_SETLK), flock)
    except OSError:
        return False
    return True
