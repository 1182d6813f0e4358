"""The event bus: numbered events, a replay ring, and per-subscriber queues.

Every event gets a sequence number one higher than the last (``seq``).  Clients
resume a stream by passing the last ``seq`` they saw; the bus replays what it still
holds and then continues live, with neither a gap nor a duplicate between the two.

Two synthetic event types are never stored and never consume a sequence number:

``events.gap``
    The first item of a subscription when events the client asked for are gone
    (older than the ring, or the client's ``since`` is from before a restart).  The
    client should refetch state.  Its ``seq`` is the position the stream continues
    from, so resuming with it as ``Last-Event-ID`` is correct.
``events.overflow``
    The last item of a subscription that fell too far behind; the bus never blocks
    a publisher for a slow reader.  Its ``seq`` is the last event delivered, so the
    client can reconnect with it and get the rest from the ring.

All methods must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import Self

__all__ = [
    "SENSITIVE_TTL_S",
    "Event",
    "EventFilter",
    "EventBus",
    "Subscription",
    "SystemEvent",
]

# Enough for a burst of 10,000 scans plus what else happened meanwhile; events share
# their data with every queue, so a long queue costs pointers, not copies.
DEFAULT_HISTORY = 20_000
DEFAULT_QUEUE_SIZE = 20_000
#: How long personal data (ID documents, contacts) may stay in the replay ring.
SENSITIVE_TTL_S = 60.0


class SystemEvent(StrEnum):
    """Event types the bus itself emits."""

    GAP = "events.gap"
    OVERFLOW = "events.overflow"


EventFilter = Callable[["Event"], bool]
"""Which events a subscriber wants (system events always pass)."""

_SYSTEM = frozenset(SystemEvent)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One published event; ``to_json()`` is its wire form on SSE and WebSocket."""

    seq: int
    type: str
    device_id: str | None
    time: datetime
    data: dict[str, object] = field(default_factory=dict)
    sensitive: bool = False
    """Carries personal data: kept in the replay ring for SENSITIVE_TTL_S only."""

    def to_json(self) -> dict[str, object]:
        """Return ``{"seq", "type", "device_id", "time", "data"}`` (time in ISO 8601 UTC)."""
        stamp = self.time.astimezone(UTC).isoformat(timespec="milliseconds")
        return {
            "seq": self.seq,
            "type": str(self.type),
            "device_id": self.device_id,
            "time": stamp.replace("+00:00", "Z"),
            "data": self.data,
        }


