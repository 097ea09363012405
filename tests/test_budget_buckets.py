"""The per-person budgets on their own, with a clock the tests move by hand."""

import asyncio
import os
import threading

import pytest

from handlers.auth import HASHING_NICENESS, hashing_executor
from handlers.budget import DEFAULTS, Limits, RateLimited, TokenBuckets, Turns


def spend(buckets, key, cost=1):
    """Spend if there is enough; the wait otherwise, as the budgets' callers do."""
    wait = buckets.wait(key, cost)
    if wait == 0:
        buckets.take(key, cost)
    return wait


def test_a_bucket_gives_its_whole_amount_at_once_then_refuses(clock):
    buckets = TokenBuckets(5, 10, clock=clock)
    assert [spend(buckets, "ann") for _ in range(5)] == [0] * 5
    assert spend(buckets, "ann") == pytest.approx(2.0)
    assert spend(buckets, "bob") == 0


def test_a_bucket_refills_at_its_rate_and_no_further_than_its_amount(clock):
    buckets = TokenBuckets(5, 10, clock=clock)
    for _ in range(5):
        spend(buckets, "ann")
    clock.advance(2.0)
    assert spend(buckets, "ann") == 0
    assert spend(buckets, "ann") > 0
    clock.advance(3600)
    assert [spend(buckets, "ann") for _ in range(6)] == [0] * 5 + [pytest.approx(2.0)]


def test_waiting_exactly_the_time_given_is_always_enough(clock):
    buckets = TokenBuckets(30, 15, clock=clock)
    for _ in range(30):
        spend(buckets, "ann")
    for _ in range(100):
        wait = spend(buckets, "ann")
        assert wait > 0
        clock.advance(wait)
        assert spend(buckets, "ann") == 0


def test_a_cost_above_the_whole_amount_waits_for_a_full_bucket_instead_of_never(clock):
    buckets = TokenBuckets(100, 10, clock=clock)
    assert spend(buckets, "ann", 250) == 0
    assert spend(buckets, "ann", 250) == pytest.approx(10.0)


def test_a_refusal_spends_nothing(clock):
    buckets = TokenBuckets(10, 10, clock=clock)
    spend(buckets, "ann", 8)
    assert spend(buckets, "ann", 5) > 0
    assert spend(buckets, "ann", 2) == 0


def test_full_buckets_are_forgotten_and_memory_stays_under_the_cap(clock):
    buckets = TokenBuckets(3, 60, max_keys=50, clock=clock)
    for n in range(5_000):
        spend(buckets, f"address {n}")
    assert len(buckets) == 50
    clock.advance(60)
    spend(buckets, "ann")
    assert len(buckets) == 1


def test_the_busiest_key_is_the_last_one_forgotten(clock):
    buckets = TokenBuckets(3, 60, max_keys=50, clock=clock)
    for n in range(5_000):
        spend(buckets, "flooder")
        spend(buckets, f"someone {n}")
    assert spend(buckets, "flooder") > 0


def test_a_charge_of_several_budgets_spends_all_or_none(clock):
    limits = Limits("send=3/3s,send-bytes=100/10s", clock=clock)
    limits.charge_all([("send", 1, 1), ("send-bytes", 1, 90)])
    with pytest.raises(RateLimited) as refused:
        limits.charge_all([("send", 1, 1), ("send-bytes", 1, 20)])
    assert refused.value.name == "send-bytes"
    assert refused.value.retry_after == pytest.approx(1.0)
    # The refused charge took nothing from "send": two more messages fit.
    limits.charge_all([("send", 1, 1), ("send-bytes", 1, 5)])
    limits.charge_all([("send", 1, 1), ("send-bytes", 1, 5)])
    with pytest.raises(RateLimited) as refused:
        limits.charge("send", 1)
    assert refused.value.name == "send"


