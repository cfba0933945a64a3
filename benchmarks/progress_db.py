"""Progress database speed: keeping a practice, the progress pages, a class finishing at once.

Run on SQLite (a new file in a temporary folder, as at home) and on PostgreSQL (a new database
on the server of ``--postgres URL`` or ``$DANCE_TUTOR_TEST_POSTGRES_URL``, dropped after; left
out, with a note, when neither is given). The practices are real: reports of scoring library
steps against noisy copies of themselves and with one limb turned away
(``tests/scoring_fixtures``), and the attempt a noisy copy of ``wing-beat`` (4 s at 30 fps,
image and world landmarks, as a learner's browser sends them).

(a) Keeping a practice: :func:`app.progress.store_practice` (the tries of the step today, the
    gzipped attempt, one transaction) ``--stores`` times, with the attempt and without it (the
    database's share); baseline: a bare SQLAlchemy Core INSERT of the same stored row (attempt
    already packed), one transaction each, interleaved with the stores. p50 and p99; ratio
    against the baseline's p50.
(b) The progress pages, with ``--learners`` learners of ``--practices`` practices each over the
    last year seeded with bulk inserts (the same real rows; the attempts left out, as the pages
    never read them; PostgreSQL's statistics then gathered, as its autovacuum does):
    :func:`app.progress.learner_progress` of one learner and
    :func:`app.progress.class_overview`, ``--repeat`` times each; baselines: a bare Core SELECT
    of the rows each reads (the learner's practices; the class's last 30 days). Target: p99
    under 100 ms each (the server's own time).
(c) A class finishing at once: ``--concurrent`` threads released together, each keeping a
    practice through one shared Database in its own transaction, three times. Every practice
    must be stored and none fail (a SQLite busy timeout counts as a failure); p50 and p99 from
    release to stored, ratio against (a)'s p50.

A full run (both databases) takes two to three minutes. Run from the repository root::

    python -m benchmarks.progress_db [--postgres URL] [--stores 500] [--learners 50]
                                     [--practices 1000] [--concurrent 100] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text

from app.accounts import Account, add_user, now
from app.db.engine import Database, open_database
from app.db.models import Practice
from app.landmarks import Limb
from app.library import Library, default_poses_dir
from app.progress import (
    CORRECTION_DAYS,
    PracticeRecord,
    class_overview,
    delete_history,
    learner_progress,
    store_practice,
)
from app.scoring import score
from app.sequence import PoseSequence
from tests.postgres_fixtures import POSTGRES_URL_VARIABLE, fresh_database
from tests.scoring_fixtures import noisy, rotated_limb

ATTEMPT_STEP = "wing-beat"
REPORT_STEPS = ("wing-beat", "perched", "swoop", "landing")
TURNED = (None, Limb.RIGHT_ARM, Limb.LEFT_LEG)
MAX_ATTEMPT_BYTES = 4 * 2**20
PAGE_TARGET_S = 0.100
BURSTS = 3
SEED_CHUNK = 2_000
WARM_UP = 20


@dataclass(frozen=True)
class Practices:
    """The real practices the benchmark keeps: reports per step and one attempt."""

    reports: dict[str, list[dict[str, Any]]]
    attempt: PoseSequence

    def record(self, k: int, at: Any = None) -> PracticeRecord:
        """The ``k``-th practice, finished at ``at`` (default: now)."""
        finished = at or now()
        reference = REPORT_STEPS[k % len(REPORT_STEPS)]
        reports = self.reports[reference]
        return PracticeRecord(reference, "step", finished - timedelta(seconds=4), finished, 1.0,
                              False, None, reports[k % len(reports)], self.attempt)


@dataclass(frozen=True)
class Row:
    """One line of the table: p50 and p99 in seconds, against a baseline's p50."""

    what: str
    p50: float
    p99: float
    baseline: str
    baseline_p50: float
    note: str = ""

    def line(self, backend: str) -> str:
        ratio = self.p50 / self.baseline_p50 if self.baseline_p50 > 0 else float("nan")
        return (f"{backend:<10} {self.what:<40} {self.p50 * 1000:8.2f} {self.p99 * 1000:8.2f}  "
                f"{self.baseline:<24} {self.baseline_p50 * 1000:8.2f}  x{ratio:6.2f}  "
                f"{self.note}").rstrip()


