"""Every `.venv/bin/python -m ...` command in the README's code blocks works as written.

The README promises that its commands run from the repository's folder after the install command.
This test reads them from its fenced code blocks (a trailing backslash continues a line, `#` starts
a comment, `A && B` holds two commands, `NAME=value` before a command sets the environment) and
runs each from the repository's folder, with a timeout, in one of five ways:

    quick                run exactly as written; must exit with 0 (nn.train must print its JSON line)
    a server             `streamlit run`: started on a free port of 127.0.0.1 instead of the one written
                         (flags given later win) and must answer its health check, then stopped
    your own files       `my_digit.jpg` and `my_digits/` (a photo and a folder of the reader's digits)
                         are given digits of the bundled sample, in a temporary folder
    needs the network    or files this machine does not have: run with `--help` (they must parse),
                         against an empty data folder (NN_DATA_DIR)
    SLOW                 take minutes: skipped, each with its reason, after their arguments are checked
                         by the command's own parser where that is cheap

A new command in the README lands in "quick" unless listed below: if it takes minutes, the timeout
says so, and it belongs in SLOW with its reason.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scripts.serve_cluster import free_ports

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV_PYTHON = ".venv/bin/python"
TIMEOUT = 120

# a part of the command -> why it is not run here (minutes of work)
SLOW = {
    "-m pytest": "the test suite itself (this test is part of it): minutes",
    "-m nn.train --dataset mnist-sample --hidden 512,256": "trains the shipped model: 60 epochs, many minutes",
    "-m nn.train --dataset mnist ": "trains on full MNIST (a download first): many minutes",
    "-m benchmarks.train_throughput": "a benchmark: minutes of timed training",
    "-m scripts.serve_cluster --apps 2 --port": "serves until Ctrl-C (tests/browser/test_cluster_browser.py runs it)",
    "-m scripts.serve_cluster --apps 2 --app-address": "an app machine: serves until Ctrl-C",
    "-m scripts.serve_cluster --apps 0": "the balancer for other machines' app processes",
    "-m scripts.load_test": "a minute or more of browser sessions (tests/browser/test_load_short.py runs one)",
    "-m scripts.class_load": "a minute of a class of 32 learners (tests/test_class_load.py runs a short one)",
}
# a part of the command -> what it needs that is not here; run with --help instead
OFFLINE = {
    "-m nn.data download": "downloads from the MNIST mirrors",
    "-m nn.data import": "needs the four MNIST files in a folder of the reader's",
    "--dataset mnist ": "needs full MNIST, downloaded or imported",
}
YOUR_FILES = ("my_digit.jpg", "my_digits/")


def readme_commands() -> list[tuple[dict, list[str]]]:
    """(environment, argv) of every `.venv/bin/python -m` command in the README's code blocks."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            if VENV_PYTHON not in line:
                continue                      # a tree of files, say: not shell
            lexer = shlex.shlex(line, posix=True, punctuation_chars="&|;")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words, segments = list(lexer), [[]]
            for word in words:
                if word in ("&&", "||", ";", "|"):
                    segments.append([])
                else:
                    segments[-1].append(word)
            for seg in segments:
                env = {}
                while seg and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", seg[0]):
                    key, _, value = seg.pop(0).partition("=")
                    env[key] = value
                if seg[:2] == [VENV_PYTHON, "-m"]:
                    commands.append((env, seg))
    return commands


def bare_python_commands() -> list[str]:
    """Code-block lines that call a plain `python` (absent on Debian) instead of the environment's."""
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        lines += [ln for ln in block.splitlines() if re.search(r"(^|&&|;)\s*python\s", ln)]
    return lines


def _unique(commands: list[tuple[dict, list[str]]]) -> list[tuple[dict, list[str]]]:
    """Each command once; servers that differ only in the port or address they are given (which the
    test replaces anyway) count as one."""
    seen, out = set(), []
    for env, argv in commands:
        key = tuple(sorted(env.items())), tuple(_without_place(argv))
        if key not in seen:
            seen.add(key)
            out.append((env, argv))
    return out


def _without_place(argv: list[str]) -> list[str]:
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word in ("--server.port", "--server.address"):
            skip = True
        else:
            out.append(word)
    return out


COMMANDS = _unique(readme_commands())


