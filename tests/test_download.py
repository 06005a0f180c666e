"""Tests for nn.download and ``python -m nn.data download`` (nn.cli.data_main).

The downloader is tested against a local HTTP server on 127.0.0.1 serving small generated IDX files;
nothing here touches the internet.
"""
import gzip
import hashlib
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nn import cli, data
from nn.data import is_downloaded, load_idx_dataset
from nn.download import DownloadError, download
from tests.idx_files import fake_digits, idx_bytes

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- downloader (local server)

class _Server:
    """A threaded HTTP server on 127.0.0.1 serving ``files`` under three routes.

    /good/<name>   the file, with a correct Content-Length
    /cut/<name>    a Content-Length 1000 bytes too big, then half the file, then the connection closes
    anything else  404
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(self.path)
                route, _, name = self.path.strip("/").partition("/")
                body = server.files.get(name)
                if body is None or route not in ("good", "cut"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body) + (1000 if route == "cut" else 0)))
                self.end_headers()
                self.wfile.write(body if route == "good" else body[: len(body) // 2])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def mirror(self, route: str) -> str:
        return f"{self.url}/{route}/"


@pytest.fixture
def idx_files(rng):
    """Four small gzipped IDX files named like MNIST's: 30 training and 12 test digits."""
    train_x, train_y = fake_digits(rng, 30)
    test_x, test_y = fake_digits(rng, 12)
    arrays = {"train-images-idx3-ubyte.gz": train_x, "train-labels-idx1-ubyte.gz": train_y,
              "t10k-images-idx3-ubyte.gz": test_x, "t10k-labels-idx1-ubyte.gz": test_y}
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}, arrays


@pytest.fixture
def hashes(idx_files):
    return {name: hashlib.sha256(blob).hexdigest() for name, blob in idx_files[0].items()}


@pytest.fixture
def server(idx_files, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = _Server(idx_files[0])
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_download_good_files_then_load_them(server, hashes, idx_files, tmp_path):
    calls = []
    folder = download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("good")], files=hashes,
                      progress=lambda done, total, name: calls.append((done, total, name)))
    assert folder == tmp_path / "mnist"
    assert _leftovers(folder) == sorted(hashes)
    assert is_downloaded("mnist", cache_dir=tmp_path)
    for name, blob in idx_files[0].items():
        final = [c for c in calls if c[2] == name][-1]
        assert final == (len(blob), len(blob), name)

    ds = load_idx_dataset("mnist", cache_dir=tmp_path)
    arrays = idx_files[1]
    assert ds.x_train.shape == (30, 784) and ds.x_val.shape == (12, 784) and ds.image_shape == (28, 28)
    np.testing.assert_array_equal(ds.x_train * 255, arrays["train-images-idx3-ubyte.gz"].reshape(30, 784))
    np.testing.assert_array_equal(ds.y_val, arrays["t10k-labels-idx1-ubyte.gz"])


def test_download_skips_files_already_verified(server, hashes, tmp_path):
    download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("good")], files=hashes)
    fetched = len(server.hits)
    download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("good")], files=hashes)
    assert len(server.hits) == fetched == 4


def test_checksum_mismatch_keeps_nothing(server, hashes, tmp_path):
    wrong = dict(hashes, **{"train-images-idx3-ubyte.gz": "0" * 64})
    with pytest.raises(DownloadError, match="checksum mismatch") as err:
        download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("good")], files=wrong)
    assert not err.value.offline
    assert _leftovers(tmp_path) == []


def test_connection_cut_mid_file_keeps_nothing(server, hashes, tmp_path):
    with pytest.raises(DownloadError, match="connection closed after"):
        download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("cut")], files=hashes)
    assert _leftovers(tmp_path) == []


def test_connection_cut_falls_through_to_the_next_mirror(server, hashes, tmp_path):
    download("fashion-mnist", cache_dir=tmp_path, mirrors=[server.mirror("cut"), server.mirror("good")],
             files=hashes)
    assert _leftovers(tmp_path / "fashion-mnist") == sorted(hashes)
    assert load_idx_dataset("fashion-mnist", cache_dir=tmp_path).class_names[0] == "T-shirt/top"


def test_missing_file_on_a_mirror_falls_through(server, hashes, tmp_path):
    download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("nothing-here"), server.mirror("good")],
             files=hashes)
    assert is_downloaded("mnist", cache_dir=tmp_path)


