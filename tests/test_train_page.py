"""The Train page under Streamlit's AppTest, plus its settings <-> URL logic and its run controller.

Training runs in a worker process (ui/train_worker.py); Step trains one epoch synchronously,
so these tests drive the page without timing, except those that Start a run and wait for its end.
"""
from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from nn import metrics
from nn.data import load_dataset
from nn.download import DownloadError
from nn.features import expand
from nn.model import MLP
from nn.neurons import plane
from nn.files import write_json
from nn.settings import DATASET_NAMES
from ui import run_slots, server_load
from ui.network_picture import network_figure
from ui.run_client import SERVER_ID, LiveRun, RunError, RunLost, lost_runs, mark_live, unmark_live
from ui.run_compare import facts, picker_names, worth_keeping
from ui.run_history import RunHistory, labels
from ui.run_protocol import (Inspect, RestoreEdits, RunData, SetNeuronOff, SetParam, Snapshot, StepEpoch, TraceStep,
                             shared_folders)
from ui.run_slots import Slots
from ui.train_settings import architecture, defaults_for, from_query, model_config, to_query
from ui.train_worker import LIVE_VAL_PARTS, NETWORK_GRID, NEURON_GRID, Worker

SPIRALS_DEFAULT = defaults_for("spirals")


# ----- settings and the URL ---------------------------------------------------------------

def test_defaults_differ_by_kind_of_data():
    digits = defaults_for("mnist-sample")
    assert digits.hidden == (128, 64) and digits.activation == "relu" and digits.init == "he"
    assert digits.optimizer == "adam" and digits.lr == 1e-3 and digits.batch_size == 64
    assert SPIRALS_DEFAULT.dataset == "spirals" and SPIRALS_DEFAULT.optimizer == "adam"
    assert defaults_for("blobs").n_classes == 3


def test_query_round_trip_keeps_every_setting():
    s = replace(defaults_for("moons"), n_points=300, noise=0.25, val_share=0.3, hidden=(8, 32, 4),
                activation="relu", init="normal", init_std=0.1, dropout=0.2, batchnorm=True, optimizer="nesterov",
                lr=0.2, momentum=0.8, schedule="step", step_epochs=7, gamma=0.25, batch_size=128, epochs=77,
                l2=1e-4, seed=123)
    query = to_query(s)
    assert query["data"] == "moons" and query["layers"] == "8,32,4" and query["bn"] == "1"
    back, warnings = from_query(query)
    assert back == s and warnings == []


def test_query_leaves_out_defaults():
    assert to_query(SPIRALS_DEFAULT) == {"data": "spirals"}
    assert to_query(replace(SPIRALS_DEFAULT, hidden=())) == {"data": "spirals", "layers": "none"}


@pytest.mark.parametrize("key, text, expect", [
    ("lr", "banana", "lr=banana"), ("lr", "-1", "lr=-1"), ("lr", "nan", "lr=nan"), ("data", "cifar", "data=cifar"),
    ("layers", "16,x", "layers=16,x"), ("layers", "1,2,3,4,5,6,7,8,9", "layers=1,2,3,4,5,6,7,8,9"), ("bn", "maybe", "bn=maybe"),
    ("epochs", "2.5", "epochs=2.5"), ("epochs", "0", "epochs=0"), ("act", "swish", "act=swish"), ("seed", "1e30", "seed=1e30"),
])
def test_bad_query_values_fall_back_with_a_warning(key, text, expect):
    settings, warnings = from_query({"data": "spirals", key: text} if key != "data" else {key: text})
    assert len(warnings) == 1 and expect in warnings[0]
    assert settings == SPIRALS_DEFAULT


def test_values_between_slider_steps_are_kept_exactly():
    settings, warnings = from_query({"lr": "0.07", "batch": "50", "layers": "15,17", "beta2": "0.95"})
    assert settings.lr == 0.07 and settings.batch_size == 50 and settings.hidden == (15, 17)
    assert settings.beta2 == 0.95 and warnings == []


def test_query_checks_classes_and_augment_against_the_dataset():
    settings, warnings = from_query({"data": "blobs", "classes": "5"})
    assert settings.n_classes == 5 and warnings == []
    settings, warnings = from_query({"data": "spirals", "classes": "6", "augment": "1"})
    assert settings.n_classes == 2 and not settings.augment and len(warnings) == 2


def test_unknown_query_keys_are_ignored():
    assert from_query({"embed": "true", "foo": "1"}) == (SPIRALS_DEFAULT, [])


def test_architecture_counts_parameters_like_the_model():
    s = replace(SPIRALS_DEFAULT, hidden=(5, 3), batchnorm=True)
    text, n = architecture(s, 2, 4)
    assert text == "2 → 5 → 3 → 4"
    assert n == MLP(model_config(s, 2, 4)).n_params


# ----- the run in its own process ------------------------------------------------------------

@pytest.fixture
def spirals_data():
    ds = load_dataset("spirals", n=200, noise=0.1, val_fraction=0.2, seed=0)
    return RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds)


def test_live_run_steps_pauses_mid_epoch_and_stops():
    ds = load_dataset("spirals", n=2000, noise=0.1, val_fraction=0.2, seed=0)
    data = RunData(ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds)
    # batch size 1 and a wide network: an epoch is 1,600 slow updates, far longer than a pause takes
    run = LiveRun(replace(SPIRALS_DEFAULT, epochs=1000, batch_size=1, hidden=(256, 256)), data)
    try:
        assert run.step_epoch()["progress"] == 1.0
        run.start()
        assert run.running
        deadline = time.monotonic() + 30
        while run.snapshot()["progress"] == 1.0 and time.monotonic() < deadline:
            time.sleep(0.005)
        status = run.pause()
        assert 1.0 < status["progress"] < 2.0 and not status["running"]      # stopped mid-epoch
        time.sleep(0.3)
        assert run.snapshot()["progress"] == status["progress"]          # nothing ran while paused
        run.set_lr(0.5)
        assert run.snapshot()["lr"] == 0.5
    finally:
        run.close()
    assert not run.alive
    with pytest.raises(RunLost):
        run.snapshot()