def test_a_refusal_says_what_and_when_in_words_and_in_seconds(clock):
    limits = Limits("signup=1/10m", clock=clock)
    limits.charge("signup", "10.0.0.7")
    with pytest.raises(RateLimited) as refused:
        limits.charge("signup", "10.0.0.7")
    assert refused.value.retry_after == 600
    assert refused.value.whole_seconds == 600
    assert refused.value.detail == (
        "Too many sign-ups from this address. Try again in 600 seconds."
    )
    clock.advance(599.95)
    with pytest.raises(RateLimited) as refused:
        limits.charge("signup", "10.0.0.7")
    assert (refused.value.retry_after, refused.value.whole_seconds) == (0.1, 1)
    assert refused.value.detail.endswith("Try again in 1 second.")


def test_a_spec_changes_only_the_budgets_it_names():
    parsed = Limits.parse("send=60/30s, send-bytes=128k/2m, typing=off, signup=100/1h")
    assert parsed["send"] == (60, 30)
    assert parsed["send-bytes"] == (128_000, 120)
    assert parsed["signup"] == (100, 3600)
    assert "typing" not in parsed
    assert parsed["replay"] == DEFAULTS["replay"]
    assert Limits.parse("") == DEFAULTS
    assert Limits.parse("off") == {}


def test_the_defaults_written_out_read_back_as_the_defaults():
    written = ",".join(f"{k}={v}" for k, v in Limits().describe().items())
    assert Limits.parse(written) == DEFAULTS
    assert Limits("typing=off").describe()["typing"] == "off"


@pytest.mark.parametrize(
    "spec",
    [
        "sends=30/15s",
        "send",
        "send=",
        "send=30",
        "send=30/15x",
        "send=-1/15s",
        "send=0/15s",
        "send=30/0s",
        "send=lots/15s",
        "off,send=1/1s",
    ],
)
def test_a_spec_it_cannot_read_is_refused_with_a_reason(spec):
    with pytest.raises(ValueError) as refused:
        Limits(spec)
    assert str(refused.value)


def test_switched_off_budgets_never_refuse(clock):
    limits = Limits("off", clock=clock)
    for _ in range(10_000):
        limits.charge("send", 1)
        limits.charge("signup", "10.0.0.7")
    assert len(limits) == 0


async def enter_later(turns, key, log, name):
    await turns.enter(key)
    log.append(name)


@pytest.mark.gen_test
async def test_one_keys_requests_take_turns_in_order_and_others_do_not_wait():
    turns = Turns(at_once=1)
    log = []
    await turns.enter("ann")
    waiting = [asyncio.ensure_future(enter_later(turns, "ann", log, n)) for n in (1, 2)]
    await enter_later(turns, "bob", log, "bob")
    await asyncio.sleep(0)
    assert log == ["bob"]
    turns.leave("ann")
    await asyncio.sleep(0)
    assert log == ["bob", 1]
    turns.leave("ann")
    await asyncio.sleep(0)
    assert log == ["bob", 1, 2]
    await asyncio.gather(*waiting)
    turns.leave("ann")
    turns.leave("bob")
    assert len(turns) == 0


@pytest.mark.gen_test
async def test_a_request_that_gives_up_waiting_does_not_keep_a_turn():
    turns = Turns(at_once=1)
    log = []
    await turns.enter("ann")
    gone = asyncio.ensure_future(enter_later(turns, "ann", log, "gone"))
    after = asyncio.ensure_future(enter_later(turns, "ann", log, "after"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    turns.leave("ann")
    await after
    assert log == ["after"]
    turns.leave("ann")
    assert len(turns) == 0


def test_with_every_budget_off_nobody_waits_for_a_turn():
    assert Limits("off").turns is None
    assert Limits("send=off").turns.at_once == 1


def test_password_hashing_threads_run_at_a_lower_priority_than_the_event_loop():
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def priority():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    executor = hashing_executor()
    try:
        there = executor.submit(priority).result(timeout=10)
    finally:
        executor.shutdown()
    assert there == min(19, here + HASHING_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here
