"""Hostile input costs nothing: images, model files and downloads are bounded before they are decoded,
read or stored, whatever they claim.

Each memory case runs in a fresh Python process, which notes its resident memory just before the call
and its peak (VmHWM) just after: the difference is what the case cost, held under a stated bound. The
same cases, run as a script, print the table of what each costs (``--src DIR`` measures another
checkout of nn, e.g. the previous commit for a before/after comparison):

    python -m tests.test_hostile [--src DIR]
"""
from __future__ import annotations

import http.server
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="memory is read from /proc (Linux)")

# What a case may add to a process's peak memory, in MB. An image within the decoding budget
# (nn.preprocess.MAX_DECODED_BYTES, 48 MB) costs that budget plus small working arrays; anything
# refused costs its file's bytes and little more; a model costs itself (weights and gradients) plus
# its initialisation and its largest array.
ACCEPTED_IMAGE_MB = 64
REFUSED_MB = 12
LEGIT_MODEL_MB = 160

# --------------------------------------------------------------------------------------------------
# Making hostile files


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, depth: int = 8, colour: int = 0, text_chunks: int = 0) -> bytes:
    """A PNG written row by row (fast at any size): a vertical bar, a "1", light on black.

    depth 1, 8 or 16 bits a sample; colour 0 grey, 2 RGB, 3 palette (black, white, red), 6 RGBA (8-bit);
    text_chunks zTXt chunks of 1 MB of text each (a few hundred bytes compressed) before the pixels.
    """
    sample = {0: 1, 2: 3, 3: 1, 6: 4}[colour] * depth
    blank_px, ink_px = (b"\0\0\0\xff", b"\xff" * 4) if colour == 6 else (b"", b"")
    lo, hi = int(width * 0.45), int(width * 0.55)
    if depth == 1:
        blank = bytearray((width + 7) // 8)
        ink = bytearray(blank)
        ink[lo // 8:hi // 8] = b"\xff" * (hi // 8 - lo // 8)
    elif colour == 6:
        blank = bytearray(blank_px * width)
        ink = bytearray(blank)
        ink[lo * 4:hi * 4] = ink_px * (hi - lo)
    else:
        blank = bytearray(width * sample // 8)
        ink = bytearray(blank)
        value = b"\x01" if colour == 3 else b"\xff" * (sample // 8)       # palette entry 1 is white
        ink[lo * len(value):hi * len(value)] = value * (hi - lo)
    rows = (b"\0" + bytes(blank), b"\0" + bytes(ink))
    packer = zlib.compressobj(6)
    idat = [packer.compress(rows[int(0.2 * height) <= y < int(0.8 * height)]) for y in range(height)]
    idat.append(packer.flush())
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))]
    if colour == 3:
        out.append(_chunk(b"PLTE", b"\0\0\0\xff\xff\xff\xff\0\0"))
    text = zlib.compress(b"a" * 1_000_000, 9)
    out += [_chunk(b"zTXt", f"note{i}".encode() + b"\0\0" + text) for i in range(text_chunks)]
    out += [_chunk(b"IDAT", b"".join(idat)), _chunk(b"IEND", b"")]
    return b"".join(out)


def jpeg(width: int, height: int, mode: str = "L", **options) -> bytes:
    """A JPEG of a bar (a "1"), dark on light paper; ``options`` go to Pillow (progressive=True...)."""
    im = Image.new(mode, (width, height), "white" if mode != "CMYK" else (0, 0, 0, 0))
    ink = "black" if mode != "CMYK" else (0, 0, 0, 255)
    ImageDraw.Draw(im).rectangle((int(width * 0.45), int(height * 0.2), int(width * 0.55), int(height * 0.8)),
                                 fill=ink)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=75, **options)
    return buf.getvalue()


def webp(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "WEBP", quality=50)
    return buf.getvalue()