def test_live_confusion_follows_the_network_a_quarter_at_a_time(spirals_data):
    """While training, each picture re-evaluates the next quarter of the validation samples (cheap);
    stopped, the confusion matrix is exact for the current weights."""
    worker = Worker(replace(SPIRALS_DEFAULT, epochs=50), spirals_data)
    x, y = spirals_data.x_val, spirals_data.y_val
    n, quarter = len(y), -(-len(y) // LIVE_VAL_PARTS)

    def confusion() -> np.ndarray:
        return worker.handle(Snapshot(frozenset({"confusion"})))["confusion"]

    def exact() -> np.ndarray:
        return metrics.confusion_matrix(y, worker.model.predict_proba(x).argmax(axis=1), spirals_data.n_classes)

    assert np.array_equal(confusion(), exact())
    before = worker.model.predict_proba(x)
    worker._set_running(True)
    worker.trainer.step(max_batches=20)
    confusion()
    now = worker.model.predict_proba(x)
    assert not np.allclose(before, now)
    np.testing.assert_allclose(worker._val_proba_now[:quarter], now[:quarter], rtol=1e-6)   # the first quarter
    np.testing.assert_allclose(worker._val_proba_now[quarter:], before[quarter:], rtol=1e-6)  # the rest: as before
    assert np.array_equal(confusion(), confusion())           # no training in between: nothing recomputed
    for _ in range(LIVE_VAL_PARTS):
        worker.trainer.step(max_batches=5)
        assert confusion().sum() == n
    worker._set_running(False)
    assert np.array_equal(confusion(), exact())              # stopped: exact again


def test_live_run_reports_settings_the_model_rejects(spirals_data):
    with pytest.raises(RunError, match="batch norm"):
        LiveRun(replace(SPIRALS_DEFAULT, batchnorm=True, batch_size=1), spirals_data)


def test_live_run_snapshot_views(spirals_data):
    run = LiveRun(SPIRALS_DEFAULT, spirals_data)
    try:
        run.step_epoch()
        snap = run.snapshot(frozenset({"boundary", "hist", "confusion"}))
        xs, ys, proba = snap["boundary"]
        assert proba.shape == (60, 60, 2)
        assert len(snap["weight_hists"]) == 3 and len(snap["act_hists"]) == 2 and len(snap["health"]) == 2
        assert snap["confusion"].sum() == len(spirals_data.y_val)
        assert len(snap["batch_loss"]) == len(snap["batch_x"]) > 0
    finally:
        run.close()


# ----- the page under AppTest ------------------------------------------------------------------

def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def array(value) -> np.ndarray:
    """A plotly JSON array: a list, or {'dtype', 'bdata' (base64), 'shape'} as plotly 7 writes numpy arrays."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return data.reshape([int(n) for n in str(value.get("shape", len(data))).split(",")])
    return np.asarray(value)


def charts(at) -> list[dict]:
    """Every figure on the page: first the live ones (pages/live_chart.py, in page order), then
    those shown with st.plotly_chart."""
    live = [json.loads(json.loads(c.proto.json)["figure"]) for c in at.get("bidi_component")]
    return live + [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def picture(spec: dict) -> np.ndarray:
    """The pixels of a figure's (first) layout image, decoded from its PNG data URI."""
    uri = spec["layout"]["images"][0]["source"]
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def chart_titles(at) -> list[str]:
    out = []
    for spec in charts(at):
        layout = spec["layout"]
        out.append(layout.get("title", {}).get("text", "") +
                   " ".join(a.get("text", "") for a in layout.get("annotations", [])))
    return out


def test_page_opens_with_defaults_and_a_preview(train_apps):
    at = train_apps()
    assert at.title[0].value == "Train a network"
    assert at.selectbox(key="train_dataset").value == "spirals"
    assert len(at.metric) == 0                                  # nothing trained yet
    assert any("The data" in t for t in chart_titles(at))
    assert "354 parameters" in at.info[0].value
    assert at.button(key="train_pause").disabled and not at.button(key="train_start").disabled
    # every settings widget explains itself
    for kind in ("selectbox", "slider", "select_slider", "number_input", "toggle"):
        for w in getattr(at, kind):
            assert w.help, f"{kind} {w.label!r} has no help text"


def test_step_trains_and_the_views_change(train_apps):
    at = train_apps()
    at.slider(key="train_layers").set_value(3).run()
    at.select_slider(key="train_width_2").set_value(8).run()
    at.selectbox(key="train_activation").set_value("relu").run()
    at.select_slider(key="train_batch_size").set_value(32).run()
    at.button(key="train_step").click().run()
    assert not at.exception
    assert metric(at, "Epoch") == "1"                        # whole epochs without a decimal
    live = charts(at)[0]                   # loss | accuracy | decision regions, one figure
    loss_1, boundary_1 = metric(at, "Train loss (recent)"), picture(live)
    titles = chart_titles(at)
    assert "Loss" in titles[0] and "Accuracy" in titles[0] and "Decision regions" in titles[0]
    # a small 2-D network opens on the network itself: inputs, three hidden layers, output
    assert all(f"Hidden {k}" in titles[1] for k in (1, 2, 3)) and "Inputs" in titles[1] and "Output" in titles[1]
    at.session_state["train_view"] = "Weights & activations"
    at.run()
    titles = chart_titles(at)
    assert "Weights" in titles[1] and "Outputs" in titles[1]
    # the curves hold one point per epoch; the regions picture has both classes' colours in it
    assert len(live["data"][1]["x"]) == 1 and len(live["data"][4]["x"]) == 1
    colours = {tuple(c) for c in boundary_1.reshape(-1, 3)[::97]}
    assert len(colours) > 20
    assert "2 -> 16" in at.session_state["train_run"].info["architecture"].replace("Dense(", "")
    assert at.session_state["train_run"].info["architecture"].count("Dense") == 4
    for _ in range(3):
        at.button(key="train_step").click().run()
    assert metric(at, "Epoch") == "4"
    assert float(metric(at, "Train loss (recent)")) < float(loss_1)
    assert len(charts(at)[0]["data"][1]["x"]) == 4
    assert np.abs(picture(charts(at)[0]).astype(int) - boundary_1).mean() > 1     # the regions moved
    assert at.query_params["layers"] == "16,16,8" and at.query_params["act"] == "relu"


def test_start_then_pause_stops_training(train_apps):
    at = train_apps({"epochs": "5000"})
    at.button(key="train_start").click().run()
    run = at.session_state["train_run"]
    assert run.running and at.button(key="train_start").disabled and not at.button(key="train_pause").disabled
    time.sleep(0.5)
    assert run.snapshot()["progress"] > 0
    at.button(key="train_pause").click().run()
    assert not run.running
    before = run.snapshot()["progress"]
    time.sleep(0.5)
    assert run.snapshot()["progress"] == before
    assert not at.button(key="train_resume").disabled
    at.button(key="train_resume").click().run()
    time.sleep(0.3)
    assert run.snapshot()["progress"] > before
    at.button(key="train_reset").click().run()
    assert "train_run" not in at.session_state and not run.alive


def test_learning_rate_applies_live_other_settings_wait_for_reset(train_apps):
    at = train_apps()
    at.button(key="train_step").click().run()
    run = at.session_state["train_run"]
    at.select_slider(key="train_lr").set_value(0.1).run()
    assert run.snapshot()["lr"] == 0.1 and metric(at, "Learning rate now") == "0.1"
    assert not any("Settings changed" in w.value for w in at.warning)
    at.select_slider(key="train_width_0").set_value(32).run()
    assert any("Settings changed" in w.value for w in at.warning)
    assert at.session_state["train_run"] is run                   # the run keeps going as it was
    at.button(key="train_reset").click().run()
    at.button(key="train_step").click().run()
    assert "Dense(2 -> 32)" in at.session_state["train_run"].info["architecture"]


def test_bad_link_falls_back_to_defaults_with_warnings(train_apps):
    at = train_apps({"lr": "fast", "layers": "9999", "data": "moons"})
    assert not at.exception
    texts = " ".join(w.value for w in at.warning)
    assert "lr=fast" in texts and "layers=9999" in texts
    assert at.selectbox(key="train_dataset").value == "moons"
    assert at.select_slider(key="train_lr").value == SPIRALS_DEFAULT.lr
    at.button(key="train_step").click().run()
    assert metric(at, "Epoch") == "1"


def test_link_opens_the_same_experiment(train_apps):
    at = train_apps({"data": "blobs", "classes": "4", "layers": "8", "opt": "momentum", "momentum": "0.8", "lr": "0.1"})
    assert at.slider(key="train_n_classes").value == 4
    assert at.slider(key="train_layers").value == 1 and at.select_slider(key="train_width_0").value == 8
    assert at.selectbox(key="train_optimizer").value == "momentum" and at.slider(key="train_momentum").value == 0.8
    assert at.select_slider(key="train_lr").value == 0.1
    assert at.query_params["classes"] == "4" and at.query_params["data"] == "blobs"


def test_divergence_stops_and_says_what_to_try(train_apps):
    """The loss became NaN in the first epoch: the Trainer stops it, the verdict says so in red."""
    at = train_apps({"opt": "sgd", "lr": "10", "act": "relu", "init": "normal", "std": "1", "layers": "64,64,64"})
    at.button(key="train_step").click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Diverged" in errors and "diverged at epoch 1" in errors and "from 10 to 1" in errors and "Reset" in errors
    assert not at.success
    assert at.button(key="train_step").disabled and at.button(key="train_resume").disabled
    assert len(at.session_state["train_history"]) == 1                  # it ended: kept, though not one epoch


def _train_to_the_end(at: AppTest, seconds: float = 60) -> None:
    """Press Start and wait for the run to finish (or diverge), then draw the page again."""
    at.button(key="train_start").click().run()
    run = at.session_state["train_run"]
    deadline = time.monotonic() + seconds
    while run.still_training() and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert not at.exception and run.status["done"]


# each verdict kind, reached by a short real run, shown in its colour: only "learned" is a success
VERDICT_RUNS = {
    "learned": ({"data": "xor", "layers": "8", "epochs": "15", "lr": "0.05"}, "success", "Learned: 9"),
    "stuck": ({"data": "xor", "layers": "8", "opt": "sgd", "lr": "0.0001", "epochs": "10"}, "warning",
              "Stuck near chance"),
    "diverged": ({"data": "spirals", "opt": "sgd", "lr": "10", "epochs": "10"}, "error", "Diverged: the loss exploded"),
    "overfitting": ({"data": "moons", "n": "40", "noise": "0.4", "val": "0.5", "layers": "128,128", "batch": "20",
                     "lr": "0.01", "epochs": "100"}, "warning", "Overfitting"),
    "still_improving": ({"data": "spirals", "lr": "0.001", "epochs": "3"}, "info", "Still improving"),
}


@pytest.mark.parametrize("kind", list(VERDICT_RUNS))
def test_a_finished_run_gets_an_honest_verdict(train_apps, kind):
    query, element, headline = VERDICT_RUNS[kind]
    at = train_apps(query)
    _train_to_the_end(at)
    run = at.session_state["train_run"]
    assert run.status["verdict"]["kind"] == kind
    shown = [e.value for e in getattr(at, element) if headline in e.value]
    assert len(shown) == 1 and run.status["verdict"]["why"] in shown[0] and "Compare runs" in shown[0]
    assert not any("Finished all" in e.value for e in at.success)
    if kind != "learned":
        assert not at.success                       # SGD at lr 10 no longer reads as a success
    kept = at.session_state["train_history"].runs
    assert len(kept) == 1 and kept[0].result.verdict["kind"] == kind


def test_a_paused_run_says_how_it_does_so_far(spirals_data):
    worker = Worker(replace(SPIRALS_DEFAULT, epochs=3), spirals_data)
    assert worker.handle(Snapshot(frozenset({"verdict"})))["verdict"] is None        # no epoch yet
    status = worker.handle(StepEpoch())
    assert status["verdict"] is None                       # not done: not sent unasked ...
    so_far = worker.handle(Snapshot(frozenset({"verdict"})))["verdict"]
    assert so_far["kind"] in ("learned", "still_improving", "stuck") and so_far["why"]   # ... but on request
    worker.handle(StepEpoch())
    assert worker.handle(StepEpoch())["verdict"]["kind"] == worker.verdict()["kind"]     # done: always sent


# ----- every run kept: compare, restore ----------------------------------------------------------

def test_clear_runs_stays_cleared_while_the_finished_run_is_on_screen(train_apps):
    at = train_apps({"data": "xor", "layers": "8", "epochs": "2", "lr": "0.05"})
    for _ in range(2):
        at.button(key="train_step").click().run()
    assert [r.number for r in at.session_state["train_history"]] == [1]       # it ended: kept
    at.button(key="train_clear_runs").click().run()
    at.run()                                                                   # any later rerun
    assert len(at.session_state["train_history"]) == 0 and not at.exception   # not filed a second time


def test_runs_are_kept_compared_and_restored(train_apps):
    at = train_apps({"data": "xor", "layers": "8", "epochs": "3", "lr": "0.05"})
    assert not any(s.value == "Compare runs" for s in at.subheader)          # nothing kept yet
    for _ in range(3):
        at.button(key="train_step").click().run()
    history = at.session_state["train_history"]
    assert [r.number for r in history] == [1]                                  # it ended: kept at once
    assert any(s.value == "Compare runs" for s in at.subheader)
    at.select_slider(key="train_lr").set_value(0.5).run()
    at.button(key="train_reset").click().run()
    assert len(history) == 1                                                   # kept once, not twice
    at.button(key="train_step").click().run()
    at.button(key="train_reset").click().run()                                 # one epoch: kept on Reset
    assert [r.number for r in history] == [1, 2]
    assert not at.exception
    assert at.multiselect(key="train_compare_shown").value == [1, 2]           # the last two
    loss, accuracy = charts(at)[-2:]
    for figure in (loss, accuracy):
        assert {t["name"] for t in figure["data"] if t.get("showlegend")} == {"#1 lr 0.05", "#2 lr 0.5"}
        # training and validation, one point per epoch: 3 for run 1, 1 for run 2
        assert sum(len(array(t["x"])) for t in figure["data"]) == 2 * (3 + 1)
    assert "Loss" in loss["layout"]["title"]["text"] and "Accuracy" in accuracy["layout"]["title"]["text"]
    assert any(m.value == "**lr 0.05 vs lr 0.5**" for m in at.markdown)
    table = next(t.value for t in at.table if "verdict" in t.value.columns)
    assert list(table.index) == ["#1", "#2"] and "what differs" not in table.columns    # said once, below
    assert list(table["Learning rate"]) == ["lr 0.05", "lr 0.5"] and list(table["epochs trained"]) == ["3", "1 of 3"]
    assert table["verdict"]["#1"] == history.get(1).result.verdict["headline"].split(":")[0]
    assert "%" not in table["verdict"]["#1"]                 # no second accuracy beside the table's own
    assert all(v.endswith("%") for v in table["validation accuracy"])

    at.button(key="train_step").click().run()                                  # a third run, live
    at.button(key="train_runs_restore_1").click().run()                        # one click
    assert "train_run" not in at.session_state and len(history) == 3          # closed into the history
    assert at.select_slider(key="train_lr").value == 0.05 and at.query_params["lr"] == "0.05"
    assert at.button(key="train_runs_restore_1").disabled                      # these are the settings now
    assert any("run #1 are back" in i.value for i in at.info)
    at.button(key="train_clear_runs").click().run()
    assert len(history) == 0 and not any(s.value == "Compare runs" for s in at.subheader)


def test_a_rate_changed_while_it_trains_is_kept_as_part_of_the_run(train_apps):
    # the first lessons ask for exactly this: their runs must not be filed under the last rate alone
    at = train_apps({"data": "xor", "layers": "8", "epochs": "3", "lr": "0.05"})
    at.button(key="train_step").click().run()
    at.select_slider(key="train_lr").set_value(0.5).run()                     # while it trains
    at.button(key="train_step").click().run()
    at.button(key="train_reset").click().run()
    run = at.session_state["train_history"].get(1)
    assert run.facts["lr"] == "lr 0.05 → 0.5" and not at.exception
    at.button(key="train_runs_restore_1").click().run()                       # the experiment as it began
    assert at.select_slider(key="train_lr").value == 0.05


def test_only_runs_that_got_somewhere_are_kept():
    assert not worth_keeping({"done": False, "diverged": None, "epoch_x": []})
    assert worth_keeping({"done": False, "diverged": None, "epoch_x": [1]})
    assert worth_keeping({"done": True, "diverged": "diverged at epoch 1, batch 2", "epoch_x": []})
    history = RunHistory(limit=3)
    for k in range(5):
        history.add(k, None, {}, None)
    assert [r.number for r in history] == [3, 4, 5]                             # the newest three


def test_labels_say_in_words_what_differs():
    class Kept:
        def __init__(self, number, **changes):
            self.number, self.facts = number, facts(replace(SPIRALS_DEFAULT, **changes))

    runs = [Kept(1, lr=0.1), Kept(2, lr=0.01)]
    assert labels(runs) == {1: "lr 0.1", 2: "lr 0.01"}
    runs = [Kept(1, optimizer="sgd"), Kept(2), Kept(3, optimizer="momentum", momentum=0.8), Kept(4, hidden=(8,))]
    assert labels(runs) == {1: "2 layers of 16, SGD", 2: "2 layers of 16, Adam", 3: "2 layers of 16, SGD + momentum 0.8",
                            4: "1 layer of 8, Adam"}
    digits, full = facts(defaults_for("mnist-sample")), facts(defaults_for("mnist"))
    assert "noise" not in digits and digits["dataset"] == DATASET_NAMES["mnist-sample"] != full["dataset"]
    # in the picker, two runs that differ in their epochs alone are told apart too
    runs = [Kept(1, epochs=30), Kept(2, epochs=40)]
    assert picker_names(runs) == {1: "#1 Spirals, 2 layers of 16, Adam, lr 0.0002, 30 epochs",
                                  2: "#2 Spirals, 2 layers of 16, Adam, lr 0.0002, 40 epochs"}
    assert picker_names(runs[:1]) == {1: "#1 Spirals, 2 layers of 16, Adam, lr 0.0002"}


def test_switching_data_keeps_the_run_and_starts_afresh(train_apps):
    at = train_apps()
    at.button(key="train_step").click().run()
    at.selectbox(key="train_dataset").set_value("mnist-sample").run()
    assert not at.exception
    assert "train_run" not in at.session_state and len(at.session_state["train_history"]) == 1
    said = [m.value for m in [*at.info, *at.warning, *at.error, *at.success] if "Switched" in m.value
            or "Settings changed" in m.value or "Finished" in m.value]
    assert said == [f"Switched to {DATASET_NAMES['mnist-sample']}: the run on Spirals is kept under **Compare runs**. "
                    "Press Start to train on the new data."]
    assert not any("Decision regions" in t for t in chart_titles(at))         # no stale run on screen
    assert not at.button(key="train_start").disabled and len(at.metric) == 0
    assert at.slider(key="train_layers").value == 2 and at.select_slider(key="train_width_0").value == 128
    at.button(key="train_step").click().run()
    assert any("Confusion matrix" in t for t in chart_titles(at))
    assert not any("Switched" in i.value for i in at.info)                     # said once


# ----- faults: a queue, a dead process, a restart --------------------------------------------------

def _learner_folder(at: AppTest, tmp_path):
    return tmp_path / "weights" / "learners" / at.session_state["_nn_learner"]


def test_a_killed_training_process_is_told_once_and_start_works_again(train_apps, tmp_path):
    at = train_apps({"epochs": "5000"})
    at.button(key="train_step").click().run()
    folder = _learner_folder(at, tmp_path)
    assert len(list(folder.glob(".live-run-*.json"))) == 1                     # a run is live
    at.button(key="train_resume").click().run()
    run = at.session_state["train_run"]
    assert run.running
    os.kill(run.pid, signal.SIGKILL)                                           # mid-run
    run._process.join(5)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "stopped from outside (signal 9)" in errors[0] and "Press Start" in errors[0]
    assert "kept as run #1" in errors[0]
    for key in ("train_pause", "train_resume", "train_save"):
        assert at.button(key=key).disabled, key
    assert not at.button(key="train_start").disabled
    kept = at.session_state["train_history"].get(1)
    assert kept.result.lost and kept.result.epoch[:1] == (1,)                 # what the page last saw
    assert not list(folder.glob(".live-run-*.json"))
    at.button(key="train_step").click().run()                                  # a fresh run trains
    assert metric(at, "Epoch") == "1" and not at.error
    at.button(key="train_reset").click().run()
    assert not list(folder.glob(".live-run-*.json"))


def test_a_run_lost_to_a_server_restart_is_told_once(train_apps, tmp_path):
    token = "A" * 22
    folder = tmp_path / "weights" / "learners" / token
    write_json(folder / ".live-run-old-session.json", {"server": "an-earlier-server", "session": "old-session"})
    at = AppTest.from_file("../app.py", default_timeout=120)
    at.session_state["_nn_learner"] = token                      # the learner's cookie, as after a restart
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    told = [w.value for w in at.warning if "lost" in w.value]
    assert told == ["Your last run was lost when the server restarted (or its process ended). "
                    "Press Start to train again."]
    assert not list(folder.glob(".live-run-*"))
    at.button(key="train_step").click().run()
    assert not any("lost" in w.value for w in at.warning)
    at.session_state["train_run"].close()


def test_markers_tell_a_restart_from_another_tab(tmp_path):
    mark_live(tmp_path, "mine")
    mark_live(tmp_path, "other-tab")
    mark_live(tmp_path, "closed-tab")
    write_json(tmp_path / ".live-run-before.json", {"server": "an-earlier-server", "session": "before"})
    (tmp_path / ".live-run-broken.json").write_text("{not json")
    active = {"other-tab": True, "closed-tab": False}
    assert sorted(lost_runs(tmp_path, "mine", lambda s: active.get(s, False))) == ["closed", "restart", "restart"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".live-run-mine.json", ".live-run-other-tab.json"]
    assert json.loads((tmp_path / ".live-run-mine.json").read_text())["server"] == SERVER_ID
    unmark_live(tmp_path, "mine")
    unmark_live(tmp_path, "mine")                                # twice: no error
    assert [p.name for p in tmp_path.iterdir()] == [".live-run-other-tab.json"]


def test_waiting_for_a_training_place_is_shown(train_apps, monkeypatch, spirals_data):
    monkeypatch.setattr(run_slots, "_slots", Slots(limit=1, turn_seconds=1000))
    monkeypatch.setattr(Slots, "_ensure_keeper", lambda self: None)
    other = LiveRun(replace(SPIRALS_DEFAULT, epochs=5000), spirals_data)
    try:
        other.start()
        at = train_apps({"epochs": "5000"})
        at.button(key="train_start").click().run()
        run = at.session_state["train_run"]
        assert run.place == 1 and not run.running
        told = [i.value for i in at.info if "Waiting for a training place" in i.value]
        assert len(told) == 1 and "no runs ahead of you" in told[0]
        assert not at.button(key="train_pause").disabled                    # leave the queue
        assert at.button(key="train_step").disabled and at.button(key="train_resume").disabled
        other.pause()                                                      # a place is free: its turn
        assert run.place == 0 and run.running
        at.run()
        assert not any("Waiting" in i.value for i in at.info) and not at.button(key="train_pause").disabled
        at.button(key="train_pause").click().run()
        assert not run.running
    finally:
        other.close()


def test_live_views_redraw_less_often_while_the_server_is_busy(train_apps, monkeypatch):
    monkeypatch.setattr(server_load, "load", lambda: 0.1)         # (this process is busy with the tests)
    at = train_apps({"epochs": "5000"})
    at.button(key="train_start").click().run()
    try:
        assert at.session_state["train_redraw_seconds"] == 0.2
        assert not [c for c in at.caption if "server is busy" in c.value]
        monkeypatch.setattr(server_load, "load", lambda: 0.95)        # a class keeps the server busy
        at.run()
        assert at.session_state["train_redraw_seconds"] == 1.0
        told = [c.value for c in at.caption if "server is busy" in c.value]
        assert len(told) == 1 and "every 1 s instead of 0.2 s" in told[0]
        monkeypatch.setattr(server_load, "load", lambda: 0.1)
        at.run()
        assert at.session_state["train_redraw_seconds"] == 0.2
        assert not [c for c in at.caption if "server is busy" in c.value]
    finally:
        at.button(key="train_reset").click().run()


def test_image_data_is_shared_with_the_training_processes(tmp_path):
    ds = load_dataset("spirals", n=100)
    arrays = (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.n_classes, ds.bounds)
    (tmp_path / "a-file").write_text("")
    data = RunData.shared_if_possible([tmp_path / "a-file" / "sub", tmp_path / "ok"], *arrays)
    assert data.files and all(str(tmp_path / "ok") in f for f in data.files.values())     # the first that works
    data = RunData.shared_if_possible([tmp_path / "a-file" / "sub"], *arrays)
    assert data.files is None and np.array_equal(data.x_train, ds.x_train)                 # none: in memory
    assert all(isinstance(f, type(tmp_path)) for f in shared_folders())


def test_gradient_check_shows_small_errors(train_apps):
    at = train_apps({"layers": "8,8", "bn": "1", "dropout": "0.2"})
    at.button(key="train_gradcheck_button").click().run()
    results = at.session_state["train_gradcheck"]
    names = [name for name, _ in results]
    assert "hidden layer 1 · Dense · W" in names and "hidden layer 1 · BatchNorm · gamma" in names
    assert "output layer · Dense · b" in names
    assert max(err for _, err in results) < 1e-4
    assert any("numerical gradient" in t for t in chart_titles(at))
    assert any("agrees" in c.value for c in at.caption)


def test_save_writes_a_model_and_card_and_refuses_the_shipped_name(train_apps, tmp_path):
    at = train_apps({"data": "mnist-sample", "layers": "16", "epochs": "2"})
    at.button(key="train_step").click().run()
    at.text_input(key="train_save_name").input("default").run()
    at.button(key="train_save").click().run()
    assert any("shipped model" in e.value for e in at.error)
    assert not list((tmp_path / "weights").rglob("default.npz"))

    at.text_input(key="train_save_name").input("My digits!").run()
    at.button(key="train_save").click().run()
    saved = list((tmp_path / "weights").rglob("My-digits.npz"))       # in this learner's own folder
    assert len(saved) == 1 and any("Saved as My-digits.npz" in s.value for s in at.success)
    path = saved[0]
    model = MLP.load(path, expect_input_dim=784, expect_output_dim=10)
    assert model.meta["dataset"] == "mnist-sample" and model.meta["settings"]["layers"] == "16"
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["epochs_trained"] == 1.0 and 0 < card["val_accuracy"] <= 1

    at.button(key="train_save").click().run()                      # same name again: refused
    assert any("exists already" in e.value for e in at.error)


def test_digits_show_confusion_mistakes_and_neurons(train_apps):
    at = train_apps()
    at.selectbox(key="train_dataset").set_value("mnist-sample").run()
    assert at.slider(key="train_layers").value == 2 and at.select_slider(key="train_width_0").value == 128
    assert at.select_slider(key="train_lr").value == 1e-3
    at.button(key="train_step").click().run()
    assert float(metric(at, "Validation accuracy").rstrip("%")) > 80
    assert any("Confusion matrix" in t for t in chart_titles(at))
    confusion = next(trace for trace in charts(at)[0]["data"] if trace["type"] == "heatmap")
    counts = array(confusion["text"])
    assert counts.sum() == 2000 and np.trace(counts) > 0.8 * 2000           # mostly on the diagonal
    for view, title in (("Weights & activations", "Outputs"), ("Mistakes", "gets wrong"), ("What neurons look for", "32 of the first layer's 128 hidden units"),
                        ("Gradients", "Gradient size")):
        at.session_state["train_view"] = view
        at.run()
        assert not at.exception and any(title in t for t in chart_titles(at)), view


def test_two_sessions_train_their_own_runs(train_apps):
    a, b = train_apps(), train_apps()
    a.button(key="train_step").click().run()
    a.button(key="train_step").click().run()
    b.button(key="train_step").click().run()
    run_a, run_b = a.session_state["train_run"], b.session_state["train_run"]
    assert run_a is not run_b
    assert run_a.snapshot()["progress"] == 2.0 and run_b.snapshot()["progress"] == 1.0


def test_full_dataset_offline_keeps_the_page_working(train_apps, monkeypatch, tmp_path):
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path / "data"))

    def offline(name, **kwargs):
        raise DownloadError(f"Could not download {name}: this machine seems to be offline.", offline=True)

    monkeypatch.setattr("nn.download.download", offline)
    at = train_apps({"data": "mnist"})
    assert any("not on this machine yet" in i.value for i in at.info)
    at.button(key="train_download").click().run()
    assert any("offline" in e.value for e in at.error)
    at.button(key="train_step").click().run()                          # trains on the bundled sample
    assert metric(at, "Epoch") == "1"
    assert at.session_state["train_run"].info["n_train"] == 8000


