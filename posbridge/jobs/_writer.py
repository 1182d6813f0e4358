"""Group commit: one thread owns the write connection and commits many operations at once.

Callers on the event loop hand in a function of the connection and await a future.
The thread takes everything that is waiting, runs it all in one ``BEGIN IMMEDIATE``
transaction (each operation inside its own SAVEPOINT, so one failing operation rolls
back only itself), commits once, and only then settles the callers' futures. While
the thread waits for the disk, new operations pile up and ride the next commit: the
cost of an fsync is shared by everybody who arrived during the previous one.

An operation may say it needs no fsync (``durable=False``): a batch made only of such
operations commits with ``synchronous=NORMAL``, which in WAL mode survives a crash of the
process (the frames are in the OS's hands) but may be lost in a power cut, together with
nothing that came after it. Any durable operation in the batch makes it ``FULL``.

Such an operation may also run at once on the caller's thread (``run_here``) when nobody
is writing at that instant: a short transaction on a second connection, committed
without an fsync, instead of two thread hops that cost more than the work. A lock keeps
the two connections from ever writing at the same time, so SQLite never makes either
wait; the caller never waits for it either (it goes the usual way when it is taken).
One wait for the disk remains: the first commit after the log was checkpointed rewrites
the log's header, and SQLite syncs that (about once every few hundred commits).

Reads use a second connection on a single reader thread; under WAL they never wait
for the writer and only ever see committed rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from posbridge.jobs.errors import JobStoreError, StoreClosed
from posbridge.jobs.models import StoreStats

__all__ = ["ConnectionFactory", "GroupCommitWriter", "Reader"]

T = TypeVar("T")

log = logging.getLogger(__name__)

ConnectionFactory = Callable[[], sqlite3.Connection]

# Large enough to take all of a burst, small enough to keep one transaction short.
MAX_BATCH = 512


@dataclass(slots=True)
class _Op(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    durable: bool = True
    result: T | None = None
    error: BaseException | None = None


@dataclass(slots=True)
class _Counters:
    commits: int = 0
    ops: int = 0
    failed_ops: int = 0
    failed_commits: int = 0
    max_batch: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_STOP = object()


def _translate(exc: BaseException) -> BaseException:
    """Our own errors and the caller's pass through; sqlite's become JobStoreError."""
    if isinstance(exc, sqlite3.Error):
        err = JobStoreError(f"job database error: {exc}")
        err.__cause__ = exc
        return err
    return exc


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting; the work is committed regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class GroupCommitWriter:
    """The single writer thread. ``await writer.run(fn)`` returns after ``fn``'s COMMIT.

    ``fn`` runs on the writer thread with the connection, inside the batch's
    transaction; it must not commit or roll back. If ``fn`` raises, only its own
    changes are undone and the exception reaches its caller. If the COMMIT itself
    fails, every operation of that batch gets the error and nothing of it is kept.
    Cancelling the awaiting task does not undo an operation that is already queued.
    """

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        name: str = "posbridge-jobs-writer",
        after_first_batch: Callable[[sqlite3.Connection], None] | None = None,
        connect_here: ConnectionFactory | None = None,
    ) -> None:
        """``after_first_batch`` runs once on the thread, outside any transaction, right
        after the first batch (the store's opening) has committed: upkeep that need not
        delay the opening. Its errors are logged, not raised: the store works without.
        ``connect_here`` opens the connection for ``run_here`` (without it, ``run_here``
        never runs anything)."""
        self._connect = connect
        self._after_first_batch = after_first_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._accepting = True
        self._fatal: BaseException | None = None
        self._counters = _Counters()
        self._sync_full = True  # the writer thread's alone
        self._connect_here = connect_here
        self._here: sqlite3.Connection | None = None
        # Held by whoever writes: the thread for each batch, run_here for its transaction.
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread; it opens its connection itself."""
        self._thread.start()

    @property
    def stats(self) -> StoreStats:
        """A snapshot of the commit counters."""
        c = self._counters
        with c.lock:
            return StoreStats(
                commits=c.commits,
                ops=c.ops,
                failed_ops=c.failed_ops,
                failed_commits=c.failed_commits,
                max_batch=c.max_batch,
            )

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Queue ``fn`` for the next batch and wait until its transaction committed:
        on disk, or with ``durable=False`` at least safe from a crash of this process."""
        loop = asyncio.get_running_loop()
        op: _Op[T] = _Op(fn=fn, loop=loop, future=loop.create_future(), durable=durable)
        # The lock pairs with the thread's shutdown: anything put while accepting is
        # seen by the thread's final drain, so no caller waits forever.
        with self._lock:
            if not self._accepting:
                if self._fatal is not None:
                    raise self._fatal
                raise StoreClosed("the job store is closed")
            self._queue.put(op)
        return await op.future

    def run_here(self, fn: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run ``fn`` at once on the calling thread, in a transaction of its own committed
        without an fsync (only for operations that may skip it), if nothing is being
        written or waiting to be; None if not, and then nothing was done (use ``run``).
        ``fn``'s exceptions reach the caller after its transaction is rolled back."""
        if self._connect_here is None or not self._accepting or not self._queue.empty():
            return None
        if not self._writing.acquire(blocking=False):
            return None
        try:
            if self._here is None:
                self._here = self._connect_here()
            conn = self._here
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return None  # another process holds the database: go the usual way
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                translated = _translate(exc)
                if translated is exc:
                    raise
                raise translated from exc
        finally:
            self._writing.release()
        c = self._counters
        with c.lock:
            c.ops += 1
            c.commits += 1
        return result

    def close(self) -> None:
        """Stop accepting; the thread finishes what is queued, then exits."""
        with self._lock:
            if self._accepting:
                self._accepting = False
                self._queue.put(_STOP)

    async def wait_closed(self) -> None:
        """Wait for the thread to finish its last batch and close its connections."""
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        with self._writing:
            here, self._here = self._here, None
        if here is not None:
            here.close()

    # --- writer thread -------------------------------------------------------------

    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must hear of it
            self._shutdown(_translate(exc))
            return
        try:
            self._loop(conn)
        except BaseException as exc:  # noqa: BLE001 - a dead writer must fail its callers
            self._shutdown(_translate(exc))
        finally:
            conn.close()

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            batch: list[_Op[Any]] = []
            stop = False
            item = self._queue.get()
            while True:
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, _Op)
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                with self._writing:
                    error = self._commit_batch(conn, batch)
                # Answered once the lock is free: an answer may lead to run_here at once.
                self._settle_batch(batch, error)
                if self._after_first_batch is not None:
                    with self._writing:
                        self._upkeep(conn, self._after_first_batch)
                    self._after_first_batch = None
            if stop:
                self._shutdown(StoreClosed("the job store is closed"))
                return

    def _commit_batch(
        self, conn: sqlite3.Connection, batch: list[_Op[Any]]
    ) -> BaseException | None:
        """Run and commit the batch; the error that failed the whole batch, if any."""
        batch_error: BaseException | None = None
        try:
            self._set_sync(conn, full=any(op.durable for op in batch))
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:
                self._run_alone(conn, batch[0])
            else:
                for op in batch:
                    self._run_one(conn, op)
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            batch_error = _translate(exc)
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        c = self._counters
        with c.lock:
            c.ops += len(batch)
            c.max_batch = max(c.max_batch, len(batch))
            if batch_error is None:
                c.commits += 1
                c.failed_ops += sum(1 for op in batch if op.error is not None)
            else:
                c.failed_commits += 1
                c.failed_ops += len(batch)
        return batch_error

    @staticmethod
    def _settle_batch(batch: list[_Op[Any]], batch_error: BaseException | None) -> None:
        for op in batch:
            error = batch_error if batch_error is not None else op.error
            with contextlib.suppress(RuntimeError):  # the caller's loop is already closed
                op.loop.call_soon_threadsafe(_settle, op.future, op.result, error)

    @staticmethod
    def _upkeep(conn: sqlite3.Connection, task: Callable[[sqlite3.Connection], None]) -> None:
        try:
            task(conn)
        except sqlite3.Error:
            log.warning("job store upkeep failed; carrying on without it", exc_info=True)

    def _set_sync(self, conn: sqlite3.Connection, *, full: bool) -> None:
        # The pragma cannot change inside a transaction, so it is set per batch, and
        # only when it changes (the connection starts FULL: see connect_writer).
        if full != self._sync_full:
            conn.execute("PRAGMA synchronous = FULL" if full else "PRAGMA synchronous = NORMAL")
            self._sync_full = full

    @staticmethod
    def _run_alone(conn: sqlite3.Connection, op: _Op[Any]) -> None:
        """The only operation of its batch: no savepoint needed, its failure undoes the
        whole transaction (two statements fewer, on the path every answer waits for)."""
        try:
            op.result = op.fn(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
            op.error = _translate(exc)
            if conn.in_transaction:  # an I/O error may have ended it already
                conn.execute("ROLLBACK")
            return
        conn.execute("COMMIT")

    @staticmethod
    def _run_one(conn: sqlite3.Connection, op: _Op[Any]) -> None:
        conn.execute("SAVEPOINT op")
        try:
            op.result = op.fn(conn)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
            op.error = _translate(exc)
            # Some sqlite errors (disk full, I/O) abort the whole transaction; then the
            # savepoint is gone and the batch must fail as one (raised to _commit_batch).
            conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")

    def _shutdown(self, error: BaseException) -> None:
        with self._lock:
            self._accepting = False
            # Callers that arrive after this learn why, not just that the store is closed
            # (a database that cannot be opened must say so at start).
            if not isinstance(error, StoreClosed):
                self._fatal = error
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Op):
                with contextlib.suppress(RuntimeError):
                    item.loop.call_soon_threadsafe(_settle, item.future, None, error)


class Reader:
    """A read-only connection used from one dedicated thread."""

    def __init__(self, connect: ConnectionFactory, *, name: str = "posbridge-jobs-read") -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        try:
            return fn(self._conn)
        except sqlite3.Error as exc:
            raise JobStoreError(f"job database error: {exc}") from exc

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the read connection on the reader thread."""
        if self._closed:
            raise StoreClosed("the job store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def aclose(self) -> None:
        """Close the connection on its own thread and stop the thread."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_conn)
        await asyncio.to_thread(self._executor.shutdown, wait=True)