HEADER = (f"{'database':<10} {'measure':<40} {'p50 ms':>8} {'p99 ms':>8}  {'baseline':<24} "
          f"{'p50 ms':>8}  {'ratio':>7}")


def real_practices(poses: Path) -> Practices:
    """Reports of library steps danced well and with one limb wrong; a noisy attempt."""
    library = Library(poses)
    rng = np.random.default_rng(0)
    reports: dict[str, list[dict[str, Any]]] = {}
    for name in REPORT_STEPS:
        reference = library.reference(name)
        found = []
        for limb in TURNED:
            attempt = reference.sequence if limb is None else rotated_limb(
                reference.sequence, limb, rng)
            found.append(score(reference, noisy(attempt, rng)).to_dict())
        reports[name] = found
    return Practices(reports, noisy(library.reference(ATTEMPT_STEP).sequence, rng))


def percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def stored_row(db: Database, practice_id: int) -> dict[str, Any]:
    """A stored practice's columns as Core inserts them, without its id."""
    table = Practice.__table__
    with db.engine.connect() as connection:
        found = connection.execute(select(table).where(table.c.id == practice_id)).one()
    row = dict(found._mapping)
    del row["id"]
    return row


def seed(db: Database, practices: Practices, learners: int, per_learner: int,
         rng: random.Random) -> list[Account]:
    """``learners`` learners with ``per_learner`` practices each over the last year, inserted
    in bulk from rows the project stored itself (so every figure is its own)."""
    accounts = [add_user(db, f"learner-{k:03d}", "learner", None) for k in range(learners)]
    templates = []
    for k in range(sum(len(r) for r in practices.reports.values())):
        kept = store_practice(db, accounts[0], replace(practices.record(k), attempt=None),
                              MAX_ATTEMPT_BYTES)
        templates.append(stored_row(db, kept.id))
    delete_history(db, accounts[0])
    end = now()
    table = Practice.__table__
    rows: list[dict[str, Any]] = []
    with db.engine.begin() as connection:
        for account in accounts:
            for _ in range(per_learner):
                finished = end - timedelta(seconds=rng.uniform(0, 365 * 86400))
                rows.append({**rng.choice(templates), "user_id": account.id,
                             "finished_at": finished,
                             "started_at": finished - timedelta(seconds=4)})
                if len(rows) == SEED_CHUNK:
                    connection.execute(insert(table), rows)
                    rows = []
        if rows:
            connection.execute(insert(table), rows)
    if not db.is_sqlite:
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE practices"))  # as autovacuum does after a load
    return accounts


def pages(db: Database, account: Account, repeat: int) -> list[Row]:
    """(b): the learner's progress page and the class overview against bare SELECTs."""
    table = Practice.__table__
    mine = select(table.c.id, table.c.reference, table.c.finished_at, table.c.score,
                  table.c.limb_scores, table.c.part_scores).where(table.c.user_id == account.id)
    month = select(table.c.user_id, table.c.reference, table.c.finished_at, table.c.score,
                   table.c.top_correction).where(
        table.c.finished_at >= now() - timedelta(days=CORRECTION_DAYS))

    def bare(query: Any) -> Callable[[], object]:
        def read() -> object:
            with db.engine.connect() as connection:
                return connection.execute(query).all()
        return read

    rows = []
    for what, work, baseline, query in [
            ("learner_progress (1 learner)", lambda: learner_progress(db, account),
             "SELECT their practices", mine),
            ("class_overview", lambda: class_overview(db), "SELECT the last 30 days", month)]:
        work()
        times = [timed(work) for _ in range(repeat)]
        base = [timed(bare(query)) for _ in range(repeat)]
        p50, p99 = percentiles(times)
        met = "met" if p99 < PAGE_TARGET_S else "MISSED"
        rows.append(Row(what, p50, p99, baseline, percentiles(base)[0],
                        f"target p99 < {PAGE_TARGET_S * 1000:.0f} ms: {met}"))
    return rows