# ----- inside the network: features, the network picture, touching it, one step with numbers ----------

def _worker(data: RunData, **changes) -> Worker:
    return Worker(replace(SPIRALS_DEFAULT, **changes), data)


def test_the_worker_feeds_the_chosen_features(spirals_data):
    features = ("x1", "x2", "x1*x2", "sin x1")
    worker = _worker(spirals_data, features=features, hidden=(4,))
    assert worker.model.config.input_dim == 4
    np.testing.assert_array_equal(worker.trainer.x_train, expand(spirals_data.x_train, features))
    snap = worker.handle(Snapshot(frozenset({"boundary", "network"})))
    xs, ys, proba = snap["boundary"]
    points = np.array([[xs[7], ys[3]]])
    np.testing.assert_allclose(proba[3, 7], worker.model.predict_proba(expand(points, features))[0], rtol=1e-5)
    inputs = snap["network"]["inputs"]                  # (F, R, R): each feature over the plane
    r = NETWORK_GRID
    assert inputs.shape == (4, r, r)
    gx, gy = np.meshgrid(*plane(spirals_data.bounds, r)[:2])
    np.testing.assert_allclose(inputs[2], gx * gy, rtol=1e-5, atol=1e-6)


def test_the_network_picture_is_what_each_neuron_outputs(spirals_data):
    worker = _worker(spirals_data, hidden=(5, 3), activation="tanh")
    worker.handle(StepEpoch())
    view = worker.handle(Snapshot(frozenset({"network"})))["network"]
    assert [n.shape[0] for n in view["neurons"]] == [5, 3, 2]
    grid = plane(spirals_data.bounds, NETWORK_GRID)[2]
    d = worker.model.dense_layers
    hidden_1 = np.tanh(grid @ d[0].params["W"] + d[0].params["b"])           # by hand, for the check
    hidden_2 = np.tanh(hidden_1 @ d[1].params["W"] + d[1].params["b"])
    for got, want in ((view["neurons"][0], hidden_1), (view["neurons"][1], hidden_2),
                      (view["neurons"][2], worker.model.predict_proba(grid))):
        np.testing.assert_allclose(got, want.T.reshape(got.shape), rtol=1e-4, atol=1e-5)
    for w, layer in zip(view["weights"], d):
        np.testing.assert_array_equal(w, layer.params["W"])
    # the figure: one picture per column (inputs, 2 hidden layers, output), links under them as paths
    fig = network_figure(view, "tanh", "softmax_ce", ["x₁", "x₂"], ("class 0", "class 1"), (1, 2))
    fig = go.Figure(fig)                               # built unvalidated for speed: valid all the same
    assert len(fig.layout.images) == 4
    links = [s for s in fig.layout.shapes if s.type == "path"]
    assert 2 <= len(links) <= 10 and sum(s.path.count("M") for s in links) == 2 * 5 + 5 * 3 + 3 * 2
    assert [s.type for s in fig.layout.shapes if s.type != "path"] == ["rect"]       # the picked neuron
    assert [t.mode for t in fig.data] == ["markers"]                                   # what hovering says