def test_first_mirror_down_second_used(server, hashes, tmp_path, closed_port_url):
    download("mnist", cache_dir=tmp_path, mirrors=[closed_port_url, server.mirror("good")], files=hashes)
    assert is_downloaded("mnist", cache_dir=tmp_path)
    assert all(hit.startswith("/good/") for hit in server.hits)


def test_all_mirrors_down_says_offline(hashes, tmp_path, closed_port_url):
    other = closed_port_url.replace("/mnist/", "/elsewhere/")
    with pytest.raises(DownloadError) as err:
        download("mnist", cache_dir=tmp_path, mirrors=[closed_port_url, other], files=hashes, timeout=5)
    message = str(err.value)
    assert err.value.offline and "offline" in message and "bundled MNIST sample" in message
    assert closed_port_url in message and other in message and len(err.value.attempts) == 2
    assert _leftovers(tmp_path) == []


def test_progress_callback_can_abort_without_leaving_a_temp_file(server, hashes, tmp_path):
    (tmp_path / "mnist").mkdir()

    def cancel(done, total, name):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download("mnist", cache_dir=tmp_path, mirrors=[server.mirror("good")], files=hashes, progress=cancel)
    assert _leftovers(tmp_path) == ["mnist"]                  # the folder existed before; nothing in it


@pytest.mark.parametrize("kwargs, problem", [
    (dict(mirrors=[]), "at least one"), (dict(mirrors=["ftp://example.org/"]), "http"),
    (dict(files={"a.gz": "xyz"}), "64 hex"), (dict(files={"../a.gz": "0" * 64}), "plain file name"),
    (dict(timeout=0), "timeout"), (dict(name="cifar"), "mnist"),
])
def test_download_rejects_bad_arguments(tmp_path, kwargs, problem):
    kwargs = {"name": "mnist", "cache_dir": tmp_path, **kwargs}
    with pytest.raises(ValueError, match=problem):
        download(**kwargs)


def test_official_hashes_look_like_sha256():
    for source in data.SOURCES.values():
        assert len(source.files) == 4 and len(source.mirrors) >= 2
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in source.files.values())


# --------------------------------------------------------------------------- command line

def _run_cli(*args: str, data_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NN_DATA_DIR=str(data_home), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    return subprocess.run([sys.executable, "-m", "nn.data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_unknown_dataset_exits_2(tmp_path):
    result = _run_cli("download", "nosuch", data_home=tmp_path)
    assert result.returncode == 2
    assert "nosuch" in result.stderr and "mnist" in result.stderr


def test_cli_offline_exits_1_with_the_reason(tmp_path, closed_port_url):
    result = _run_cli("download", "mnist", "--mirror", closed_port_url, "--timeout", "5", data_home=tmp_path)
    assert result.returncode == 1
    assert "offline" in result.stderr and closed_port_url in result.stderr
    assert _leftovers(tmp_path) == []


def test_cli_rejects_files_that_do_not_match_the_official_hashes(server, tmp_path):
    # The local server serves fake digits; the CLI checks them against the real MNIST sums.
    result = _run_cli("download", "mnist", "--mirror", server.mirror("good"), data_home=tmp_path)
    assert result.returncode == 1 and "checksum mismatch" in result.stderr
    assert _leftovers(tmp_path) == []


def test_cli_downloads_with_progress(server, hashes, tmp_path, monkeypatch, capsys):
    fake = data.Source("MNIST", (server.mirror("good"),), hashes, data.DIGIT_NAMES, 1)
    monkeypatch.setitem(data.SOURCES, "mnist", fake)
    monkeypatch.setenv("NN_DATA_DIR", str(tmp_path))
    assert cli.data_main(["download", "mnist"]) == 0
    out, err = capsys.readouterr()
    assert str(tmp_path / "mnist") in out
    assert "train-images-idx3-ubyte.gz" in err and "100%" in err
    assert is_downloaded("mnist")


def test_cli_mirror_flag_is_repeatable(server, hashes, tmp_path, monkeypatch, closed_port_url):
    fake = data.Source("MNIST", ("http://127.0.0.1:9/never-used/",), hashes, data.DIGIT_NAMES, 1)
    monkeypatch.setitem(data.SOURCES, "mnist", fake)
    code = cli.data_main(["download", "mnist", "--dir", str(tmp_path),
                      "--mirror", closed_port_url, "--mirror", server.mirror("good")])
    assert code == 0 and is_downloaded("mnist", cache_dir=tmp_path)