def tiff_with_strips(n: int) -> bytes:
    """A 1 x n grey TIFF whose every row is a strip: Pillow lists each strip when it merely opens it."""
    entries = 9
    offsets_at = 8 + 2 + 12 * entries + 4
    counts_at = offsets_at + 4 * n
    pixels_at = counts_at + 4 * n

    def entry(tag, kind, count, value):
        return struct.pack("<HHII", tag, kind, count, value)

    ifd = [entry(256, 4, 1, 1), entry(257, 4, 1, n), entry(258, 3, 1, 8), entry(259, 3, 1, 1),
           entry(262, 3, 1, 1), entry(273, 4, n, offsets_at), entry(277, 3, 1, 1), entry(278, 4, 1, 1),
           entry(279, 4, n, counts_at)]
    head = b"II*\0" + struct.pack("<IH", 8, entries) + b"".join(ifd) + struct.pack("<I", 0)
    offsets = np.arange(pixels_at, pixels_at + n, dtype="<u4").tobytes()
    return head + offsets + np.ones(n, "<u4").tobytes() + bytes(n)


def bomb_header() -> bytes:
    """69 bytes whose header claims 60000 x 60000 pixels."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _chunk(b"IEND", b""))


def npy_header(shape: tuple, dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buf.getvalue()


def model_arrays(config: dict | None = None) -> dict[str, np.ndarray]:
    """The arrays of a small real model file (784 -> 16 -> 10), the config optionally replaced."""
    from nn.model import MLP, ModelConfig

    arrays = {k: np.ascontiguousarray(v) for k, v in MLP(ModelConfig(784, (16,), 10)).state().items()}
    arrays["config"] = np.array(json.dumps(config or {"input_dim": 784, "hidden": [16], "output_dim": 10}))
    arrays["meta"] = np.array(json.dumps({"name": "hostile"}))
    arrays["format_version"] = np.array(1)
    return arrays


def write_npz(path: Path, arrays: dict, declared: dict | None = None, hollow: dict | None = None,
              extra_members: int = 0) -> Path:
    """An .npz written member by member, deflated.

    declared : key -> (shape, dtype): a member whose header declares that, followed by that many
        zero bytes (really there, deflated about 1000:1)
    hollow : key -> (shape, dtype): a member whose header declares that, followed by 1 KB only
    extra_members : that many empty members besides
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for key, value in arrays.items():
            if key in (declared or {}) or key in (hollow or {}):
                continue
            buf = io.BytesIO()
            np.lib.format.write_array(buf, value, allow_pickle=False)
            z.writestr(key + ".npy", buf.getvalue())
        for key, (shape, dtype) in (declared or {}).items():
            left = int(np.prod(shape)) * np.dtype(dtype).itemsize
            zeros = bytes(1 << 22)
            with z.open(key + ".npy", "w", force_zip64=True) as f:
                f.write(npy_header(shape, dtype))
                while left > 0:
                    f.write(zeros[:min(left, len(zeros))])
                    left -= len(zeros)
        for key, (shape, dtype) in (hollow or {}).items():
            z.writestr(key + ".npy", npy_header(shape, dtype) + bytes(1024))
        for i in range(extra_members):
            z.writestr(f"x{i}.npy", b"")
    return path


def legit_model(path: Path) -> Path:
    from nn.model import MLP, ModelConfig

    return MLP(ModelConfig(784, (2048, 2048), 10)).save(path, meta={"name": "wide"})


BIG = {"input_dim": 4096, "hidden": [2048] * 8, "output_dim": 1000}

