"""Writing files so that a crash never leaves half of one: write a temporary file beside the
target, flush it to disk, then rename it over the target (a rename is atomic on one filesystem).
Every file this project writes (models, their cards, downloads, copied assets) goes through here.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """An open binary file that becomes ``path`` when the ``with`` block ends without an exception.

    If the block raises (a failed checksum, Ctrl-C, a full disk), the temporary file is removed
    and any old file at ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)        # mkstemp makes it private; these files are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as f:
        f.write(data)


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as indented JSON (a model card, say) to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())
