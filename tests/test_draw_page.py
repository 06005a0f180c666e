"""The Draw page under Streamlit's AppTest: drawings injected through the canvas's session-state entry.

Drawings are PNGs made with Pillow (white ink on black, 280x280), stored under the canvas key exactly as
the component stores what the browser sends. The real canvas is driven in tests/browser.
"""
import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from nn.model import MLP, ModelConfig
from ui.draw_charts import ACCENT, CONFIDENT, PROBABILITY_TOP, UNSURE, picture_row, probability_html
from ui.model_lab import CALIBRATION_TEXT
from ui.shared import LEARNER_KEY, MAX_LISTED

APP = str(Path(__file__).resolve().parents[1] / "app.py")
WHITE = (255, 255, 255, 255)
DRAWINGS = {
    1: lambda d: d.line([(140, 40), (140, 240)], fill=WHITE, width=18),
    7: lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill=WHITE, width=18, joint="curve"),
    0: lambda d: d.ellipse((80, 40, 200, 240), outline=WHITE, width=18),
}
ZIGZAG = lambda d: d.line([(40 + (i % 2) * 200, 40 + i * 20) for i in range(11)],  # noqa: E731
                          fill=WHITE, width=14, joint="curve")
GUESSES = re.compile(r"Not sure:\*\* (\d) \(\d+%\) or (\d) \(\d+%\)")


def drawing_png(draw) -> str:
    """A data URL of a 280x280 PNG, as the canvas sends it."""
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw(ImageDraw.Draw(im))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def photo_bytes(fmt: str = "JPEG") -> bytes:
    """A photo-like picture of a dark 7 on light, unevenly lit paper."""
    h, w = 300, 400
    light = np.linspace(235, 190, w)[None, :] + np.linspace(0, -20, h)[:, None]
    im = Image.fromarray(np.clip(light, 0, 255).astype(np.uint8), "L")
    ImageDraw.Draw(im).line([(150, 70), (260, 70), (190, 240)], fill=40, width=9, joint="curve")
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def inject(at: AppTest, draw) -> AppTest:
    at.session_state[at.session_state["draw_canvas_key"]] = {
        "drawing": {"raw": {"objects": []}, "data": drawing_png(draw)}, "backgroundFit": None}
    return at.run()


def best_guess(at: AppTest) -> str:
    """The answer, or when the page is not sure, its first guess ("Not sure: 1 (62%) or 7 ...")."""
    shown = prediction(at)
    if shown != "?":
        return shown
    doubt = next(w.value for w in at.warning if "Not sure" in w.value)
    return re.search(r"\d", doubt.split("Not sure:**", 1)[1]).group()


