"""Fetch full MNIST or Fashion-MNIST: several mirrors tried in turn, every file checked against its
SHA-256 before it is kept, nothing partial left behind. ``python -m nn.data download NAME`` (nn/cli.py)
is the command line; where the files come from is ``nn.data.SOURCES``.
"""
from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .data import dataset_folder, source
from .files import atomic_file

ProgressCallback = Callable[[int, int | None, str], None]
_CHUNK = 1 << 16
_USER_AGENT = "nn-playground/1.0 (Python urllib)"


class DownloadError(RuntimeError):
    """No mirror delivered a file with the right checksum.

    attempts : list of (url, what went wrong), one per mirror tried.
    offline  : True when no mirror could even be reached.
    """

    def __init__(self, message: str, attempts: list[tuple[str, str]] | None = None,
                 offline: bool = False) -> None:
        super().__init__(message)
        self.attempts = list(attempts or [])
        self.offline = offline


class _MirrorFailed(Exception):
    """One mirror failed for one file; ``unreachable`` if we never got an answer from it."""

    def __init__(self, reason: str, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


def download(name: str, cache_dir: str | Path | None = None, mirrors: list[str] | None = None,
             files: dict[str, str] | None = None, progress: ProgressCallback | None = None,
             timeout: float = 30.0) -> Path:
    """Download the IDX files of "mnist" or "fashion-mnist" into ``<cache_dir>/<name>/``.

    mirrors : base URLs tried in order for each file (default: the built-in list for ``name``).
    files : filename -> expected SHA-256 hex digest (default: the four official files).
    progress : called as progress(done_bytes, total_bytes, filename) while a file arrives;
        total_bytes is None if the server does not say. An exception raised by it aborts the download.
    timeout : seconds to wait for a server to answer or to send the next chunk.

    Each file goes to a temporary file next to its destination, is checked against its SHA-256,
    and only then renamed into place, so the cache never holds a partial or corrupt file.
    Files already present with the right checksum are not fetched again.
    Returns the directory holding the files. Raises DownloadError when every mirror fails for a file.
    """
    known = source(name)
    mirrors = list(known.mirrors if mirrors is None else mirrors)
    files = dict(known.files if files is None else files)
    if not mirrors:
        raise ValueError("mirrors must list at least one base URL")
    for url in mirrors:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"a mirror must be an http:// or https:// URL, got {url!r}")
    for filename, digest in files.items():
        if not filename or Path(filename).name != filename:
            raise ValueError(f"a file to download must be a plain file name, got {filename!r}")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
            raise ValueError(f"the SHA-256 of {filename} must be 64 hex digits, got {digest!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")

    folder = dataset_folder(name, cache_dir)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for filename, digest in files.items():
            destination = folder / filename
            if destination.is_file() and _sha256_of(destination) == digest.lower():
                size = destination.stat().st_size
                if progress is not None:
                    progress(size, size, filename)
                continue
            _download_file(filename, digest.lower(), mirrors, destination, progress, timeout)
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()                       # leave no empty folder behind either
        raise
    return folder


def _download_file(filename: str, digest: str, mirrors: list[str], destination: Path,
                   progress: ProgressCallback | None, timeout: float) -> None:
    """Fetch one file from the first mirror that delivers it intact, or raise DownloadError."""
    attempts, unreachable = [], []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch_verified(url, digest, destination, progress, timeout)
            return
        except _MirrorFailed as e:
            attempts.append((url, str(e)))
            unreachable.append(e.unreachable)
    offline = all(unreachable)
    if offline:
        headline = (f"Could not download {filename}: none of the {len(mirrors)} mirror(s) could be "
                    f"reached, so this machine seems to be offline (or a firewall blocks them).")
    else:
        headline = f"Could not download {filename}: every mirror failed."
    tried = "\n".join(f"  {url}: {reason}" for url, reason in attempts)
    raise DownloadError(f"{headline}\nTried:\n{tried}\nNothing partial was kept. The app keeps working "
                        f"on the bundled MNIST sample (8,000 training / 2,000 test digits); "
                        f"try the download again later.", attempts, offline)


def _fetch_verified(url: str, digest: str, destination: Path, progress: ProgressCallback | None,
                    timeout: float) -> None:
    """Stream ``url`` into ``destination``, which appears only if its SHA-256 checks out."""
    with atomic_file(destination) as out:
        actual = _stream(url, out, destination.name, progress, timeout)
        if actual != digest:
            raise _MirrorFailed(f"checksum mismatch (got sha256 {actual[:16]}..., "
                                f"expected {digest[:16]}...)")


def _stream(url: str, out, filename: str, progress: ProgressCallback | None, timeout: float) -> str:
    """Copy the body of ``url`` into the open file ``out``; return its SHA-256 hex digest."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:                  # the server answered, with an error
        raise _MirrorFailed(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:                   # DNS failure, refused, unreachable, timeout
        raise _MirrorFailed(f"could not connect ({e.reason})", unreachable=True) from None
    except (OSError, http.client.HTTPException) as e:
        raise _MirrorFailed(f"could not connect ({e})", unreachable=True) from None
    with response:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        sha = hashlib.sha256()
        done = 0
        if progress is not None:
            progress(0, total, filename)
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise _MirrorFailed(f"connection lost after {done:,} bytes ({e})") from None
            if not chunk:
                break
            out.write(chunk)
            sha.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total, filename)
    # urllib reports a connection closed early as a normal end of data, so compare with the promise.
    if total is not None and done != total:
        raise _MirrorFailed(f"connection closed after {done:,} of {total:,} bytes")
    return sha.hexdigest()


def _sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
