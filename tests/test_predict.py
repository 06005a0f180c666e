"""`python -m nn.predict`: one JSON line per image, errors per image, exit codes."""
import json
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw

from nn.data import load_mnist_sample
from nn.model import MLP, ModelConfig


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nn.predict", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def paper_digit(path, digit_img):
    """A bundled MNIST digit as a 'photo': dark ink on light paper, 300x300, slightly noisy JPEG."""
    ink = np.asarray(Image.fromarray((digit_img * 255).astype(np.uint8)).resize((200, 200), Image.BILINEAR))
    page = np.full((300, 300), 235, np.float32)
    page[50:250, 60:260] -= ink.astype(np.float32) * 0.8
    page += np.random.default_rng(0).normal(0, 4, page.shape)
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).convert("RGB").save(path, quality=90)


def test_predicts_photos_blanks_and_reports_bad_files(tmp_path):
    data = load_mnist_sample()
    # the first test digit of classes 3 and 7, printed on "paper"
    files = []
    for digit in (3, 7):
        i = int(np.flatnonzero(data.y_val == digit)[0])
        files.append(tmp_path / f"digit{digit}.jpg")
        paper_digit(files[-1], data.x_val[i].reshape(28, 28))
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    proc = run(*files, blank, broken, tmp_path / "missing.png")
    assert proc.returncode == 1                                   # some images failed
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in lines] == [str(p) for p in (*files, blank, broken, tmp_path / "missing.png")]
    assert [lines[0]["digit"], lines[1]["digit"]] == [3, 7]
    for r in lines[:2]:
        assert len(r["probs"]) == 10 and abs(sum(r["probs"]) - 1) < 1e-3
        assert r["confidence"] == max(r["probs"])
    assert lines[2]["digit"] is None and lines[2]["reason"]
    assert "error" in lines[3] and "error" in lines[4]


def test_all_good_exits_0(tmp_path):
    img = tmp_path / "one.png"
    im = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(im).line([(140, 40), (140, 240)], fill=255, width=20)
    im.save(img)
    proc = run(img)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digit"] == 1


def test_unusable_weights_exit_2_with_the_reason(tmp_path):
    img = tmp_path / "x.png"
    Image.new("L", (28, 28), 0).save(img)
    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    proc = run("--weights", bad, img)
    assert proc.returncode == 2 and "not a readable model file" in proc.stderr
    wrong = MLP(ModelConfig(2, (3,), 2)).save(tmp_path / "xor.npz")
    proc = run("--weights", wrong, img)
    assert proc.returncode == 2 and "expected 784" in proc.stderr


def test_odd_images_give_one_json_error_each_not_a_traceback(tmp_path):
    from tests.test_hostile import png, tiff_with_strips

    good = tmp_path / "one.png"
    im = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(im).line([(140, 40), (140, 240)], fill=255, width=20)
    im.save(good)
    odd = {"deep.png": png(5000, 5000, 16),                 # 16-bit, 25 megapixels: 50 MB to decode
           "cut.png": good.read_bytes()[:300],              # truncated
           "strips.tif": tiff_with_strips(1000)}            # a format outside the list
    for name, data in odd.items():
        (tmp_path / name).write_bytes(data)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    files = [good, *(tmp_path / name for name in odd), folder]
    proc = run(*files)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in lines] == [str(p) for p in files]
    assert lines[0]["digit"] == 1
    assert "too large to decode" in lines[1]["error"] and "16-bit grey" in lines[1]["error"]
    assert "truncated or damaged" in lines[2]["error"]
    assert "not an image that can be read" in lines[3]["error"]
    assert "No image file" in lines[4]["error"]


def test_a_reader_that_goes_away_ends_it_quietly(tmp_path):
    img = tmp_path / "x.png"
    Image.new("L", (28, 28), 0).save(img)
    proc = subprocess.Popen([sys.executable, "-m", "nn.predict", *[str(img)] * 200],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                                  # as `python -m nn.predict ... | head -0`
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141 and err == b""


def test_sure_is_decided_as_the_draw_page_decides(tmp_path):
    """The page's rule is nn.explain.judge; a dash is "not sure" on the page, so it is here too."""
    from nn.explain import judge
    from nn.predict import DEFAULT_WEIGHTS
    from nn.preprocess import preprocess

    drawings = {"dash": [(40, 140), (240, 140)], "one": [(140, 40), (140, 240)]}
    files = []
    for name, line in drawings.items():
        im = Image.new("L", (280, 280), 0)
        ImageDraw.Draw(im).line(line, fill=255, width=18)
        files.append(tmp_path / f"{name}.png")
        im.save(files[-1])
    proc = run(*files)
    assert proc.returncode == 0, proc.stderr
    dash, one = (json.loads(line) for line in proc.stdout.splitlines())
    assert dash["sure"] is False and "dash" in dash["reason"] and isinstance(dash["digit"], int)
    assert one["sure"] is True and one["digit"] == 1 and "reason" not in one
    model = MLP.load(DEFAULT_WEIGHTS)
    for record, path in zip((dash, one), files):
        view = judge(model, preprocess(np.asarray(Image.open(path))).x)
        assert record["sure"] == view.sure and record["digit"] == view.digit
        assert record["confidence"] == round(view.confidence, 4)          # calibrated, as on the page
        assert record["confidence"] == max(record["probs"])


def test_a_blank_image_is_not_sure(tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    record = json.loads(run(blank).stdout)
    assert record["digit"] is None and record["sure"] is False and record["reason"]


def test_a_lone_dot_gets_no_guess(tmp_path):
    # dark ink on white paper, one round blot: nothing to read, as the Draw page says
    blot = tmp_path / "dot.png"
    img = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(img).ellipse((130, 130, 150, 150), fill=0)
    img.save(blot)
    record = json.loads(run(blot).stdout)
    assert record["digit"] is None and record["probs"] is None and record["sure"] is False
    assert "Nothing to read" in record["reason"]