def prediction(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Prediction")


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_WEIGHTS_DIR", str(tmp_path))
    return tmp_path


def mine(at: AppTest, weights_dir: Path) -> Path:
    """This AppTest session's own models folder (made if need be)."""
    folder = weights_dir / "learners" / at.session_state[LEARNER_KEY]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def at(weights_dir):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/draw.py").run()
    assert not at.exception
    return at


def test_empty_canvas_asks_for_a_drawing(at):
    assert prediction(at) == "–"
    assert any("draw a digit" in i.value for i in at.info)
    assert not at.warning


@pytest.mark.parametrize("digit", sorted(DRAWINGS))
def test_predicts_the_drawn_digit(at, digit):
    inject(at, DRAWINGS[digit])
    assert not at.exception
    assert prediction(at) == str(digit)
    assert not at.warning and [i.value for i in at.info] == [CALIBRATION_TEXT]     # only the model lab's explanation
    assert next(m.value for m in at.metric if m.label == "Confidence").endswith("%")
    pictures = " ".join(h.proto.body for h in at.get("html"))
    assert "Deskewed: the input</figcaption>" in pictures and "Gradient × input</figcaption>" in pictures


def sent_elements(monkeypatch) -> list[str]:
    """The elements the script sends from now on, in the order they leave for the browser (a metric
    as "metric:<label>", a button as "button:<label>")."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

    sent, enqueue = [], ScriptRunContext.enqueue

    def record(ctx, msg):
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            kind = element.WhichOneof("type")
            sent.append({"metric": f"metric:{element.metric.label}", "button": f"button:{element.button.label}",
                         "html": "html:" + element.html.body[:60]}.get(kind, kind))
        return enqueue(ctx, msg)

    monkeypatch.setattr(ScriptRunContext, "enqueue", record)
    return sent


def test_the_answer_leaves_before_everything_else_the_stroke_changes(at, monkeypatch):
    """The browser shows each element as it arrives: the Prediction is sent as soon as the drawing is
    judged, before the canvas's own buttons, the probability chart, the pictures and the model lab."""
    sent = sent_elements(monkeypatch)
    inject(at, DRAWINGS[7])
    assert prediction(at) == "7"
    # the drawing's fragment: from the canvas on (the page's title and model picker come first)
    fragment = sent[sent.index("bidi_component"):]
    answer = fragment.index("metric:Prediction")
    assert fragment[:answer] == ["bidi_component"] and fragment[answer + 1] == "metric:Confidence"
    chart = next(k for k, e in enumerate(fragment) if "Probability of each digit" in e)
    assert {"button:Clear", "slider", "imgs", "plotly_chart"} <= set(fragment[answer:])
    assert chart > answer


def test_the_probability_chart_shows_every_digit():
    probs = np.array([0.02, 0.001, 0.0, 0.9, 0.004, 0.03, 0.02, 0.01, 0.005, 0.01])
    html = probability_html(probs, 3, True)
    bars = re.findall(r'title="digit (\d): ([\d.]+)%".*?>([\d]*%?)</div>'
                      r'<div style="width:80%;height:([\d.]+)%;background:(#\w+)"', html)
    assert [int(b[0]) for b in bars] == list(range(10))
    for k, (_, hover, label, height, colour) in enumerate(bars):
        assert float(hover) == pytest.approx(100 * probs[k], abs=0.05)
        assert float(height) == pytest.approx(100 * probs[k] / PROBABILITY_TOP, abs=0.01)
        assert label == (f"{probs[k]:.0%}" if probs[k] >= 0.005 else "")   # tiny bars are not labelled
        assert colour == (ACCENT if k == 3 else CONFIDENT)
    assert "Probability of each digit" in html and 'role="img"' in html
    # not sure: the best guess is grey, not in the colour of an answer
    assert re.findall(r"background:(#\w+)", probability_html(probs, 3, False))[3] == UNSURE


def test_a_picture_row_shows_each_picture_with_its_caption():
    import base64

    digit = (np.arange(28 * 28).reshape(28, 28) % 256).astype(np.uint8)
    canvas = np.zeros((93, 93), np.uint8)
    html = picture_row([(digit, "The <input>"), (canvas, "What you gave it")], 112)
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    assert len(sources) == 2
    # each picture is sent at its own resolution (the browser enlarges it), unchanged
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(sources[0])))), digit)
    assert Image.open(io.BytesIO(base64.b64decode(sources[1]))).size == (93, 93)
    # a 28x28 digit is enlarged pixel by pixel, a picture already near its width smoothly
    assert re.findall(r"image-rendering:(\w+)", html) == ["pixelated", "auto"]
    assert html.count('width="112" height="112"') == 2
    assert "The &lt;input&gt;</figcaption>" in html and "What you gave it</figcaption>" in html


def test_the_reading_shows_the_probability_chart(at):
    inject(at, DRAWINGS[0])
    charts = [h.proto.body for h in at.get("html") if "Probability of each digit" in h.proto.body]
    assert len(charts) == 1 and 'title="digit 0: ' in charts[0]
    at.button(key="draw_clear").click().run()
    assert not any("Probability of each digit" in h.proto.body for h in at.get("html"))


def test_the_server_reads_with_one_blas_thread(at):
    """Opening the Draw page leaves NumPy's OpenBLAS on one thread in the server process: its default
    two threads spin against everything else on the server's cores (ui/draw_session.py)."""
    import ctypes

    from ui.draw_session import _loaded_openblas

    libraries = _loaded_openblas()
    assert libraries, "NumPy's OpenBLAS is not loaded"
    lib = ctypes.CDLL(libraries[0])
    getter = next(getattr(lib, n) for n in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads")
                  if hasattr(lib, n))
    assert getter() == 1