def test_a_hand_edit_changes_the_loss_and_put_back_restores_it(spirals_data):
    worker = _worker(spirals_data, hidden=(6,))
    worker.handle(StepEpoch())
    before = worker.handle(Inspect(0, 2))
    assert before["trained"] is None and not before["edited"] and before["picture"].shape == (NEURON_GRID,) * 2
    trained = {k: p.copy() for k, p in worker.model.params().items()}
    worker.handle(SetParam(before["keys"]["W"], (1, 2), 9.0))
    after = worker.handle(Inspect(0, 2))
    assert after["weights"][1] == 9.0 and after["edited"]
    assert after["losses"]["train_loss"] != before["losses"]["train_loss"]
    assert after["trained"] == before["losses"]                             # what the edit is compared with
    worker.handle(RestoreEdits())
    for key, p in worker.model.params().items():
        np.testing.assert_array_equal(p, trained[key])
    assert worker.handle(Inspect(0, 2))["losses"] == before["losses"]
    with pytest.raises(ValueError, match="shape"):
        worker.handle(SetParam(before["keys"]["W"], (5, 2), 1.0))
    with pytest.raises(ValueError, match="finite"):
        worker.handle(SetParam(before["keys"]["b"], (2,), float("nan")))


def test_a_switched_off_neuron_stays_off_while_the_network_trains(spirals_data):
    worker = _worker(spirals_data, hidden=(6, 4), epochs=50)
    worker.handle(StepEpoch())
    worker.handle(SetNeuronOff(0, 3, True))
    outgoing = worker.model.dense_layers[1].params["W"]
    assert not outgoing[3].any()
    for _ in range(3):
        worker.handle(StepEpoch())
        assert not outgoing[3].any() and outgoing.any()          # the others learn, it stays silent
    assert worker.handle(Inspect(0, 3))["off"]
    assert worker.handle(Snapshot(frozenset({"network"})))["network"]["off"] == [(0, 3)]
    with pytest.raises(ValueError, match="hidden"):
        worker.handle(SetNeuronOff(2, 0, True))                   # output neurons cannot be switched off
    # trained since the switch: "put back" switches it on again, and training regrows its weights
    worker.handle(RestoreEdits())
    assert not worker.handle(Inspect(0, 3))["off"]
    worker.handle(StepEpoch())
    assert outgoing[3].any()


