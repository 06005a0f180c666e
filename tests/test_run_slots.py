"""ui/run_slots.py: at most N runs train at once, the others queue in order, turns end while others
wait, and runs whose browser session is gone are closed."""
from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from nn.data import load_dataset
from ui import run_slots
from ui.run_client import LiveRun
from ui.run_protocol import RunData
from ui.run_slots import Slots
from ui.train_settings import defaults_for


class FakeRun:
    """A run without a process: records what the slots ask of it."""

    def __init__(self, name: str, session_id: str | None = None) -> None:
        self.name, self.session_id = name, session_id
        self.training, self.closed, self.turns = False, False, 0

    def begin_turn(self) -> None:
        self.training, self.turns = True, self.turns + 1

    def end_turn(self) -> bool:
        was, self.training = self.training, False
        return was

    def still_training(self) -> bool:
        return self.training

    def close(self) -> None:
        self.closed, self.training = True, False

    @property
    def alive(self) -> bool:
        return not self.closed


@pytest.fixture
def quiet_keeper(monkeypatch):
    """Tests call tick() themselves: no background thread."""
    monkeypatch.setattr(Slots, "_ensure_keeper", lambda self: None)


def test_at_most_limit_runs_train_and_the_rest_queue_in_order(quiet_keeper):
    s = Slots(limit=2, turn_seconds=1000)
    runs = [FakeRun(str(i)) for i in range(5)]
    places = [s.request(r) for r in runs]
    assert places == [0, 0, 1, 2, 3]
    assert [r.training for r in runs] == [True, True, False, False, False]
    assert s.request(runs[3]) == 2                    # asking again keeps the place
    s.release(runs[0])                                # paused: the first in the queue trains
    assert runs[2].training and s.position(runs[3]) == 1 and s.position(runs[4]) == 2
    s.release(runs[3])                                # gave up waiting: the one behind moves up
    assert s.position(runs[4]) == 1 and s.training_count() == 2


def test_a_turn_ends_only_while_somebody_waits(quiet_keeper, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(run_slots.time, "monotonic", lambda: clock[0])
    s = Slots(limit=1, turn_seconds=60)
    a, b = FakeRun("a"), FakeRun("b")
    s.request(a)
    clock[0] = 500.0
    s.tick()
    assert a.training                                 # alone: it keeps training past its turn
    assert s.request(b) == 1
    clock[0] = 530.0                                  # its turn began at 0: over, and b waits
    s.tick()
    assert not a.training and b.training and s.position(a) == 1
    clock[0] = 560.0
    s.tick()
    assert b.training and not a.training              # b's turn (from 530) is not over yet
    clock[0] = 600.0
    s.tick()
    assert a.training and not b.training and a.turns == 2 and s.position(b) == 1


def test_a_run_that_stopped_by_itself_frees_its_place(quiet_keeper):
    s = Slots(limit=1, turn_seconds=1000)
    a, b = FakeRun("a"), FakeRun("b")
    s.request(a)
    s.request(b)
    a.training = False                                # finished its last epoch
    s.tick()
    assert b.training and s.training_count() == 1


def test_runs_of_a_closed_tab_are_closed_after_a_grace_period(quiet_keeper, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(run_slots.time, "monotonic", lambda: clock[0])
    active = {"tab-1": True, "tab-2": True}
    monkeypatch.setattr(run_slots, "_session_active", lambda sid: active.get(sid, True))
    s = Slots(limit=1, turn_seconds=1000, gone_seconds=30)
    a, b = FakeRun("a", "tab-1"), FakeRun("b", "tab-2")
    for r in (a, b):
        s.register(r)
        s.request(r)
    active["tab-1"] = False
    s.tick()
    clock[0] = 29.0
    s.tick()
    assert not a.closed                               # a dropped connection may come back
    clock[0] = 31.0
    s.tick()
    assert a.closed and b.training                    # gone: closed, and its place given on


@pytest.mark.slow
def test_live_runs_wait_for_a_place_and_get_one(monkeypatch):
    """Real training processes with one training place: the second Start queues until the first pauses."""
    monkeypatch.setattr(run_slots, "_slots", Slots(limit=1, turn_seconds=1000))
    monkeypatch.setattr(Slots, "_ensure_keeper", lambda self: None)
    ds = load_dataset("spirals", n=200)
    data = RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds)
    settings = replace(defaults_for("spirals"), epochs=10_000)
    first, second = LiveRun(settings, data), LiveRun(settings, data)
    try:
        first.start()
        second.start()
        assert first.running and not second.running and second.place == 1
        with pytest.raises(Exception, match="training places"):
            second.step_epoch()                     # no sneaking past the queue
        time.sleep(0.3)
        first.pause()
        assert second.place == 0 and second.still_training()
        assert not first.still_training()
    finally:
        first.close()
        second.close()
    assert not first.alive and not second.alive


def test_shared_run_data_travels_as_file_names(tmp_path):
    import pickle

    import numpy as np

    ds = load_dataset("mnist-sample")
    data = RunData.shared(tmp_path, ds.x_train, ds.y_train, ds.x_val, ds.y_val, 10, None, True)
    blob = pickle.dumps(data)
    assert len(blob) < 2_000                           # not 30 MB of pixels
    back = pickle.loads(blob)
    assert isinstance(back.x_train, np.memmap) and not back.x_train.flags.writeable
    np.testing.assert_array_equal(back.x_train, ds.x_train)
    np.testing.assert_array_equal(back.y_val, ds.y_val)
    assert back.augment and back.n_classes == 10
    again = RunData.shared(tmp_path, ds.x_train, ds.y_train, ds.x_val, ds.y_val, 10, None, True)
    assert again.files == data.files                  # written once, named by content
    assert len(list(tmp_path.rglob("*.npy"))) == 4


@pytest.mark.slow
def test_a_run_trains_on_shared_data(tmp_path):
    ds = load_dataset("spirals", n=200)
    data = RunData.shared(tmp_path, ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds)
    run = LiveRun(replace(defaults_for("spirals"), epochs=2), data)
    try:
        status = run.step_epoch()
        assert status["epoch"] == 1 and run.info["n_train"] == len(ds.x_train)
        # and it yields the CPU to the web server (a Draw stroke must not wait behind it)
        assert os.getpriority(os.PRIO_PROCESS, run._process.pid) >= os.getpriority(os.PRIO_PROCESS, 0) + 10
    finally:
        run.close()