class Subscription:
    """An async iterator of events for one client; use it as a context manager.

    Replayed events come first, then live ones.  Iteration ends after an
    ``events.overflow`` event or when :meth:`close` is called.
    """

    def __init__(
        self,
        bus: EventBus,
        replay: list[Event],
        max_queue: int,
        accept: EventFilter | None = None,
    ) -> None:
        self._bus = bus
        self._accept = accept
        self._replay: deque[Event] = deque(
            replay if accept is None else [e for e in replay if e.type in _SYSTEM or accept(e)]
        )
        self._queue: deque[Event] = deque()
        self._max_queue = max_queue
        self._last_delivered = replay[-1].seq if replay else bus.last_seq
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the subscription stopped receiving live events."""
        return self._closed

    def _push(self, event: Event) -> None:
        if self._closed or (self._accept is not None and not self._accept(event)):
            return
        if len(self._queue) >= self._max_queue:
            # Keep what is queued (the client still gets it), then say where the
            # stream broke off so it can resume from the ring.
            last = self._queue[-1].seq
            self._queue.append(
                Event(
                    seq=last,
                    type=SystemEvent.OVERFLOW,
                    device_id=None,
                    time=_now(),
                    data={"last_delivered": last, "dropped_from": event.seq},
                )
            )
            self._detach()
        else:
            self._queue.append(event)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _detach(self) -> None:
        self._closed = True
        self._bus._unsubscribe(self)

    def close(self) -> None:
        """Stop receiving events; a pending ``__anext__`` ends the iteration."""
        if not self._closed:
            self._detach()
        self._replay.clear()
        self._queue.clear()
        self._wake()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._replay:
                return self._replay.popleft()
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopAsyncIteration
            # The future only signals "something arrived"; items stay in the deque
            # until taken, so a cancelled wait (timeouts, disconnects) loses nothing.
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """In-process publish/subscribe with sequence numbers and a replay ring.

    ``history`` is how many recent events are kept for resuming clients;
    ``start_seq`` is the last sequence number already used (the first event
    published gets ``start_seq + 1``), so a restarted daemon can continue numbering;
    ``queue_size`` bounds how far one live subscriber may fall behind.
    """

    def __init__(
        self,
        history: int = DEFAULT_HISTORY,
        *,
        start_seq: int = 0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        if history < 1 or queue_size < 1:
            raise ValueError("history and queue_size must be at least 1")
        if start_seq < 0:
            raise ValueError("start_seq must not be negative")
        self._ring: deque[Event] = deque(maxlen=history)
        self._sensitive: deque[tuple[float, Event]] = deque()
        self.sensitive_ttl_s = SENSITIVE_TTL_S
        self._seq = start_seq
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()

    @property
    def last_seq(self) -> int:
        """Sequence number of the most recent event (``start_seq`` before any)."""
        return self._seq

    @property
    def subscriber_count(self) -> int:
        """Number of live subscriptions (useful for health output and tests)."""
        return len(self._subscribers)

    def publish(
        self,
        type: str,
        device_id: str | None = None,
        data: Mapping[str, object] | None = None,
        *,
        sensitive: bool = False,
    ) -> Event:
        """Record an event and hand it to every subscriber; never blocks.

        A ``sensitive`` event (personal data) leaves the replay ring after
        SENSITIVE_TTL_S; live subscribers get it like any other."""
        if not type or any(ch.isspace() for ch in type):
            # The type becomes an SSE "event:" line; whitespace would break framing.
            raise ValueError(f"event type must be a non-empty word, got {type!r}")
        self._seq += 1
        event = Event(
            seq=self._seq,
            type=type,
            device_id=device_id,
            time=_now(),
            data=dict(data or {}),
            sensitive=sensitive,
        )
        self._ring.append(event)
        if sensitive:
            self._sensitive.append((time.monotonic() + self.sensitive_ttl_s, event))
        if self._sensitive and self._sensitive[0][0] <= time.monotonic():
            self.forget_expired()
        # Copy: a subscriber may detach (overflow) while we iterate.
        for subscription in list(self._subscribers):
            subscription._push(event)
        return event

    def forget_expired(self) -> int:
        """Drop sensitive events older than their time to live from the replay ring;
        returns how many. Called on publish and by the daemon's maintenance."""
        now = time.monotonic()
        expired: set[int] = set()
        while self._sensitive and self._sensitive[0][0] <= now:
            expired.add(self._sensitive.popleft()[1].seq)
        if expired:
            kept = [event for event in self._ring if event.seq not in expired]
            self._ring.clear()
            self._ring.extend(kept)
        return len(expired)

    def subscribe(
        self, since: int | None = None, accept: EventFilter | None = None
    ) -> Subscription:
        """Subscribe to events with ``seq > since`` (``None``: live events only), only
        those ``accept`` takes when given (system events always come).

        Replay and registration happen without an ``await`` in between, so no event
        can fall between the replayed part and the live part.
        """
        self.forget_expired()
        replay: list[Event] = []
        if since is not None:
            oldest = self._ring[0].seq if self._ring else self._seq + 1
            if since > self._seq or since < oldest - 1:
                # Either events were dropped from the ring, or the client's number
                # is from another life of the daemon: both mean "refetch state".
                position = oldest - 1
                replay.append(
                    Event(
                        seq=position,
                        type=SystemEvent.GAP,
                        device_id=None,
                        time=_now(),
                        data={"oldest_available": oldest, "since": since},
                    )
                )
                since = position
            replay.extend(event for event in self._ring if event.seq > since)
        subscription = Subscription(self, replay, self._queue_size, accept)
        self._subscribers.add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
