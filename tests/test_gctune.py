"""Freezing long-lived objects so full collections stay short, and thawing them again."""

import gc
import weakref

import pytest

from appliance.gctune import Freezer


@pytest.fixture
def clean_freeze():
    gc.unfreeze()
    yield
    gc.unfreeze()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_full_collection_freezes_its_survivors(clean_freeze):
    freezer = Freezer(thaw_seconds=60, clock=Clock())
    freezer.after_collection("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert gc.get_freeze_count() > 0


def test_younger_collections_and_start_events_freeze_nothing(clean_freeze):
    freezer = Freezer(thaw_seconds=60, clock=Clock())
    freezer.after_collection("stop", {"generation": 1, "collected": 0, "uncollectable": 0})
    freezer.after_collection("start", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert gc.get_freeze_count() == 0


def test_after_the_thaw_period_everything_is_thawed_for_one_full_collection(clean_freeze):
    clock = Clock()
    freezer = Freezer(thaw_seconds=60, clock=clock)
    done = {"generation": 2, "collected": 0, "uncollectable": 0}
    freezer.after_collection("stop", done)
    assert gc.get_freeze_count() > 0
    clock.now += 61
    freezer.after_collection("stop", done)
    assert gc.get_freeze_count() == 0
    # The collection after the thawed one freezes again, and the next thaw is a
    # whole period away.
    freezer.after_collection("stop", done)
    assert gc.get_freeze_count() > 0
    clock.now += 30
    freezer.after_collection("stop", done)
    assert gc.get_freeze_count() > 0


def test_frozen_cyclic_garbage_is_freed_after_a_thaw(clean_freeze):
    class Node:
        pass

    clock = Clock()
    freezer = Freezer(thaw_seconds=60, clock=clock)
    node = Node()
    node.self = node
    freezer.after_collection("stop", {"generation": 2, "collected": 0, "uncollectable": 0})

    ref = weakref.ref(node)
    del node
    gc.collect()
    assert ref() is not None  # frozen: not walked
    clock.now += 61
    freezer.after_collection("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    gc.collect()
    assert ref() is None