def stores(db: Database, practices: Practices, account: Account, count: int,
           with_attempt: bool) -> Row:
    """(a): store_practice against a bare INSERT of the same row, interleaved."""
    def practice(k: int) -> PracticeRecord:
        found = practices.record(k)
        return found if with_attempt else replace(found, attempt=None)

    for k in range(WARM_UP):
        store_practice(db, account, practice(k), MAX_ATTEMPT_BYTES)
    row = stored_row(db, store_practice(db, account, practice(0), MAX_ATTEMPT_BYTES).id)
    table = Practice.__table__

    def bare_insert() -> None:
        with db.engine.begin() as connection:
            connection.execute(insert(table), row)

    kept, bare = [], []
    for k in range(count):
        bare.append(timed(bare_insert))
        kept.append(timed(partial(store_practice, db, account, practice(k), MAX_ATTEMPT_BYTES)))
    p50, p99 = percentiles(kept)
    what = (f"store_practice, {row['attempt_bytes'] / 1024:.0f} KiB attempt" if with_attempt
            else "store_practice, no attempt")
    return Row(f"{what} ({count}x)", p50, p99, "bare Core INSERT", percentiles(bare)[0])


def burst(db: Database, practices: Practices, accounts: list[Account], threads: int,
          single_p50: float) -> Row:
    """(c): ``threads`` practices finishing at once, ``BURSTS`` times."""
    latencies: list[float] = []
    failures: list[str] = []
    before = _count(db)
    for _ in range(BURSTS):
        at_once(db, practices, accounts, threads, latencies, failures)
    stored = _count(db) - before
    p50, p99 = percentiles(latencies or [float("nan")])
    met = "met" if stored == threads * BURSTS and not failures else "MISSED"
    note = f"stored {stored}/{threads * BURSTS}, {len(failures)} failed: {met}"
    if failures:
        note += f" ({failures[0][:120]})"
    return Row(f"{threads} at once (x{BURSTS})", p50, p99, "(a) store_practice", single_p50,
               note)


def at_once(db: Database, practices: Practices, accounts: list[Account], threads: int,
            latencies: list[float], failures: list[str]) -> None:
    """``threads`` threads released together, each keeping one practice; the seconds from
    release to stored go to ``latencies``, exceptions to ``failures``."""
    start = threading.Barrier(threads + 1)
    lock = threading.Lock()
    released = [0.0]

    def finish(k: int) -> None:
        start.wait()
        try:
            store_practice(db, accounts[k % len(accounts)], practices.record(k),
                           MAX_ATTEMPT_BYTES)
        except Exception as exc:
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            latencies.append(time.perf_counter() - released[0])

    workers = [threading.Thread(target=finish, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    released[0] = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()


def _count(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Practice)).scalar_one())


def run(url: str, practices: Practices, args: argparse.Namespace) -> list[Row]:
    db = open_database(url)
    try:
        rng = random.Random(0)
        start = time.perf_counter()
        accounts = seed(db, practices, args.learners, args.practices, rng)
        seeded = time.perf_counter() - start
        print(f"  seeded {args.learners} x {args.practices} practices in {seeded:.1f} s",
              flush=True)
        rows = pages(db, accounts[len(accounts) // 2], args.repeat)
        store_row = stores(db, practices, accounts[0], args.stores, with_attempt=True)
        bare_row = stores(db, practices, accounts[1], args.stores, with_attempt=False)
        return [store_row, bare_row, *rows,
                burst(db, practices, accounts, args.concurrent, store_row.p50)]
    finally:
        db.close()


@contextmanager
def databases(postgres: str | None) -> Iterator[list[tuple[str, str]]]:
    """The databases to measure, made for this run and removed after it."""
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="progress-db-"))
        found = [("SQLite", f"sqlite:///{Path(folder) / 'tutor.db'}")]
        if postgres:
            found.append(("PostgreSQL", stack.enter_context(fresh_database(postgres))))
        yield found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL",
                        default=os.environ.get(POSTGRES_URL_VARIABLE),
                        help=f"a PostgreSQL server to make a database on (default "
                             f"${POSTGRES_URL_VARIABLE})")
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--poses", type=Path, default=None)
    args = parser.parse_args(argv)
    practices = real_practices(args.poses or default_poses_dir())
    if not args.postgres:
        print(f"PostgreSQL left out: give --postgres URL or set ${POSTGRES_URL_VARIABLE}")
    table = []
    with databases(args.postgres) as found:
        for backend, url in found:
            print(f"{backend}:", flush=True)
            table += [(backend, row) for row in run(url, practices, args)]
    print(HEADER)
    for backend, row in table:
        print(row.line(backend))
    return 0 if all("MISSED" not in row.note for _, row in table) else 1


if __name__ == "__main__":
    sys.exit(main())