def test_a_lone_dot_is_nothing_to_read(at):
    """A single dot was read "Not sure: 0 (79%) or 8 (10%)": there is nothing to read, and no guess."""
    inject(at, lambda d: d.ellipse((130, 130, 150, 150), fill=WHITE))       # one click of the 20 px pen
    assert not at.exception
    assert prediction(at) == "–" and not at.warning
    assert any(i.value.startswith("Nothing to read: a single dot") and "Draw a whole digit" in i.value
               for i in at.info)
    assert not any("Not sure" in w.value for w in at.warning) and "draw_teach" not in [b.key for b in at.button]


def test_the_caption_says_who_straightened_the_digits(at):
    """MNIST's digits are cropped, scaled and centred, but not deskewed: the caption said the drawing was
    straightened "exactly as the MNIST digits were prepared"."""
    inject(at, DRAWINGS[7])
    caption = next(c.value for c in at.caption if c.value.startswith("Your picture is cropped"))
    assert "exactly as the MNIST" not in caption
    assert "as the MNIST digits were prepared. Then it is straightened" in caption
    assert "MNIST's own digits keep the slant" in caption and "this app straightened every digit" in caption


def test_a_scribble_is_not_sure_and_gives_two_guesses(at):
    inject(at, ZIGZAG)
    assert prediction(at) == "?"
    warning = next(w.value for w in at.warning if "Not sure" in w.value)
    first, second = GUESSES.search(warning).groups()
    assert first != second
    assert "does not look like a digit" in warning


def test_low_confidence_is_not_sure(at, weights_dir):
    # a network whose last layer is all zeros gives 10% to every digit: never sure
    model = MLP(ModelConfig(784, (8,), 10), seed=0)
    model.dense_layers[-1].params["W"][...] = 0
    (weights_dir / "published").mkdir()
    model.save(weights_dir / "published" / "undecided.npz", meta={"val_accuracy": 0.1})
    at.run()
    assert "undecided (published)" in at.selectbox(key="draw_model").options
    at.selectbox(key="draw_model").set_value(str(weights_dir / "published" / "undecided.npz")).run()
    inject(at, DRAWINGS[1])
    assert prediction(at) == "?"
    warning = next(w.value for w in at.warning if "Not sure" in w.value)
    assert GUESSES.search(warning) and "below 60%" in warning


def test_clear_empties_the_canvas(at):
    inject(at, DRAWINGS[7])
    assert prediction(at) == "7"
    old_key = at.session_state["draw_canvas_key"]
    at.button(key="draw_clear").click().run()
    assert at.session_state["draw_canvas_key"] != old_key
    assert prediction(at) == "–"
    assert any("draw a digit" in i.value for i in at.info)


def test_the_canvas_reset_button_shows_the_prompt(at):
    # the toolbar's reset sends an all-black image, not None
    inject(at, lambda d: None)
    assert prediction(at) == "–"
    assert any("empty" in i.value for i in at.info)


def test_model_picker_lists_saved_models_and_broken_ones_with_the_reason(at, weights_dir):
    folder = mine(at, weights_dir)
    MLP(ModelConfig(784, (32,), 10), seed=1).save(folder / "tiny.npz")
    (folder / "broken.npz").write_bytes(b"this is not a model")
    MLP(ModelConfig(2, (4,), 2), seed=1).save(folder / "spirals.npz")   # not a digit model
    at.run()
    picker = at.selectbox(key="draw_model")
    labels = picker.options            # as shown
    assert labels[0] == "default (shipped)" and "tiny (yours)" in labels
    assert not any(word in label for label in labels for word in ("broken", "spirals"))
    unusable = [m.value for m in at.expander[0].markdown]
    assert len(unusable) == 2          # one line per broken file
    assert any(line.startswith("- **broken** (yours, unusable)") for line in unusable)
    assert any(line.startswith("- **spirals** (yours, unusable)") and "expected 784" in line
               for line in unusable)
    inject(at, DRAWINGS[1])          # the page keeps working
    assert not at.exception and prediction(at) == "1"


def test_the_list_loads_no_model_but_the_chosen_one(at, weights_dir, monkeypatch):
    folder = mine(at, weights_dir)
    for i in range(3):
        MLP(ModelConfig(784, (8 + i,), 10), seed=i).save(folder / f"m{i}.npz")
    loaded = []
    original = MLP.load.__func__
    monkeypatch.setattr(MLP, "load", classmethod(lambda cls, path, *a, **k: (loaded.append(str(path)),
                                                                               original(cls, path, *a, **k))[1]))
    at.run()
    inject(at, DRAWINGS[1])
    assert not at.exception
    assert not any(str(folder) in p for p in loaded)          # listed from their headers only
    at.selectbox(key="draw_model").set_value(str(folder / "m1.npz")).run()
    assert [p for p in loaded if str(folder) in p] == [str(folder / "m1.npz")]
    assert not at.exception and prediction(at) in "0123456789?"


