"""Lessons (ui/lessons.py): every lesson's link sets up a valid experiment, locks and hides what it
says, shows its card, and one click gives every control back. A teacher's own link round-trips, and
its note is plain, capped text."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import open_app

from ui import init_settings, train_settings
from ui.lessons import (LESSONS, NOTE_MAX, PAGE_FILES, PAGE_SETTINGS, TRAIN, WEIGHT_INIT, clean_note, lesson_query,
                        lesson_url, parse_lock, read_link, teacher_query)

ROOT = Path(__file__).resolve().parents[1]
FROM_QUERY = {TRAIN: train_settings.from_query, WEIGHT_INIT: init_settings.from_query}


# ----- the table of lessons ---------------------------------------------------------------------------

@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_every_lesson_sets_up_a_valid_experiment(lesson):
    settings, warnings = FROM_QUERY[lesson.page](lesson.query)
    assert warnings == []
    table = PAGE_SETTINGS[lesson.page]
    keys = {s.url_key for s in table.values()}
    assert set(lesson.query) <= keys                        # every parameter is one of the page's settings
    assert lesson.locked <= lesson.shown <= set(table)      # a locked knob is shown (greyed out), never lost
    assert 2 <= len(lesson.look_for) <= 4 and lesson.title and lesson.summary
    assert all(len(step) < 260 for step in lesson.look_for)
    if lesson.page == TRAIN:
        assert "lr" in lesson.shown and "lr" not in lesson.locked     # the page's own slider stays usable


def test_lessons_are_a_handful_with_unique_slugs_and_the_first_on_train():
    assert 5 <= len(LESSONS) <= 6
    assert len({lesson.slug for lesson in LESSONS}) == len(LESSONS)
    assert LESSONS[0].page == TRAIN
    assert any(lesson.page == WEIGHT_INIT for lesson in LESSONS)


def test_the_texts_match_the_experiments_they_describe():
    by_slug = {lesson.slug: lesson for lesson in LESSONS}
    too_big, _ = train_settings.from_query(by_slug["learning-rate-too-big"].query)
    too_small, _ = train_settings.from_query(by_slug["learning-rate-too-small"].query)
    assert too_big.optimizer == too_small.optimizer == "sgd" and too_big.lr == 5 and too_small.lr == 0.001
    assert "5 ×" in by_slug["learning-rate-too-big"].look_for[0]
    assert "0.001" in by_slug["learning-rate-too-small"].look_for[0]
    batch, _ = train_settings.from_query(by_slug["batch-size"].query)
    n_train = round(batch.n_points * (1 - batch.val_share))
    assert batch.batch_size == 1 and f"{n_train} updates" in by_slug["batch-size"].look_for[0]
    over, _ = train_settings.from_query(by_slug["overfitting"].query)
    assert over.hidden == (128, 128) and f"{round(over.n_points * (1 - over.val_share))} noisy" in \
        by_slug["overfitting"].look_for[0]
    depth, _ = train_settings.from_query(by_slug["depth-or-features"].query)
    assert depth.dataset == "spirals" and depth.hidden == ()


# ----- links --------------------------------------------------------------------------------------

def test_a_lesson_link_opens_that_lesson():
    for lesson in LESSONS:
        parts = urlsplit(lesson_url(lesson))
        assert parts.path == f"/{lesson.page}"
        params = dict(parse_qsl(parts.query))
        assert params == lesson_query(lesson) and params["lesson"] == lesson.slug
        active, warnings = read_link(lesson.page, params)
        assert warnings == [] and active.slug == lesson.slug and active.title == lesson.title
        assert active.locked == lesson.locked and active.shown == lesson.shown
        assert active.settings == lesson.query


def test_locked_and_hidden_follow_the_link():
    lesson = LESSONS[0]
    active, _ = read_link(TRAIN, {**lesson_query(lesson), "lock": "epochs"})       # a teacher locks one more
    assert active.locked == lesson.locked | {"epochs"}
    hidden = set(PAGE_SETTINGS[TRAIN]) - lesson.shown
    assert "seed" in hidden and "lr" not in hidden
    # a teacher's link locks what it names, by setting name or by URL key, and hides nothing
    active, warnings = read_link(TRAIN, {"data": "moons", "lock": "lr,layers,opt", "note": "Hi"})
    assert warnings == [] and active.slug is None and active.shown is None
    assert active.locked == {"lr", "hidden", "optimizer"} and active.settings == {"data": "moons"}
    # no lesson parameter: no lesson; an unknown lesson or setting: a warning, never an error
    assert read_link(TRAIN, {"data": "moons", "lr": "0.1"}) == (None, [])
    active, warnings = read_link(TRAIN, {"lesson": "no-such-lesson"})
    assert active is None and "no-such-lesson" in warnings[0]
    active, warnings = read_link(TRAIN, {"lock": "lr,warp_drive"})
    assert active.locked == {"lr"} and "warp_drive" in warnings[0]
    active, warnings = read_link(TRAIN, {"lesson": "why-initialisation-matters"})
    assert active is None and "Weight init" in warnings[0]
    assert parse_lock(WEIGHT_INIT, "layers,init")[0] == {"n_layers", "init"}


def test_a_note_is_one_capped_line_of_plain_text():
    assert clean_note("  Try\n\tthe   rate\x00 0.1 ") == "Try the rate 0.1"
    long = clean_note("x" * 1000)
    assert len(long) == NOTE_MAX and long.endswith("…")
    assert clean_note("[click](http://evil) <b>bold</b>") == "[click](http://evil) <b>bold</b>"   # escaped when shown


def test_a_teacher_link_round_trips():
    settings, _ = train_settings.from_query({"data": "blobs", "classes": "4", "layers": "8", "lr": "0.05"})
    query = teacher_query(TRAIN, train_settings.to_query(settings), ["lr", "hidden", "bogus"], "Which rate works?")
    assert query["lock"] == "hidden,lr" and query["note"] == "Which rate works?"     # the table's order
    active, warnings = read_link(TRAIN, query)
    assert warnings == [] and active.locked == {"hidden", "lr"} and active.note == "Which rate works?"
    assert train_settings.from_query(active.settings) == (settings, [])
    assert teacher_query(TRAIN, {"data": "moons"}, [], "   ") == {"data": "moons"}     # nothing to lock: a plain link


# ----- the pages under AppTest ---------------------------------------------------------------------

def sidebar_labels(at: AppTest) -> set[str]:
    return {w.label for w in at.sidebar if getattr(w, "label", None)}


def card(at: AppTest) -> str:
    return "\n".join(m.value for m in at.main.markdown)


@pytest.mark.slow
def test_a_lesson_link_locks_hides_and_unlocks_on_the_train_page(train_apps):
    lesson = LESSONS[0]
    at = train_apps(lesson_query(lesson))
    assert at.selectbox(key="train_dataset").disabled and at.slider(key="train_layers").disabled
    assert at.selectbox(key="train_optimizer").value == "sgd" and at.selectbox(key="train_optimizer").disabled
    assert at.select_slider(key="train_lr").value == 5.0
    labels = sidebar_labels(at)
    assert "Seed" not in labels and "Activation" not in labels and "Advanced settings" not in labels   # put away
    assert lesson.title in card(at) and "Locked for this lesson" in " ".join(c.value for c in at.caption)
    at.run()                                                         # a rerun keeps the lesson
    assert at.selectbox(key="train_dataset").disabled

    at.button(key="train_lesson_unlock").click().run()
    assert not at.exception
    assert not at.selectbox(key="train_dataset").disabled and not at.selectbox(key="train_optimizer").disabled
    assert {"Seed", "Activation", "Advanced settings"} <= sidebar_labels(at)
    assert lesson.title not in card(at)
    assert at.select_slider(key="train_lr").value == 5.0              # the experiment stays as it was
    assert not {"lesson", "lock", "note"} & set(at.query_params)


@pytest.mark.slow
def test_the_lesson_survives_other_pages_and_a_new_lesson_replaces_it(train_apps):
    first, batch = LESSONS[0], next(lesson for lesson in LESSONS if lesson.slug == "batch-size")
    at = train_apps(lesson_query(first))
    at.switch_page("pages/home.py").run()
    at.query_params.clear()
    at.switch_page(PAGE_FILES[TRAIN]).run()                           # back through the navigation
    assert not at.exception and at.selectbox(key="train_dataset").disabled
    assert at.select_slider(key="train_lr").value == 5.0
    at = train_apps(lesson_query(batch), at)                          # another lesson, same session
    assert at.selectbox(key="train_dataset").value == "moons" and at.select_slider(key="train_batch_size").value == 1
    assert not at.select_slider(key="train_batch_size").disabled and at.slider(key="train_layers").disabled
    assert at.select_slider(key="train_lr").value == 0.005
    assert "Optimiser" not in sidebar_labels(at)


@pytest.mark.slow
def test_a_teacher_link_locks_without_hiding_and_shows_the_note_as_text(train_apps):
    note = "Compare **0.1** with [this](http://example.com)"
    at = train_apps({"data": "moons", "lr": "0.1", "epochs": "50", "lock": "dataset,epochs", "note": note})
    assert at.selectbox(key="train_dataset").disabled and at.number_input(key="train_epochs").disabled
    assert not at.selectbox(key="train_activation").disabled and "Advanced settings" in sidebar_labels(at)
    shown = card(at)
    assert "\\*\\*0\\.1\\*\\*" in shown and "\\[this\\]\\(http" in shown                # escaped: plain text
    # the teacher's own "Make a lesson link" gives back this experiment
    at.multiselect(key="train_lesson_lock").set_value(["epochs"]).run()
    at.text_input(key="train_lesson_note").input("Hello").run()
    link = next(c.value for c in at.sidebar.code)
    params = dict(parse_qsl(urlsplit(link).query))
    assert urlsplit(link).path.endswith("/train")
    assert params["lock"] == "epochs" and params["note"] == "Hello" and params["lr"] == "0.1"
    assert params["data"] == "moons" and params["epochs"] == "50"
    assert not at.sidebar.warning
    # a longer note pasted in is cut, and the teacher is told (the browser would drop the paste silently
    # with max_chars on the field)
    at.text_input(key="train_lesson_note").input("x" * 250).run()
    params = dict(parse_qsl(urlsplit(next(c.value for c in at.sidebar.code)).query))
    assert params["note"] == "x" * (NOTE_MAX - 1) + "…"
    assert any(f"at most {NOTE_MAX} characters" in w.value and "250" in w.value for w in at.sidebar.warning)


@pytest.mark.slow
def test_restore_defaults_in_a_lesson_goes_back_to_the_lesson(train_apps):
    lesson = next(lesson for lesson in LESSONS if lesson.slug == "overfitting")
    at = train_apps(lesson_query(lesson))
    at.select_slider(key="train_l2").set_value(0.01).run()
    at.select_slider(key="train_lr").set_value(0.1).run()
    at.button(key="train_restore_defaults").click().run()
    assert at.select_slider(key="train_l2").value == 0.0 and at.select_slider(key="train_lr").value == 0.005
    assert at.select_slider(key="train_width_0").value == 128


@pytest.mark.slow
def test_the_weight_init_lesson_locks_hides_and_unlocks():
    lesson = next(lesson for lesson in LESSONS if lesson.page == WEIGHT_INIT)
    at = open_app(PAGE_FILES[WEIGHT_INIT], lesson_query(lesson))
    assert at.slider(key="wi_layers").disabled and not at.radio(key="wi_init").disabled
    labels = sidebar_labels(at)
    assert "Seed" not in labels and "Units per layer" not in labels
    assert lesson.title in card(at)
    assert at.query_params["lesson"] == lesson.slug                    # a reload opens the lesson again
    at.radio(key="wi_init").set_value("Xavier").run()
    assert at.slider(key="wi_layers").disabled and at.query_params["init"] == "xavier"
    at.button(key="wi_lesson_unlock").click().run()
    assert not at.exception and not at.slider(key="wi_layers").disabled
    assert {"Seed", "Units per layer"} <= sidebar_labels(at)
    assert "lesson" not in at.query_params and at.radio(key="wi_init").value == "Xavier"
