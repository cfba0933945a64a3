"""The server's hold on the database: opened at start (or as soon as it can be), and an outbox
so that a practice finished while the database is away is written when it is back.

A studio's PostgreSQL may restart while a class dances. Practice never waits for it: a
finished practice goes to the database if it can, else to a bounded outbox in memory that is
written, oldest first, as soon as the database answers again (every :data:`RETRY_S` and before
each new write). The learner is told which happened. When the outbox is full the practice is
not kept, and the learner is told that too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from app.accounts import LOCAL_LEARNER, Account, find_user, local_learner
from app.db.engine import Database, DatabaseUnavailableError, open_database, shown
from app.errors import UserError
from app.progress import PracticeRecord, Stored, store_practice

log = logging.getLogger(__name__)

RETRY_S = 5.0
OUTBOX_SIZE = 500


@dataclass(frozen=True)
class Kept:
    """What became of a finished practice: ``stored`` when written, else ``pending`` (in the
    outbox) or neither (lost: the outbox was full); ``message`` says so in words."""

    stored: Stored | None
    pending: bool
    message: str | None


class PracticeStore:
    """The database (None while it cannot be had) and the practices waiting for it."""

    def __init__(self, url: str | None, max_attempt_bytes: int,
                 outbox_size: int = OUTBOX_SIZE) -> None:
        self.url = url
        self.max_attempt_bytes = max_attempt_bytes
        self._database: Database | None = None
        self.problem: str | None = None
        self._next_try = 0.0
        self._outbox: deque[tuple[str, PracticeRecord]] = deque()
        self._outbox_size = outbox_size
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    def open(self) -> Database | None:
        """The database, opened (and migrated) now if it was not; None while unreachable. A
        failure is logged once per outage and kept in ``problem``."""
        if self._database is not None:
            return self._database
        with self._lock:
            if self._database is None and time.monotonic() >= self._next_try:
                try:
                    self._database = open_database(self.url)
                except DatabaseUnavailableError as exc:
                    self._next_try = time.monotonic() + RETRY_S
                    if self.problem != str(exc):
                        log.error("Practices are kept in memory until the database is back: %s",
                                  exc)
                    self.problem = str(exc)
                else:
                    if self.problem:
                        log.info("The database %s is back.", shown(self._database.url))
                    self.problem = None
        return self._database

    def require(self) -> Database:
        """The database, or the sentence saying why it cannot be had.

        Raises
        ------
        DatabaseUnavailableError
        """
        database = self.open()
        if database is None:
            raise DatabaseUnavailableError(self.problem or "the database cannot be reached")
        return database

    @property
    def pending(self) -> int:
        return len(self._outbox)

    def keep(self, name: str, record: PracticeRecord) -> Kept:
        """Write a finished practice of the learner ``name`` (waiting ones first), or keep it
        in the outbox while the database is away. Runs in a worker thread."""
        self.flush()
        if not self._outbox:
            try:
                stored = self._write(name, record)
            except DatabaseUnavailableError as exc:
                self._lost_database(exc)
            else:
                return Kept(stored, False, None)
        with self._lock:
            if len(self._outbox) >= self._outbox_size:
                return Kept(None, False, "Your practice could not be kept: the tutor's database "
                                         "is away and its waiting list is full.")
            self._outbox.append((name, record))
        return Kept(None, True, "The tutor's database is away: your practice is kept on the "
                                "tutor and saved when it is back.")

    def flush(self) -> int:
        """Write waiting practices, oldest first, while the database answers; how many."""
        written = 0
        with self._flushing:
            while self._outbox:
                name, record = self._outbox[0]
                try:
                    self._write(name, record)
                except DatabaseUnavailableError as exc:
                    self._lost_database(exc)
                    break
                except UserError as exc:
                    log.warning("A waiting practice of %r is dropped: %s", name, exc)
                with self._lock:
                    self._outbox.popleft()
                written += 1
        return written

    def close(self) -> None:
        if self._database is not None:
            self._database.close()

    def _write(self, name: str, record: PracticeRecord) -> Stored:
        database = self.require()
        account = self._account(database, name)
        return store_practice(database, account, record, self.max_attempt_bytes)

    @staticmethod
    def _account(database: Database, name: str) -> Account:
        if name == LOCAL_LEARNER:
            return local_learner(database)
        account = find_user(database, name)
        if account is None:
            raise UserError(f"there is no user named {name!r} any more")
        return account

    def _lost_database(self, exc: DatabaseUnavailableError) -> None:
        """The database went away after it was opened: reopen it later (a write refused while
        waiting to retry does not put the retry off)."""
        with self._lock:
            if self._database is not None:
                self._database.close()
                self._database = None
                self._next_try = time.monotonic() + RETRY_S
            if self.problem != str(exc):
                log.error("Practices are kept in memory until the database is back: %s", exc)
            self.problem = str(exc)
