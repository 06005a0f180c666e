"""Recognise digits in image files: ``python -m nn.predict [--weights FILE] IMAGE...`` (nn/cli.py)

Each image goes through the same pipeline as the Draw page (``preprocess``: ink detected whether
light on dark or dark on light, cropped, scaled to 20 px, centred by its centre of mass, deskewed)
and prints one JSON line:

    {"file": "seven.jpg", "digit": 7, "confidence": 0.93, "sure": true, "probs": [ten floats]}

The probabilities are calibrated (the model's temperature, nn.calibrate), and ``sure`` is decided by
the Draw page's own rule (``nn.explain.judge``): when it is false, ``reason`` says why (a dash, a
scribble, or too low a confidence) and ``digit`` is only the best guess.
A blank image, or one with nothing to read (a lone dot or blob), gives ``"digit": null``,
``"sure": false`` and the reason; an unreadable file gives an ``"error"``.
The exit code is 0 when every image was read, 1 when some could not be, 2 for bad arguments
(including an unusable weights file).
"""
from __future__ import annotations

import sys
from pathlib import Path

from .explain import judge
from .model import MLP
from .preprocess import ImageError, load_image, preprocess

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "default.npz"


def predict_file(model: MLP, path: str | Path) -> dict:
    """One image file -> the JSON-ready answer (never raises for a bad image)."""
    record: dict = {"file": str(path)}
    try:
        result = preprocess(load_image(path))
    except ImageError as e:
        record["error"] = str(e)
        return record
    if result.blank:
        record.update(digit=None, confidence=None, sure=False, probs=None, reason=result.reason)
        return record
    view = judge(model, result.x)
    if not view.readable:              # a lone dot or blob: no guess worth giving, as on the Draw page
        record.update(digit=None, confidence=None, sure=False, probs=None, reason=view.reason)
        return record
    record.update(digit=view.digit, confidence=round(view.confidence, 4), sure=view.sure,
                  probs=[round(float(p), 4) for p in view.probs])
    if not view.sure:
        record["reason"] = view.reason
    return record


if __name__ == "__main__":
    from .cli import predict_main

    sys.exit(predict_main())
