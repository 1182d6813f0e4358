"""EventBus: numbering, replay without gap or duplicate, gap notices, overflow."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from posbridge.events import Event, EventBus, Subscription, SystemEvent


async def _take(subscription: Subscription, count: int) -> list[Event]:
    async with asyncio.timeout(2):
        return [await anext(subscription) for _ in range(count)]


async def _nothing_pending(subscription: Subscription) -> bool:
    try:
        async with asyncio.timeout(0.05):
            await anext(subscription)
    except TimeoutError:
        return True
    return False


def test_sequence_numbers_continue_from_start_seq() -> None:
    bus = EventBus(start_seq=41)
    assert bus.last_seq == 41
    first = bus.publish("device.status", "receipt-1", {"paper": "ok"})
    second = bus.publish("job.state", None)
    assert (first.seq, second.seq) == (42, 43)
    assert bus.last_seq == 43


def test_event_wire_form() -> None:
    bus = EventBus()
    event = bus.publish("job.state", "receipt-1", {"state": "done"})
    wire = event.to_json()
    assert set(wire) == {"seq", "type", "device_id", "time", "data"}
    assert wire["seq"] == 1
    assert wire["type"] == "job.state"
    assert wire["device_id"] == "receipt-1"
    assert wire["data"] == {"state": "done"}
    assert isinstance(wire["time"], str) and wire["time"].endswith("Z")
    assert event.time.tzinfo is UTC


def test_publish_rejects_types_that_would_break_sse_framing() -> None:
    bus = EventBus()
    with pytest.raises(ValueError, match="event type"):
        bus.publish("job\nstate")
    assert bus.last_seq == 0


async def test_live_subscription_gets_only_new_events() -> None:
    bus = EventBus()
    bus.publish("old")
    with bus.subscribe() as subscription:
        bus.publish("new", "d1", {"n": 1})
        (event,) = await _take(subscription, 1)
        assert (event.seq, event.type, event.device_id) == (2, "new", "d1")
        assert await _nothing_pending(subscription)


async def test_replay_then_live_without_gap_or_duplicate() -> None:
    bus = EventBus()
    for n in range(5):
        bus.publish("tick", data={"n": n})
    with bus.subscribe(since=2) as subscription:
        bus.publish("tick", data={"n": 5})
        bus.publish("tick", data={"n": 6})
        events = await _take(subscription, 5)
        assert [e.seq for e in events] == [3, 4, 5, 6, 7]
        assert await _nothing_pending(subscription)


async def test_since_current_seq_replays_nothing_and_no_gap() -> None:
    bus = EventBus()
    bus.publish("a")
    with bus.subscribe(since=1) as subscription:
        assert await _nothing_pending(subscription)
        bus.publish("b")
        (event,) = await _take(subscription, 1)
        assert event.type == "b"


async def test_since_older_than_ring_starts_with_gap_event() -> None:
    bus = EventBus(history=3)
    for _ in range(10):
        bus.publish("tick")
    with bus.subscribe(since=2) as subscription:
        gap, *rest = await _take(subscription, 4)
    assert gap.type == SystemEvent.GAP
    assert SystemEvent.GAP.value == "events.gap"
    assert gap.data["oldest_available"] == 8
    assert gap.seq == 7  # resuming from here continues exactly with the ring
    assert [e.seq for e in rest] == [8, 9, 10]


async def test_since_just_before_ring_has_no_gap() -> None:
    bus = EventBus(history=3)
    for _ in range(10):
        bus.publish("tick")
    with bus.subscribe(since=7) as subscription:
        events = await _take(subscription, 3)
    assert [e.seq for e in events] == [8, 9, 10]


async def test_since_from_before_a_restart_gets_gap_event() -> None:
    # The daemon restarted with numbering continued from 1000; the client saw 5000
    # from somewhere else (or the clock moved back).
    bus = EventBus(start_seq=1000)
    bus.publish("after.restart")
    with bus.subscribe(since=5000) as subscription:
        gap, replayed = await _take(subscription, 2)
    assert gap.type == SystemEvent.GAP
    assert gap.data["oldest_available"] == 1001
    assert replayed.seq == 1001


async def test_since_lost_across_restart_with_empty_ring_gets_gap() -> None:
    bus = EventBus(start_seq=1000)
    with bus.subscribe(since=900) as subscription:
        (gap,) = await _take(subscription, 1)
        assert gap.type == SystemEvent.GAP
        assert gap.seq == 1000
        bus.publish("live")
        (live,) = await _take(subscription, 1)
        assert live.seq == 1001


async def test_slow_subscriber_is_dropped_with_overflow_and_publisher_never_blocks() -> None:
    bus = EventBus(queue_size=3)
    slow = bus.subscribe(since=0)
    fast = bus.subscribe(since=0)
    assert bus.subscriber_count == 2
    fast_seen: list[int] = []
    for _ in range(8):  # publish returns at once although "slow" reads nothing
        bus.publish("tick")
        fast_seen.extend(e.seq for e in await _take(fast, 1))
    assert fast_seen == list(range(1, 9))
    assert bus.subscriber_count == 1  # slow dropped, fast kept
    events = [event async for event in slow]  # iteration ends after the overflow
    assert [e.seq for e in events[:-1]] == [1, 2, 3]
    overflow = events[-1]
    assert overflow.type == SystemEvent.OVERFLOW
    assert overflow.seq == 3
    assert overflow.data["last_delivered"] == 3
    # Resuming from the overflow's seq gets the rest from the ring.
    with bus.subscribe(since=overflow.seq) as again:
        assert [e.seq for e in await _take(again, 5)] == [4, 5, 6, 7, 8]
    fast.close()
    assert bus.subscriber_count == 0


async def test_close_ends_a_waiting_iteration() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    waiter = asyncio.create_task(anext(subscription, None))
    await asyncio.sleep(0.01)
    subscription.close()
    async with asyncio.timeout(1):
        assert await waiter is None
    assert bus.subscriber_count == 0
    bus.publish("after.close")  # no error, nobody to deliver to


async def test_cancelled_wait_loses_no_event() -> None:
    bus = EventBus()
    with bus.subscribe() as subscription:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await anext(subscription)
        bus.publish("after.timeout")
        (event,) = await _take(subscription, 1)
        assert event.type == "after.timeout"


async def test_filters_pick_devices_types_and_lanes() -> None:
    from posbridge.api.events import event_filter

    bus = EventBus()
    accept = event_filter(["s1", "s2"], ["scan"], "till-1")
    with bus.subscribe(None, accept) as sub:
        bus.publish("scan", "s1", {"lane": "till-1", "n": 1})
        bus.publish("scan", "s2", {"lane": "till-2", "n": 2})  # another lane
        bus.publish("scan", "s3", {"lane": "till-1", "n": 3})  # another device
        bus.publish("job.state", "s1", {"n": 4})  # another type
        bus.publish("scan", "s2", {"lane": "till-1", "n": 5})
        got = [(await sub.__anext__()).data["n"] for _ in range(2)]
    assert got == [1, 5]


async def test_sensitive_events_leave_the_replay_ring() -> None:
    bus = EventBus()
    bus.sensitive_ttl_s = 0.05
    bus.publish("scan", "s1", {"licence": "D1234567"}, sensitive=True)
    bus.publish("scan", "s1", {"loyalty": "123"})
    with bus.subscribe(0) as sub:
        assert [e.data for e in sub._replay] == [{"licence": "D1234567"}, {"loyalty": "123"}]
    await asyncio.sleep(0.06)
    assert bus.forget_expired() == 1
    with bus.subscribe(0) as sub:
        # The client is told what it asked for is partly gone, then gets the rest.
        assert [e.type for e in sub._replay] == [SystemEvent.GAP, "scan"]
        assert sub._replay[-1].data == {"loyalty": "123"}