def test_latest_update_is_the_optimisers_last_step(spirals_data):
    worker = _worker(spirals_data, hidden=(4,), optimizer="sgd", lr=0.1, schedule="constant")
    worker._train(7)
    info = worker.handle(Inspect(0, 1))
    # plain SGD: the last update is -lr times the last batch's gradient
    np.testing.assert_allclose(info["update_w"], -0.1 * info["grad_w"], rtol=1e-5, atol=1e-7)
    assert info["update_b"] == pytest.approx(-0.1 * info["grad_b"], rel=1e-5, abs=1e-7)
    assert np.abs(info["update_w"]).sum() > 0


def test_the_trace_is_the_next_real_step_and_moves_nothing(spirals_data):
    worker = _worker(spirals_data, hidden=(5,), optimizer="adam")
    worker.handle(StepEpoch())
    worker.handle(SetNeuronOff(0, 1, True))
    params = {k: p.copy() for k, p in worker.model.params().items()}
    result = worker.handle(TraceStep(None))
    assert len(result["indices"]) == SPIRALS_DEFAULT.batch_size
    for key, p in worker.model.params().items():
        np.testing.assert_array_equal(p, params[key])               # the run did not move
    trace = result["trace"]
    worker._train(1)                                                # the step training takes next
    for key, p in worker.model.params().items():
        if key != "layers.2.W":                                     # the one KeepOff zeroes afterwards
            np.testing.assert_allclose(trace.updated[key], p, rtol=1e-5, atol=1e-7)
    one = worker.handle(TraceStep(5))
    assert one["indices"].tolist() == [5] and one["trace"].x.shape == (1, 2)
    with pytest.raises(ValueError, match="training examples"):
        worker.handle(TraceStep(10_000))