# id -> (kind, file name, maker, expected outcome, bound in MB)
IMAGE_CASES = {
    "16-bit grey PNG, 25 MP": ("image", "grey16.png", lambda: png(5000, 5000, 16), "refused", REFUSED_MB),
    "16-bit grey PNG, 12 MP": ("image", "grey16s.png", lambda: png(4000, 3000, 16), "decoded", ACCEPTED_IMAGE_MB),
    "16-bit RGB PNG, 12 MP": ("image", "rgb16.png", lambda: png(4000, 3000, 16, 2), "decoded", ACCEPTED_IMAGE_MB),
    "RGB PNG, 36 MP": ("image", "rgb.png", lambda: png(6000, 6000, 8, 2), "refused", REFUSED_MB),
    "RGBA PNG, 12 MP": ("image", "rgba.png", lambda: png(4000, 3000, 8, 6), "refused", REFUSED_MB),
    "RGBA PNG, 6 MP": ("image", "rgbas.png", lambda: png(3000, 2000, 8, 6), "decoded", ACCEPTED_IMAGE_MB),
    "palette PNG, 9 MP": ("image", "pal.png", lambda: png(3000, 3000, 8, 3), "decoded", ACCEPTED_IMAGE_MB),
    "palette PNG, 36 MP": ("image", "palbig.png", lambda: png(6000, 6000, 8, 3), "refused", REFUSED_MB),
    "1-bit PNG, 24 MP": ("image", "bits.png", lambda: png(6000, 4000, 1), "decoded", ACCEPTED_IMAGE_MB),
    "grey PNG, 40 MP": ("image", "grey.png", lambda: png(8000, 5000), "decoded", ACCEPTED_IMAGE_MB),
    "PNG with 64 MB of zTXt text": ("image", "text.png", lambda: png(64, 64, text_chunks=64), "decoded", REFUSED_MB),
    "JPEG, 36 MP": ("image", "big.jpg", lambda: jpeg(6000, 6000), "decoded", REFUSED_MB),
    "CMYK JPEG, 16 MP": ("image", "cmyk.jpg", lambda: jpeg(4000, 4000, "CMYK"), "decoded", REFUSED_MB),
    "progressive JPEG, 36 MP": ("image", "prog.jpg", lambda: jpeg(6000, 6000, "RGB", progressive=True),
                                "refused", REFUSED_MB),
    "WebP, 12 MP": ("image", "big.webp", lambda: webp(4000, 3000), "refused", REFUSED_MB),
    "TIFF listing 2 million strips": ("image", "strips.tif", lambda: tiff_with_strips(2_000_000), "refused",
                                      REFUSED_MB + 18),       # its 18 MB are read (max_bytes is 20 MB)
    "PNG header claiming 60000 x 60000": ("image", "bomb.png", bomb_header, "refused", REFUSED_MB),
}
MODEL_CASES = {
    "a 400 MB array, deflated": (
        "model", "w400.npz", lambda p: write_npz(p, model_arrays(), declared={"layers.0.W": ((10_000, 10_000), "<f4")}),
        "refused", REFUSED_MB),
    "a 63 MB array the config does not want": (
        "model", "w63.npz", lambda p: write_npz(p, model_arrays(), declared={"layers.0.W": ((784, 20_000), "<f4")}),
        "refused", REFUSED_MB),
    "an extra 100 MB member": (
        "model", "extra.npz", lambda p: write_npz(p, model_arrays(), declared={"junk": ((25_000_000,), "<f4")}),
        "refused", REFUSED_MB),
    "metadata of 40 MB": (
        "model", "meta.npz", lambda p: write_npz(p, model_arrays(), declared={"meta": ((), "<U10000000")}),
        "refused", REFUSED_MB),
    "a config of 60000 inputs": (
        "model", "inputs.npz", lambda p: write_npz(p, model_arrays({**BIG, "input_dim": 60_000})), "refused", REFUSED_MB),
    "a config of 40 million parameters, tiny arrays": (
        "model", "config.npz", lambda p: write_npz(p, model_arrays(BIG)), "refused", REFUSED_MB),
    "1,000 members": ("model", "members.npz", lambda p: write_npz(p, model_arrays(), extra_members=1000),
                      "refused", REFUSED_MB),
    "70,000 members (zip64)": ("model", "zip64.npz", lambda p: write_npz(p, model_arrays(), extra_members=70_000),
                               "refused", REFUSED_MB),
    "a header declaring 1 GB over 1 KB of data": (
        "model", "hollow.npz", lambda p: write_npz(p, model_arrays(), hollow={"layers.0.W": ((16384, 16384), "<f4")}),
        "refused", REFUSED_MB),
    "a real 784-2048-2048-10 model (23 MB)": ("model", "wide.npz", legit_model, "loaded", LEGIT_MODEL_MB),
}