def _key(argv: list[str]) -> str:
    return " ".join(argv[1:]) + " "


def _match(table: dict, argv: list[str]) -> str | None:
    return next((why for part, why in table.items() if part in _key(argv)), None)


def _python() -> str:
    """The environment's Python as the README names it; the running one when tests run elsewhere."""
    venv = ROOT / VENV_PYTHON
    return str(venv) if venv.exists() else sys.executable


@pytest.fixture(scope="module")
def your_files(tmp_path_factory) -> dict[str, str]:
    """A photo of a digit and a folder of labelled digits (DIR/<label>/<i>.png), from the sample."""
    from nn.data import load_dataset
    folder = tmp_path_factory.mktemp("readme")
    ds = load_dataset("mnist-sample")
    pixels = lambda i: Image.fromarray((ds.x_val[i].reshape(28, 28) * 255).astype(np.uint8))  # noqa: E731
    photo = folder / "my_digit.jpg"
    pixels(0).resize((280, 280)).save(photo)
    for i in range(20):
        (folder / "my_digits" / str(ds.y_val[i])).mkdir(parents=True, exist_ok=True)
        pixels(i).save(folder / "my_digits" / str(ds.y_val[i]) / f"{i}.png")
    return {"my_digit.jpg": str(photo), "my_digits/": str(folder / "my_digits") + "/",
            "label": int(ds.y_val[0])}


@pytest.fixture
def run_env(tmp_path) -> dict:
    """The environment commands run in: nothing downloaded (an empty data folder), models saved aside."""
    return {**os.environ, "NN_DATA_DIR": str(tmp_path / "data"), "NN_WEIGHTS_DIR": str(tmp_path / "weights")}


def test_the_readme_has_its_commands():
    modules = {argv[2] for _, argv in COMMANDS}
    assert {"streamlit", "nn.train", "nn.predict", "nn.data", "nn.evaluate", "pytest"} <= modules
    assert bare_python_commands() == []        # every example goes through .venv/bin/python


@pytest.mark.parametrize("env, argv", COMMANDS, ids=[" ".join(a[2:])[:70] for _, a in COMMANDS])
def test_readme_command(env, argv, your_files, run_env, tmp_path):
    run_env.update(env)
    command = " ".join(argv)
    if (why := _match(SLOW, argv)) is not None:
        if argv[2] == "nn.train":
            from nn.cli import build_train_parser
            build_train_parser().parse_args(argv[3:])          # exits (SystemExit) on a bad flag
        elif argv[2] != "pytest":
            _run([_python(), "-m", argv[2], "--help"], run_env)
        pytest.skip(f"not run ({why}): {command}")
    if argv[2:4] == ["streamlit", "run"]:
        _serve(argv, run_env, tmp_path)
        return
    if (why := _match(OFFLINE, argv)) is not None:
        sub = [argv[3]] if argv[2] == "nn.data" else []           # nn.data's subcommand has its own help
        out = _run([_python(), "-m", argv[2], *sub, "--help"], run_env)
        assert "usage:" in out, f"{command} ({why}): its --help printed no usage"
        return
    args = [your_files.get(a, a) for a in argv[1:]]
    out = _run([_python(), *args], run_env)
    if argv[2] == "nn.train":
        result = json.loads(out.strip().splitlines()[-1])
        assert result["diverged"] is None and result["val_acc"] > 0.9, result
    if "my_digit.jpg" in argv:
        assert json.loads(out)["digit"] == your_files["label"]


def _run(argv: list[str], env: dict) -> str:
    try:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(argv)} took more than {TIMEOUT} s: if it takes minutes, list it in SLOW "
                    f"with the reason")
    assert done.returncode == 0, f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr[-2000:]}"
    return done.stdout


def _serve(argv: list[str], env: dict, tmp_path: Path) -> None:
    """Start the server as written, but on a free port of 127.0.0.1; it must answer its health check."""
    port = free_ports(1)
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([_python(), *argv[1:], "--server.port", str(port), "--server.address", "127.0.0.1",
                                 "--server.headless", "true", "--browser.gatherUsageStats", "false",
                                 "--server.fileWatcherType", "none"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(f"{' '.join(argv)} did not serve the app; its log:\n{log.read_text()}")
            time.sleep(0.2)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