def test_the_network_cannot_be_touched_when_it_is_too_big_to_draw(spirals_data):
    worker = _worker(spirals_data, hidden=(32,))
    assert "network" not in worker.handle(Snapshot(frozenset({"network"})))
    with pytest.raises(ValueError, match="too many to draw"):
        worker.handle(Inspect(0, 0))
    assert worker.handle(TraceStep(0))["trace"].forward[0].params["layers.0.W"].shape == (2, 32)


def test_features_from_the_link_to_the_sidebar_and_back(train_apps):
    at = train_apps({"data": "circles", "features": "x2^2,x1^2", "layers": "none", "lr": "0.02"})
    ticked = {c.label for c in at.checkbox if c.key and c.key.startswith("train_features.") and c.value}
    assert ticked == {"x₁²", "x₂²"}
    assert "Network: 2 → 2 (6 parameters)" in at.info[0].value
    assert at.query_params["features"] == "x1^2,x2^2"                    # written back in the table's order
    at.checkbox(key="train_features.x1").check().run()
    assert at.query_params["features"] == "x1,x1^2,x2^2" and "3 → 2" in at.info[0].value
    at.button(key="train_step").click().run()
    assert "Dense(3 -> 2)" in at.session_state["train_run"].info["architecture"]
    for _ in range(4):
        at.button(key="train_step").click().run()
    assert float(metric(at, "Validation accuracy").rstrip("%")) > 95        # squares: no hidden layer needed
    for name in ("x1", "x1^2"):
        at.checkbox(key=f"train_features.{name}").uncheck().run()
    assert at.checkbox(key="train_features.x2^2").disabled                  # the last one stays
    assert not any(c.help is None for c in at.checkbox)