# --------------------------------------------------------------------------------------------------
# Measuring in a fresh process

CHILD = r"""
import json, sys
from nn.model import MLP, ModelFileError
from nn.preprocess import ImageError, load_image, preprocess

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                     # start the peak (VmHWM) afresh
except OSError:
    pass
kind, path = sys.argv[1:3]
before = status("VmRSS")
try:
    if kind == "image":
        image = load_image(path)
        outcome = f"decoded {image.shape}: " + ("blank" if preprocess(image).blank else "a digit")
    elif kind == "peek":
        from nn.model import peek
        outcome = f"peeked: {peek(path).n_params:,} parameters"
    else:
        outcome = f"loaded: {MLP.load(path).n_params:,} parameters"
except (ImageError, ModelFileError) as e:
    outcome = f"refused: {e}"
print(json.dumps({"mb": status("VmHWM") - before, "outcome": outcome}))
"""


def measure(kind: str, path: Path, src: Path = REPO) -> tuple[float, str]:
    """(MB the call added to a fresh process's peak memory, what happened)."""
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], cwd=src, capture_output=True,
                          text=True, timeout=300, check=False)
    if proc.returncode != 0:
        return float("nan"), "crashed: " + proc.stderr.strip().splitlines()[-1]
    result = json.loads(proc.stdout)
    return result["mb"], result["outcome"]