def test_the_list_keeps_the_newest_files_of_a_folder(at, weights_dir):
    folder = mine(at, weights_dir)
    model = MLP(ModelConfig(784, (4,), 10), seed=0)
    for i in range(MAX_LISTED + 3):
        path = model.save(folder / f"m{i:02d}.npz")
        os.utime(path, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))     # m00 oldest, m52 newest
    at.run()
    mine_listed = [o for o in at.selectbox(key="draw_model").options if o.endswith("(yours)")]
    assert len(mine_listed) == MAX_LISTED
    assert mine_listed[0] == f"m{MAX_LISTED + 2:02d} (yours)" and "m00 (yours)" not in mine_listed
    assert any("3 older model files are not listed" in c.value for c in at.caption)


def test_a_file_that_fails_only_when_loaded_is_refused_when_chosen(at, weights_dir):
    folder = mine(at, weights_dir)
    path = MLP(ModelConfig(784, (16,), 10), seed=0).save(folder / "damaged.npz")
    data = bytearray(path.read_bytes())
    at_w = data.find(b"layers.0.W.npy")
    data[at_w + 2000] ^= 0xFF                  # inside the first weight matrix: its checksum fails
    path.write_bytes(bytes(data))
    at.run()
    at.selectbox(key="draw_model").set_value(str(path)).run()
    assert not at.exception
    assert any("This model cannot be used" in e.value for e in at.error)
    at.selectbox(key="draw_model").set_value(at.selectbox(key="draw_model").options[0]).run()
    inject(at, DRAWINGS[7])
    assert not at.exception and prediction(at) == "7"


def test_another_learners_models_are_not_listed(at, weights_dir):
    other = weights_dir / "learners" / ("x" * 22)
    other.mkdir(parents=True)
    MLP(ModelConfig(784, (8,), 10), seed=0).save(other / "theirs.npz")
    at.run()
    assert not any("theirs" in o for o in at.selectbox(key="draw_model").options)


def test_teach_it_trains_a_personal_copy_and_saves_it(at, weights_dir):
    import ui.shared as common

    inject(at, DRAWINGS[7])
    assert prediction(at) == "7"
    at.segmented_control(key="draw_teach_label").set_value(1).run()
    for _ in range(3):             # a clear 7 may need a second lesson to become a 1
        at.button(key="draw_teach").click().run()
        assert not at.exception
        if best_guess(at) == "1":
            break
    # the taught copy now reads it as a 1 (an answer learnt from one drawing may be "not sure":
    # nudged or thickened copies of the drawing can still look like a 7 to it)
    assert best_guess(at) == "1"
    assert at.selectbox(key="draw_model").value == "__taught__"
    # what the lesson says agrees with the answer above it: "reads it as a 1" only when the answer is a 1
    if prediction(at) == "1":
        assert any("it now reads your drawing as a 1" in s.value for s in at.success)
    else:
        assert prediction(at) == "?" and not any("Learnt in" in s.value for s in at.success)
        assert any("1 is its top answer" in i.value and "not sure yet" in i.value for i in at.info)
    assert any("Share right of the 2,000 bundled test digits" in c.value for c in at.caption)
    # the model's description is the taught copy's, not its base model's (whose figures it no longer has)
    described = [c.value for c in at.caption if "your copy of default" in c.value]
    assert described and any(f"taught {n} drawing" in described[0] for n in (1, 2, 3))
    assert "of the 2,000 bundled test digits right" in described[0] and "trained on" not in described[0]
    # "About this model" describes the taught copy too, with the same figure as the line above: its
    # card is its base model's making plus its lessons, its temperature its base model's, said plainly
    personal = at.session_state["draw_personal"]
    figure = f"{personal['accuracy'][-1]:.2%}"
    assert described[0].count(figure) >= 1 and f"{figure} of the 2,000 bundled test digits right" in described[0]
    assert next(m.value for m in at.metric if m.label == "Bundled test digits") == figure
    trained = next(m.value for m in at.markdown if m.value.startswith("**Trained on:**")).replace("\\", "")
    n = len(personal["lessons"])
    assert "default's training (MNIST" in trained and f"then {n} lesson" in trained and "no model card" not in trained
    assert any("keeps default's temperature (T = 1.61)" in c.value and "not fitted again" in c.value
               for c in at.caption)
    # the shared shipped model still reads the drawing as a 7
    at.selectbox(key="draw_model").set_value(str(common.SHIPPED_MODEL)).run()
    assert prediction(at) == "7"

    at.text_input(key="draw_save_name").input("my 7 is a 1").run()
    at.button(key="draw_save").click().run()
    saved = mine(at, weights_dir) / "my-7-is-a-1.npz"
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    assert sorted(p.name for p in weights_dir.rglob("*.npz")) == ["my-7-is-a-1.npz"]
    assert any("Saved as 'my-7-is-a-1'" in s.value for s in at.success)
    model = MLP.load(saved)
    assert model.meta["source"].startswith("Draw page") and 1 in model.meta["lessons"]
    # its card keeps its base model's temperature, not figures measured on its base model's weights
    assert model.meta["temperature"] == common.load_model(
        common.ModelEntry("default", common.SHIPPED_MODEL, "shipped")).meta["temperature"]
    assert not {"evaluations", "calibration", "test_accuracy"} & set(model.meta)
    at.button(key="draw_save").click().run()           # the same name again is refused
    assert any("You have a model called 'my-7-is-a-1' already" in e.value for e in at.error)
    assert "my-7-is-a-1 (yours)" in at.selectbox(key="draw_model").options

    at.selectbox(key="draw_model").set_value(str(saved)).run()
    assert best_guess(at) == "1"
    at.button(key="draw_forget").click().run()
    assert not any("taught" in o for o in at.selectbox(key="draw_model").options)