def test_touch_a_neuron_while_paused_and_put_it_back(train_apps):
    at = train_apps({"data": "xor", "layers": "4", "act": "tanh"})
    at.button(key="train_step").click().run()
    assert at.segmented_control(key="train_view").value == "The network"
    network = charts(at)[1]
    assert len(network["layout"]["images"]) == 3                 # inputs, hidden layer, output
    box = at.selectbox(key="train_neuron")
    assert box.options[:2] == ["hidden layer 1 · neuron 1", "hidden layer 1 · neuron 2"]
    box.select_index(2).run()
    assert "What feeds hidden layer 1 · neuron 3" in " ".join(m.value for m in at.markdown)
    table = at.table[0].value
    assert list(table["from"]) == ["x₁", "x₂", "bias"]
    loss_before, regions_before = metric(at, "Training loss now"), picture(charts(at)[0])
    run = at.session_state["train_run"]

    at.selectbox(key="train_edit_which_0_2").set_value(1).run()      # the weight from x2
    value = next(n for n in at.number_input if n.key.startswith("train_edit_value_"))
    value.set_value(6.0).run()
    assert run.inspect(0, 2)["weights"][1] == 6.0
    assert metric(at, "Training loss now") != loss_before
    assert np.abs(picture(charts(at)[0]).astype(int) - regions_before).mean() > 0.5    # the regions moved at once
    assert next(m for m in at.metric if m.label == "Training loss now").delta.endswith("by hand")

    switch = next(t for t in at.toggle if t.key.startswith("train_off_"))
    switch.set_value(True).run()
    assert run.inspect(0, 2)["off"] and not run.inspect(1, 0)["weights"][2]
    at.button(key="train_restore").click().run()
    assert metric(at, "Training loss now") == loss_before and not run.inspect(0, 2)["off"]
    assert at.button(key="train_restore").disabled