def make(case: tuple, folder: Path) -> Path:
    kind, name, maker = case[:3]
    path = folder / name
    if not path.exists():
        if kind == "image":
            path.write_bytes(maker())
        else:
            maker(path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.parametrize("case", list(IMAGE_CASES), ids=list(IMAGE_CASES))
def test_image_costs_at_most_its_bound(case, folder):
    kind, _, _, expected, bound = IMAGE_CASES[case]
    mb, outcome = measure(kind, make(IMAGE_CASES[case], folder))
    assert outcome.startswith(expected), outcome
    assert mb <= bound, f"{case}: {mb:.0f} MB, bound {bound} MB ({outcome})"


@pytest.mark.parametrize("case", list(MODEL_CASES), ids=list(MODEL_CASES))
def test_model_file_costs_at_most_its_bound(case, folder):
    kind, _, _, expected, bound = MODEL_CASES[case]
    mb, outcome = measure(kind, make(MODEL_CASES[case], folder))
    assert outcome.startswith(expected), outcome
    assert mb <= bound, f"{case}: {mb:.0f} MB, bound {bound} MB ({outcome})"


@pytest.mark.parametrize("case", list(MODEL_CASES), ids=list(MODEL_CASES))
def test_peeking_at_any_model_file_costs_next_to_nothing(case, folder):
    mb, outcome = measure("peek", make(MODEL_CASES[case], folder))
    expected = "peeked" if MODEL_CASES[case][3] == "loaded" else "refused"
    assert outcome.startswith(expected), outcome
    assert mb <= 4, f"{case}: {mb:.1f} MB ({outcome})"


def _predict_peak_mb(image: Path) -> float:
    """The peak memory (MB) of a whole ``python -m nn.predict IMAGE`` process."""
    proc = subprocess.Popen([sys.executable, "-m", "nn.predict", str(image)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    assert b"Traceback" not in err, err.decode()
    assert os.waitstatus_to_exitcode(status) in (0, 1), err.decode()
    json.loads(out)                                   # one JSON line, whatever happened
    return usage.ru_maxrss / 1024


def test_predict_cli_on_hostile_images_costs_what_a_small_one_does(folder, tmp_path):
    small = tmp_path / "small.png"
    small.write_bytes(png(280, 280))
    baseline = _predict_peak_mb(small)
    for case in ("16-bit grey PNG, 25 MP", "RGB PNG, 36 MP", "JPEG, 36 MP"):
        peak = _predict_peak_mb(make(IMAGE_CASES[case], folder))
        assert peak - baseline <= REFUSED_MB, f"{case}: {peak:.0f} MB against {baseline:.0f} MB"


# --------------------------------------------------------------------------------------------------
# Downloads: a server that announces, or sends, more than the file takes


class _LyingServer:
    """127.0.0.1 only. /liar/<name>: announces 20 GB, sends 1 KB. /endless/<name>: no length, sends
    zeros until the client goes (at most 64 MB). /exact/<name>: ``body``. Counts the bytes it sent."""

    def __init__(self, body: bytes) -> None:
        self.sent = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                route = self.path.strip("/").split("/")[0]
                self.send_response(200)
                if route == "liar":
                    self.send_header("Content-Length", str(20_000_000_000))
                elif route == "exact":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if route == "exact":
                        self.wfile.write(body)
                        server.sent += len(body)
                        return
                    block = bytes(1 << 16)
                    for _ in range(1 if route == "liar" else 1024):
                        self.wfile.write(block[:1024] if route == "liar" else block)
                        server.sent += 1024 if route == "liar" else len(block)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def liar(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = _LyingServer(bytes(4543))
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_a_download_announcing_more_than_the_file_takes_is_refused_unread(liar, tmp_path):
    from nn.download import DownloadError, download

    files = {"f.gz": "0" * 64}
    with pytest.raises(DownloadError, match="announces 20,000,000,000 bytes, more than the 1,000,000"):
        download("mnist", cache_dir=tmp_path, mirrors=[liar.url + "/liar/"], files=files, max_bytes=1_000_000)
    assert not (tmp_path / "mnist").exists()                  # nothing written, not even a folder


def test_a_download_sending_more_than_the_file_takes_is_cut_off(liar, tmp_path):
    from nn.download import DownloadError, download

    files = {"f.gz": "0" * 64}
    with pytest.raises(DownloadError, match="sent more than the 1,000,000 bytes"):
        download("mnist", cache_dir=tmp_path, mirrors=[liar.url + "/endless/"], files=files, max_bytes=1_000_000)
    assert not (tmp_path / "mnist").exists()


def test_an_official_file_may_take_exactly_its_published_size(liar, tmp_path):
    from nn.data import SOURCES
    from nn.download import EXPECTED_SIZES, DownloadError, download

    for source in SOURCES.values():                            # every official file has its size
        assert all(digest in EXPECTED_SIZES for digest in source.files.values())
    digest = SOURCES["mnist"].files["t10k-labels-idx1-ubyte.gz"]
    assert EXPECTED_SIZES[digest] == 4542
    with pytest.raises(DownloadError, match="announces 4,543 bytes, more than the 4,542"):
        download("mnist", cache_dir=tmp_path, mirrors=[liar.url + "/exact/"],
                 files={"t10k-labels-idx1-ubyte.gz": digest})


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 1e300, 0, -1, 601, "30"])
def test_an_absurd_timeout_is_refused_before_connecting(timeout, tmp_path):
    from nn.download import download

    with pytest.raises(ValueError, match=r"timeout must be a number of seconds in \(0, 600\]"):
        download("mnist", cache_dir=tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=timeout)


def test_the_data_command_refuses_an_absurd_timeout_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nn.data", "download", "mnist", "--timeout", "1e300",
                           "--dir", str(tmp_path), "--mirror", "http://127.0.0.1:9/"],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "timeout must be a number of seconds in (0, 600]" in proc.stderr


# --------------------------------------------------------------------------------------------------
# The table, for a report: python -m tests.test_hostile [--src DIR]


def main(argv: list[str]) -> None:
    src = Path(argv[argv.index("--src") + 1]) if "--src" in argv else REPO
    with tempfile.TemporaryDirectory() as tmp:
        for cases in (IMAGE_CASES, MODEL_CASES):
            for name, case in cases.items():
                path = make(case, Path(tmp))
                mb, outcome = measure(case[0], path, src)
                print(f"{name:48s} {path.stat().st_size:>12,d} B {mb:8.1f} MB  {outcome[:110]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
