"""The Train page's runs in one session: the live one, the kept ones, and what each button does.

Everything lives in st.session_state (never in a module global), under the keys below:

    RUN       the live run (ui/run_client.LiveRun), or absent
    HISTORY   every run of the session that got somewhere (ui/run_history.RunHistory, last MAX_RUNS)
    SHOWN     the kept runs on the compare chart; MESSAGE: what to say above the page, once

    do(action)     the buttons' callback: start, pause, resume, step, reset, build, gradcheck
    lr_changed     the learning-rate widget's callback (a live run takes it at its next batch)
    restore, clear_runs   the compare section's callbacks
    catch_up       on every rerun: what became of the run since the page last looked (its process
                   died, the data was switched, it finished, or the server restarted under it)

A run that ends, is reset, replaced or lost is kept (ui/run_compare.keep) if it trained an epoch.
While a run lives, a marker file in the learner's folder says so (ui/run_client.mark_live): a page
opened after a server restart finds it and tells the learner that run was lost.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import streamlit as st

from ui.run_client import LiveRun, RunError, RunLost, lost_runs, mark_live, unmark_live
from ui.run_compare import MAX_RUNS, dataset_name, keep
from ui.run_history import Run, RunHistory
from ui.run_slots import current_session_id
from ui.shared import learner_models_dir
from ui.text import plain
from ui.train_data import data_for
from ui.train_settings import Settings
from ui.train_sidebar import SETTINGS_KEY, widget_values

ss = st.session_state
RUN, MESSAGE = "train_run", "train_message"
HISTORY, SHOWN = "train_history", "train_compare_shown"    # the kept runs (RunHistory), those on the chart
LOST_CHECKED = "train_lost_checked"     # this session looked for runs lost to a restart (once)
FILED = "train_filed"                   # the key of the last run filed when it finished (once per run)
LOST_TEXT = {
    "restart": "Your last run was lost when the server restarted (or its process ended). Press Start to train again.",
    "closed": "Your last run ended when its page was closed or reloaded: a run, and the runs kept to compare "
              "with it, live as long as the page that started them. Press Start to train again."}


def report(kind: str, markdown: str, dataset: str | None = None) -> None:
    """Say something above the page (st.<kind>) until the next action; with ``dataset``, only while
    the sidebar's dataset is still that one."""
    ss[MESSAGE] = (kind, markdown, dataset)


def history() -> RunHistory:
    if HISTORY not in ss:
        ss[HISTORY] = RunHistory(limit=MAX_RUNS)
    return ss[HISTORY]


def _learner_folder() -> Path | None:
    try:
        return learner_models_dir(create=True)
    except OSError:                      # a read-only models folder: no markers, nothing else lost
        return None


def _unmark(run: LiveRun) -> None:
    if (folder := _learner_folder()) is not None:
        unmark_live(folder, run.session_id)


def keep_run(run: LiveRun) -> Run | None:
    """ui.run_compare.keep, and a newly kept run goes on the chart beside the one before it."""
    kept, new = keep(history(), run)
    if new:
        ss[SHOWN] = [r.number for r in history()][-2:]
    return kept


def close() -> Run | None:
    """Close the current run, if any, keeping it in the history (see keep_run); the kept run or None."""
    ss.pop("train_gradcheck", None)
    run = ss.pop(RUN, None)
    if run is None:
        return None
    kept = keep_run(run)
    run.close()
    _unmark(run)
    return kept


def lost(e: RunLost) -> None:
    """The training process is gone: keep what it did, close it, and say so once (Start trains anew)."""
    kept = close()
    report("error", str(e) + (f" What it trained is kept as run #{kept.number} under **Compare runs**."
                               if kept is not None else ""))


def _ensure_run() -> LiveRun | None:
    if ss.get(RUN) is not None:
        return ss[RUN]
    settings = ss[SETTINGS_KEY]
    try:
        data, _ = data_for(settings)
        run = ss[RUN] = LiveRun(settings, data)
    except (ValueError, RunError, RunLost) as e:
        report("error", plain(f"Cannot build this network: {e}"))
        return None
    if (folder := _learner_folder()) is not None:      # so that a restart can be told (lost_runs)
        with contextlib.suppress(OSError):
            mark_live(folder, run.session_id)
    return run


def do(action: str) -> None:
    ss.pop(MESSAGE, None)
    try:
        if action == "reset":
            close()
            return
        run = ss.get(RUN) if action in ("pause", "resume") else _ensure_run()
        if run is None or action == "build":
            return
        if action in ("start", "resume"):
            run.start()
        elif action == "pause":
            run.pause()
        elif action == "step":
            run.step_epoch()
        elif action == "gradcheck":
            ss["train_gradcheck"] = run.gradient_check()
    except RunLost as e:
        lost(e)
    except RunError as e:
        report("error", plain(str(e)))


def lr_changed() -> None:
    run = ss.get(RUN)
    if run is not None and not run.status["done"]:       # a finished run keeps the rate it trained with
        try:
            run.set_lr(ss["train_lr"])
        except RunLost as e:
            lost(e)
        except RunError as e:
            report("error", plain(str(e)))


def restore(number: int) -> None:
    """Put the settings of kept run ``number`` back in every widget (closing the current run into
    the history first), ready to Start."""
    kept = history().get(number)
    if kept is None:
        return
    ss.pop(MESSAGE, None)
    close()
    ss[SETTINGS_KEY] = kept.settings
    ss.update(widget_values(kept.settings))
    report("info", f"The settings of run #{number} are back in the sidebar. Press **Start** to train them again.")


def clear_runs() -> None:
    history().clear()
    ss[SHOWN] = []


def catch_up(settings: Settings) -> LiveRun | None:
    """What became of the run since the page last looked, said once; returns the run still live
    (None when there is none or it just ended for good). ``settings``: the sidebar's now."""
    run: LiveRun | None = ss.get(RUN)
    if run is not None and not run.alive:                   # its process ended (killed, idle, crashed)
        lost(RunLost(run.why_lost()))
        run = None
    if run is not None and run.settings.dataset != settings.dataset:
        # other data: the run cannot go on with it; keep it, and start afresh on the new data
        old = run.settings.dataset
        where = ("is kept under **Compare runs**" if close() is not None
                 else "had not trained an epoch, so it was not kept")
        run = None
        report("info", f"Switched to {dataset_name(settings.dataset)}: the run on {dataset_name(old)} {where}. "
                       "Press Start to train on the new data.", settings.dataset)
    if run is None and not ss.get(LOST_CHECKED):
        # a new session: did this learner's last run die with the server (or its tab)?
        ss[LOST_CHECKED] = True
        folder = _learner_folder()
        gone = lost_runs(folder, current_session_id()) if folder is not None else []
        if gone:
            report("warning", LOST_TEXT["restart" if "restart" in gone else "closed"])
    if run is not None and run.status["done"] and not run.running and ss.get(FILED) != run.key:
        ss[FILED] = run.key                                 # once per run, not on every rerun after:
        keep_run(run)                                       # it ended: into the history ...
        _unmark(run)                                        # ... and a restart cannot lose it any more
    return run


def show_message(dataset: str) -> None:
    """The message of the last action, if any (one meant for other data only while that data is chosen)."""
    if MESSAGE in ss:
        kind, text, only_for = ss[MESSAGE]
        if only_for in (None, dataset):
            getattr(st, kind)(text)
