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

# The size of each official file, by its SHA-256 (the same bytes always have the same size; the MNIST
# sizes are those published with it, the Fashion-MNIST ones those of its repository). A server that
# announces or sends more is refused at once, before it can fill the disk.
EXPECTED_SIZES = {
    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609": 9_912_422,   # MNIST train images
    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c": 28_881,      # MNIST train labels
    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6": 1_648_877,   # MNIST test images
    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6": 4_542,       # MNIST test labels
    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84": 26_421_880,  # Fashion train images
    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845": 29_515,      # Fashion train labels
    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073": 4_422_102,   # Fashion test images
    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5": 5_148,       # Fashion test labels
}
# A file whose size is not known (a ``files`` list of one's own) may be at most this large.
MAX_DOWNLOAD_BYTES = 64_000_000
# Waiting longer than this for a silent server is never useful (and sockets refuse absurd timeouts).
MAX_TIMEOUT = 600.0


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
             timeout: float = 30.0, max_bytes: int = MAX_DOWNLOAD_BYTES) -> Path:
    """Download the IDX files of "mnist" or "fashion-mnist" into ``<cache_dir>/<name>/``.

    mirrors : base URLs tried in order for each file (default: the built-in list for ``name``).
    files : filename -> expected SHA-256 hex digest (default: the four official files).
    progress : called as progress(done_bytes, total_bytes, filename) while a file arrives;
        total_bytes is None if the server does not say. An exception raised by it aborts the download.
    timeout : seconds to wait for a server to answer or to send the next chunk, in (0, MAX_TIMEOUT].
    max_bytes : the most a file whose size is not in EXPECTED_SIZES may take; a known file may take
        exactly its size. A server announcing more (Content-Length) is refused before the body is
        read, and one sending more is cut off at the limit; the next mirror is tried.

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
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= MAX_TIMEOUT):
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
    if not (isinstance(max_bytes, int) and max_bytes > 0):
        raise ValueError(f"max_bytes must be a whole number > 0, got {max_bytes!r}")

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
            limit = EXPECTED_SIZES.get(digest.lower(), max_bytes)
            _download_file(filename, digest.lower(), mirrors, destination, progress, timeout, limit)
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()                       # leave no empty folder behind either
        raise
    return folder


def _download_file(filename: str, digest: str, mirrors: list[str], destination: Path,
                   progress: ProgressCallback | None, timeout: float, limit: int) -> None:
    """Fetch one file from the first mirror that delivers it intact, or raise DownloadError."""
    attempts, unreachable = [], []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch_verified(url, digest, destination, progress, timeout, limit)
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
                    timeout: float, limit: int) -> None:
    """Stream ``url`` into ``destination``, which appears only if its SHA-256 checks out."""
    with atomic_file(destination) as out:
        actual = _stream(url, out, destination.name, progress, timeout, limit)
        if actual != digest:
            raise _MirrorFailed(f"checksum mismatch (got sha256 {actual[:16]}..., "
                                f"expected {digest[:16]}...)")


def _stream(url: str, out, filename: str, progress: ProgressCallback | None, timeout: float,
            limit: int) -> str:
    """Copy the body of ``url`` (at most ``limit`` bytes) into the open file ``out``; return its
    SHA-256 hex digest."""
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
        if total is not None and total > limit:
            raise _MirrorFailed(f"the server announces {total:,} bytes, more than the {limit:,} "
                                f"this file takes")
        sha = hashlib.sha256()
        done = 0
        if progress is not None:
            progress(0, total, filename)
        while True:
            try:
                chunk = response.read(min(_CHUNK, limit + 1 - done))
            except (OSError, http.client.HTTPException) as e:
                raise _MirrorFailed(f"connection lost after {done:,} bytes ({e})") from None
            if not chunk:
                break
            if done + len(chunk) > limit:
                raise _MirrorFailed(f"the server sent more than the {limit:,} bytes this file takes")
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