def test_the_picture_is_hidden_for_big_networks_with_a_reason(train_apps):
    at = train_apps({"layers": "32"})
    at.button(key="train_step").click().run()
    assert "The network" not in at.segmented_control(key="train_view").options
    assert any("too many to draw" in c.value for c in at.caption)


def test_one_training_step_with_numbers_and_its_worksheet(train_apps):
    at = train_apps({"data": "xor", "layers": "3", "act": "sigmoid", "loss": "sigmoid_bce", "opt": "momentum"})
    at.session_state["train_backprop"] = True                        # the expander, opened
    at.run()
    at.button(key="train_build").click().run()                       # trace the untrained network
    run = at.session_state["train_run"]
    assert run.snapshot()["samples_seen"] == 0
    codes = [c.value for c in at.code]
    assert "z = x·W + b" in codes and "a = σ(z) = 1 / (1 + e^(−z))" in codes
    assert any(c.startswith("v ← μ·v − lr·g") for c in codes)
    assert len(at.table) > 10
    assert any("Example #0: the point" in m.value for m in at.markdown)
    downloads = at.get("download_button")
    assert len(downloads) == 2
    at.radio(key="train_trace_mode").set_value("The next mini-batch").run()
    assert any("16 examples" in m.value for m in at.markdown)
    assert run.snapshot()["samples_seen"] == 0                        # tracing trained nothing


# ----- the step view: batch norm, one naming and numbering, rounding, pixels with ink ----------------

def test_a_batchnorm_network_traces_its_next_mini_batch_with_the_reason(spirals_data):
    worker = _worker(spirals_data, hidden=(4,), batchnorm=True)
    result = worker.handle(TraceStep(0))                          # one example asked for: no error
    assert len(result["indices"]) == SPIRALS_DEFAULT.batch_size
    assert result["indices"].tolist() == np.asarray(worker.trainer.next_batch).tolist()
    assert "batch normalisation" in result["note"] and "spread" in result["note"]
    assert worker.handle(TraceStep(None))["note"] is None
    assert _worker(spirals_data, hidden=(4,)).handle(TraceStep(0))["note"] is None


def _tables(at) -> list:
    return [t.value for t in at.table]


def test_the_step_view_with_batch_norm_and_dropout_names_things_one_way(train_apps):
    at = train_apps({"data": "xor", "layers": "4", "act": "tanh", "bn": "1", "dropout": "0.2"})
    at.session_state["train_backprop"] = True
    at.run()
    at.button(key="train_build").click().run()
    assert not at.exception and not at.error
    assert at.radio(key="train_trace_mode").value == "One training example"        # the default
    assert any("batch normalisation" in i.value and "mini-batch" in i.value for i in at.info)
    assert at.number_input(key="train_trace_example").disabled
    codes = [c.value for c in at.code]
    assert any(c.startswith("u = γ·ẑ + β") and "(z − mean_B z)" in c for c in codes)
    assert "a = tanh(u)" in codes and "s = a'·W + b" in codes
    assert any(c.startswith("dL/du = dL/da ⊙ f'(u)") for c in codes)
    assert "dL/dz = dL/da ⊙ f'(z)" not in " ".join(codes)
    columns = [list(t.columns) for t in _tables(at)]
    assert not any(c in ("s1", "s2", "p(class 0)") for cols in columns for c in cols)
    assert ["", "class 0", "class 1"] in columns                                  # scores, p, dL/ds by class
    update = [cols for cols in columns if any(c.startswith("W[") for c in cols)]
    assert update[0][1:3] == ["W[x₁→n1]", "W[x₁→n2]"]
    assert any(cols[1:] == ["γ[n1]", "γ[n2]", "γ[n3]", "γ[n4]"] for cols in columns)
    assert not any("layers.0.W" in t.value and t.value.startswith("layers.") for t in at.caption)
    assert any(t.value.startswith("Hidden layer 1 · W (`layers.0.W`)") for t in at.caption)


def test_the_step_view_of_a_digit_shows_inked_pixels_and_explains_float32(train_apps):
    at = train_apps({"data": "mnist-sample", "layers": "16", "opt": "momentum"})
    at.session_state["train_backprop"] = True
    at.run()
    at.button(key="train_build").click().run()
    assert not at.exception and not at.error
    line = next(m.value for m in at.markdown if "the tables show the 8 with the most ink" in m.value)
    run = at.session_state["train_run"]
    trace = run.trace(0)["trace"]
    x = trace.x[0]
    tables = _tables(at)
    first_x = tables[0]                                   # x, the input: one row, columns the shown pixels
    assert len(first_x.columns) == 9 and all(c.startswith("x") for c in first_x.columns[1:])
    for name in first_x.columns[1:]:
        index = int(name[1:].translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))) - 1
        assert x[index] > 0                                           # a pixel with ink, by its real index
        assert f"{name} (row {index // 28 + 1}, col {index % 28 + 1})" in line      # and its position
    assert any(float(v) != 0 for v in first_x.iloc[0, 1:])
    update = next(t for t in tables if any(str(c).startswith("W[x") for c in t.columns))
    g = update[update[""] == "g (gradient)"].iloc[0, 1:].astype(float)
    assert (g != 0).any()
    digit_columns = [list(t.columns) for t in tables if "class 4" in t.columns]
    assert digit_columns and all(cols[1:6] == [f"class {k}" for k in range(5)] for cols in digit_columns)
    assert any("float32" in i.value for i in at.info)
    assert any(t[""].tolist()[-3:] == ["step (computed)", "Δ = p after − p before (stored)", "p after"]
               for t in tables if "" in t.columns)
