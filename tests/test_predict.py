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