def tabs_path(at: AppTest) -> list[int]:
    """Where the model lab's tabs are in the page: the indices of the blocks that lead to them."""
    def walk(node, path):
        if type(node).__name__ == "Tab" and node.label == "About this model":
            return path[:-1]
        for index, child in getattr(node, "children", {}).items():
            found = walk(child, path + [index])
            if found:
                return found
        return None
    return walk(at.main, [])


def test_the_model_lab_tabs_stay_in_place_as_the_page_changes(at):
    """The browser rebuilds tabs that move to another place in the page, back on their first tab: the
    learner who opened "Where is my digit?" and then drew was sent back to "About this model" at the
    first stroke (what the drawing brings is shown above the tabs), at Clear and after a lesson."""
    empty = tabs_path(at)
    assert empty is not None
    inject(at, DRAWINGS[7])
    assert tabs_path(at) == empty
    at.segmented_control(key="draw_teach_label").set_value(1).run()
    at.button(key="draw_teach").click().run()          # the taught copy's section appears too
    assert not at.exception and tabs_path(at) == empty
    at.button(key="draw_clear").click().run()
    assert prediction(at) == "–" and tabs_path(at) == empty


def test_teach_button_waits_for_a_digit(at):
    inject(at, DRAWINGS[0])
    assert at.button(key="draw_teach").disabled
    # the ten digits wrap onto a second row where they do not fit (a phone): in their horizontal
    # container they would otherwise stay on one row and scroll the 9 out of sight
    assert at.segmented_control(key="draw_teach_label").proto.wrap


@pytest.mark.parametrize("fmt,mime", [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_photo_upload_is_read_like_a_drawing(at, fmt, mime):
    at.radio(key="draw_source").set_value("Photo").run()
    assert prediction(at) == "–" and any("Upload" in i.value for i in at.info)
    at.file_uploader(key="draw_upload").set_value((f"seven.{fmt.lower()}", photo_bytes(fmt), mime)).run()
    assert not at.exception and not at.error
    assert prediction(at) == "7"


@pytest.mark.parametrize("content,message", [
    (b"definitely not a picture", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not an image"),
    (b"\xff" * 11_000_000, "limit is 10 MB"),
])
def test_bad_uploads_get_a_clear_message(at, content, message):
    at.radio(key="draw_source").set_value("Photo").run()
    at.file_uploader(key="draw_upload").set_value(("digit.png", content, "image/png")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert message in errors
    assert prediction(at) == "–"
