"""synth: hand-drawn-looking digits from outside MNIST, for evaluation only."""
import numpy as np
import pytest

from nn.preprocess import preprocess
from nn.synth import TEMPLATES, contact_sheet, synth_digits


def test_canvas_images_look_like_the_drawing_canvas(rng):
    images, labels = synth_digits(2, rng, "canvas")
    assert len(images) == 20
    for img in images:
        assert img.shape == (280, 280, 4) and img.dtype == np.uint8
        assert (img[..., 3] == 255).all()  # opaque, like the canvas
        assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()  # white ink
        assert img[..., 0].max() == 255
        assert np.median(img[..., 0]) == 0  # mostly black background
        # ink does not touch the border: the whole digit is on the canvas
        assert img[0, :, 0].max() < 128 and img[-1, :, 0].max() < 128
        assert img[:, 0, 0].max() < 128 and img[:, -1, 0].max() < 128


def test_paper_images_are_photo_sized_grey_or_colour(rng):
    images, labels = synth_digits(3, rng, "paper")
    shapes = {img.ndim for img in images}
    assert shapes <= {2, 3}
    for img in images:
        assert img.dtype == np.uint8
        assert 200 <= img.shape[0] <= 600 and 200 <= img.shape[1] <= 600
        if img.ndim == 3:
            assert img.shape[2] == 3
        assert np.median(img) > 120  # light paper


def test_labels_are_balanced_int64():
    _, labels = synth_digits(4, np.random.default_rng(1), "canvas")
    assert labels.dtype == np.int64 and labels.shape == (40,)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 4))


@pytest.mark.parametrize("style", ["canvas", "paper"])
def test_same_seed_same_digits(style):
    a, la = synth_digits(1, np.random.default_rng(3), style)
    b, lb = synth_digits(1, np.random.default_rng(3), style)
    c, _ = synth_digits(1, np.random.default_rng(4), style)
    np.testing.assert_array_equal(la, lb)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(x.shape != z.shape or not np.array_equal(x, z) for x, z in zip(a, c))


def test_every_digit_has_several_ways_of_writing_it():
    assert sorted(TEMPLATES) == list(range(10))
    assert all(len(variants) >= 2 for variants in TEMPLATES.values())


def test_every_synthetic_digit_is_found_by_preprocess(rng):
    for style in ("canvas", "paper"):
        images, _ = synth_digits(1, rng, style)
        for img in images:
            p = preprocess(img)
            assert not p.blank, p.reason
            assert p.inverted == (style == "paper")


def test_sizes_and_positions_vary(rng):
    images, _ = synth_digits(5, rng, "canvas")
    heights, centres = [], []
    for img in images:
        rows = np.flatnonzero(img[..., 0].max(axis=1) > 127)
        cols = np.flatnonzero(img[..., 0].max(axis=0) > 127)
        heights.append(rows[-1] - rows[0])
        centres.append(((rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2))
    assert min(heights) < 120 and max(heights) > 180
    assert np.ptp(np.array(centres), axis=0).min() > 60


def test_bad_arguments_raise(rng):
    with pytest.raises(ValueError, match="style"):
        synth_digits(1, rng, "chalkboard")
    with pytest.raises(ValueError, match="n_per_class"):
        synth_digits(-1, rng)
    with pytest.raises(TypeError, match="Generator"):
        synth_digits(1, 42)
    images, labels = synth_digits(0, rng)
    assert images == [] and labels.shape == (0,)


def test_contact_sheet_tiles_images(rng):
    images, _ = synth_digits(1, rng, "paper")
    sheet = contact_sheet(images, cols=5, cell=50, pad=2)
    assert sheet.shape == (2 * 52 + 2, 5 * 52 + 2, 3) and sheet.dtype == np.uint8
