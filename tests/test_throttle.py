"""The login throttle on its own, with a clock the tests move by hand."""

import pytest

from handlers.auth import LoginThrottle
from handlers.throttle import RecentEvents

GUESSER = "192.168.1.66"
OWNER = "192.168.1.10"


@pytest.fixture
def throttle(clock):
    return LoginThrottle(clock)


def fail(throttle, username, address):
    """One wrong password; the seconds to wait if it was refused instead, else 0."""
    return throttle.attempt(username, address).retry_after


def test_attempts_still_being_checked_count_against_the_limit(throttle):
    pending = [throttle.attempt("alice", GUESSER) for _ in range(LoginThrottle.PER_PAIR)]
    assert all(attempt.retry_after == 0 for attempt in pending)
    assert throttle.attempt("alice", GUESSER).retry_after > 0


def test_a_refusal_says_how_long_until_the_oldest_failure_expires(throttle, clock):
    fail(throttle, "alice", GUESSER)
    clock.advance(100)
    for _ in range(LoginThrottle.PER_PAIR - 1):
        fail(throttle, "alice", GUESSER)
    assert fail(throttle, "alice", GUESSER) == LoginThrottle.PAIR_WINDOW - 100
    clock.advance(0.5)
    assert fail(throttle, "alice", GUESSER) == LoginThrottle.PAIR_WINDOW - 100


def test_failures_expire_after_their_window_and_refusals_are_not_counted(throttle, clock):
    for _ in range(LoginThrottle.PER_PAIR):
        fail(throttle, "alice", GUESSER)
    for _ in range(50):
        clock.advance(1)
        assert fail(throttle, "alice", GUESSER) > 0
    clock.advance(LoginThrottle.PAIR_WINDOW - 50)
    for _ in range(LoginThrottle.PER_PAIR):
        assert fail(throttle, "alice", GUESSER) == 0


def test_a_success_forgets_that_address_failures_at_that_name_only(throttle):
    for _ in range(LoginThrottle.PER_PAIR - 1):
        fail(throttle, "alice", GUESSER)
    for _ in range(LoginThrottle.PER_PAIR - 1):
        fail(throttle, "bob", GUESSER)
    throttle.attempt("ALICE", GUESSER).succeeded()
    for _ in range(LoginThrottle.PER_PAIR):
        assert fail(throttle, "alice", GUESSER) == 0
    assert fail(throttle, "bob", GUESSER) == 0
    assert fail(throttle, "bob", GUESSER) > 0


def test_one_address_guessing_flat_out_never_locks_the_owner_out_elsewhere(throttle, clock):
    admitted = []
    for second in range(0, 2 * 3600, 10):
        clock.now = 1000.0 + second
        if fail(throttle, "admin", GUESSER) == 0:
            admitted.append(second)
        if second % 300 == 150:
            attempt = throttle.attempt("admin", OWNER)
            assert attempt.retry_after == 0, second
            attempt.succeeded()
    for first in admitted:
        in_window = [t for t in admitted if first <= t < first + LoginThrottle.PAIR_WINDOW]
        assert len(in_window) <= LoginThrottle.PER_PAIR


def test_one_address_trying_many_names_is_stopped_at_the_address_limit(throttle):
    for i in range(LoginThrottle.PER_ADDRESS):
        assert fail(throttle, f"name{i}", GUESSER) == 0
    assert fail(throttle, "someone-new", GUESSER) > 0
    assert fail(throttle, "someone-new", OWNER) == 0


def test_guessers_at_many_addresses_trip_the_brake_on_that_name_only(throttle, clock):
    for i in range(LoginThrottle.PER_USERNAME):
        assert fail(throttle, "admin", f"10.0.{i // 250}.{i % 250}") == 0
        clock.advance(1)
    wait = fail(throttle, "admin", OWNER)
    assert LoginThrottle.PAIR_WINDOW < wait <= LoginThrottle.USERNAME_WINDOW
    assert fail(throttle, "bob", OWNER) == 0
    clock.advance(wait)
    assert fail(throttle, "admin", OWNER) == 0


def test_names_alike_up_to_past_the_longest_username_share_a_count(throttle):
    prefix = "x" * LoginThrottle.NAME_CHARS
    for i in range(LoginThrottle.PER_PAIR):
        fail(throttle, prefix + str(i) * 1_000_000, GUESSER)
    assert fail(throttle, prefix + "other", GUESSER) > 0


def test_every_spelling_that_finds_an_account_shares_its_count(throttle):
    # A login finds "alice" by any case or width; a guesser switching spellings must
    # not get five guesses per spelling.
    for name in ("alice", "ALICE", "ａｌｉｃｅ", "Ａlice", "aLICE"):
        assert fail(throttle, name, GUESSER) == 0, name
    assert fail(throttle, "ａＬＩＣＥ", GUESSER) > 0


def test_inventing_names_and_addresses_cannot_grow_its_memory_past_the_cap(clock):
    class Small(LoginThrottle):
        MAX_KEYS = 50

    throttle = Small(clock)
    for i in range(5_000):
        throttle.attempt(f"name{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle) <= 3 * Small.MAX_KEYS
    clock.advance(LoginThrottle.USERNAME_WINDOW)
    throttle.attempt("alice", OWNER)
    assert len(throttle) == 3


def test_recent_events_forget_stale_keys_when_others_arrive(clock):
    events = RecentEvents(limit=3, window=60, max_keys=100, clock=clock)
    events.add("old", clock())
    clock.advance(60)
    events.add("new", clock())
    assert len(events) == 1
    assert events.count("old") == 0 and events.count("new") == 1


def test_recent_events_take_back_exactly_the_event_discarded(clock):
    events = RecentEvents(limit=2, window=60, max_keys=100, clock=clock)
    first = clock()
    events.add("k", first)
    clock.advance(10)
    events.add("k", clock())
    assert events.wait("k") == 50
    events.discard("k", first)
    assert events.wait("k") == 0
    events.discard("k", first)
    assert events.count("k") == 1
