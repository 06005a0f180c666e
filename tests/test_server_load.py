"""Tests for ui.server_load: the server's load and the live views' redraw interval that follows it."""
from __future__ import annotations

import time

import pytest

from ui import server_load
from ui.server_load import LEVELS, load, redraw_seconds


@pytest.fixture(autouse=True)
def fresh():
    server_load.reset()
    yield
    server_load.reset()


def test_load_is_cpu_seconds_per_second_over_the_window():
    assert load(100.0, 50.0) is None                      # one sample: nothing to tell yet
    assert load(100.5, 50.2) is None                      # half a second: too short to tell
    assert load(101.0, 50.5) == pytest.approx(0.5)        # half a core over one second
    assert load(102.0, 51.5) == pytest.approx(0.75)       # (51.5 - 50) / (102 - 100)
    # samples older than the window drop out: the last three seconds only
    assert load(110.0, 51.5 + 3 * 0.9) is not None
    assert load(113.0, 51.5 + 3 * 0.9 + 3 * 0.2) == pytest.approx(0.2)


def test_a_long_silence_tells_nothing():
    load(100.0, 50.0)
    assert load(200.0, 51.0) is None                      # 100 s without a page asking: stale
    assert load(201.5, 51.3) == pytest.approx(0.2)        # from the sample at 200 s on


def test_load_measures_this_process():
    load()
    start = time.monotonic()
    while time.monotonic() - start < 1.2:                 # keep one core busy
        pass
    assert load() > 0.5


def test_the_interval_slows_down_with_the_load_and_comes_back_with_a_margin():
    # the margins: what a slower level leaves (the views' load / 2.5, then / 2) stays above the way back
    assert all(back < up / cut for back, up, cut in zip(server_load.FASTER_BELOW, server_load.SLOWER_ABOVE, (2.5, 2)))
    assert redraw_seconds(None, None) == LEVELS[0]        # unknown load: five times a second
    assert redraw_seconds(None, 0.5) == LEVELS[0]         # one learner training alone
    assert redraw_seconds(LEVELS[0], 0.8) == LEVELS[1]
    assert redraw_seconds(LEVELS[0], 0.95) == LEVELS[2]   # saturated: straight to once a second
    # near a threshold it stays where it is (no switching back and forth)
    assert redraw_seconds(LEVELS[1], 0.3) == LEVELS[1]
    assert redraw_seconds(LEVELS[1], 0.2) == LEVELS[0]
    assert redraw_seconds(LEVELS[2], 0.5) == LEVELS[2]
    assert redraw_seconds(LEVELS[2], 0.3) == LEVELS[1]
    assert redraw_seconds(LEVELS[2], 0.1) == LEVELS[0]
    assert redraw_seconds(LEVELS[2], None) == LEVELS[2]   # no news: no change
    assert redraw_seconds(7.0, 0.1) == LEVELS[0]          # an interval it does not know: from the start
