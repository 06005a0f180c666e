"""augment: random distortions of digit batches for training."""
from pathlib import Path

import numpy as np
import pytest

import nn
from nn.augment import AugmentConfig, augment_batch, sample_bilinear

SAMPLE = Path(nn.__file__).parent / "assets" / "mnist_sample.npz"
IDENTITY = AugmentConfig(max_shift=0, max_rotate=0, scale_range=(1, 1), max_shear=0, elastic_alpha=0,
                         thickness_prob=0)


@pytest.fixture
def digits(rng):
    """(64, 784) float32 digits: real MNIST when bundled, else random strokes."""
    if SAMPLE.exists():
        with np.load(SAMPLE, allow_pickle=False) as f:
            return f["x_train"][:64].astype(np.float32) / 255.0
    x = np.zeros((64, 28, 28), np.float32)
    for img in x:
        r0, c0 = rng.integers(6, 12, 2)
        img[r0:r0 + 12, c0:c0 + 3] = 1.0
        img[r0:r0 + 3, c0:c0 + 10] = 1.0
    return x.reshape(64, 784)


def centre_of_mass(x: np.ndarray) -> np.ndarray:
    """(N, 784) -> (N, 2) row, column centres of mass."""
    img = x.reshape(-1, 28, 28)
    r = np.arange(28)
    m = img.sum(axis=(1, 2))
    return np.stack([img.sum(axis=2) @ r / m, img.sum(axis=1) @ r / m], axis=1)


def test_shape_dtype_and_range(digits, rng):
    out = augment_batch(digits, rng)
    assert out.shape == digits.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, digits)


def test_float64_input_gives_float32(digits, rng):
    assert augment_batch(digits.astype(np.float64), rng).dtype == np.float32


def test_same_seed_same_result_different_seed_different(digits):
    a = augment_batch(digits, np.random.default_rng(7))
    b = augment_batch(digits, np.random.default_rng(7))
    c = augment_batch(digits, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_input_is_not_modified(digits, rng):
    before = digits.copy()
    augment_batch(digits, rng, AugmentConfig(thickness_prob=1.0))
    np.testing.assert_array_equal(digits, before)


def test_identity_config_returns_the_input(digits, rng):
    np.testing.assert_allclose(augment_batch(digits, rng, IDENTITY), digits, atol=1e-6)


def test_each_image_gets_its_own_distortion(rng):
    same = np.tile(np.zeros((1, 784), np.float32), (8, 1))
    same[:, 14 * 28 + 10:14 * 28 + 18] = 1.0  # the same bar in every row
    out = augment_batch(same, rng)
    assert len({row.tobytes() for row in out}) == 8


def test_small_shifts_keep_the_centre_of_mass_near_the_middle(digits, rng):
    cfg = AugmentConfig(max_shift=1.0, max_rotate=5, scale_range=(0.95, 1.05), max_shear=0.1,
                        elastic_alpha=8.0, thickness_prob=0.5)
    moved = centre_of_mass(augment_batch(digits, rng, cfg)) - centre_of_mass(digits)
    assert np.abs(moved).max() < 1.6
    assert np.abs(moved.mean(axis=0)).max() < 0.3


def test_shift_moves_the_digit_by_at_most_max_shift(digits, rng):
    cfg = AugmentConfig(max_shift=3.0, max_rotate=0, scale_range=(1, 1), max_shear=0, elastic_alpha=0,
                        thickness_prob=0)
    moved = centre_of_mass(augment_batch(digits, rng, cfg)) - centre_of_mass(digits)
    assert np.abs(moved).max() <= 3.05  # plus a little for ink pushed past the border
    assert np.abs(moved).max() > 1.5  # and it does move them


def test_rotation_turns_a_horizontal_bar(rng):
    bar = np.zeros((16, 28, 28), np.float32)
    bar[:, 14, 4:25] = 1.0
    cfg = AugmentConfig(max_shift=0, max_rotate=45, scale_range=(1, 1), max_shear=0, elastic_alpha=0,
                        thickness_prob=0)
    out = augment_batch(bar.reshape(16, 784), rng, cfg).reshape(16, 28, 28)
    rows_touched = (out > 0.3).any(axis=2).sum(axis=1)
    assert rows_touched.max() > 8  # a bar turned by up to 45 degrees spans many rows


def test_thickness_makes_some_strokes_heavier_and_some_lighter(digits, rng):
    cfg = AugmentConfig(max_shift=0, max_rotate=0, scale_range=(1, 1), max_shear=0, elastic_alpha=0,
                        thickness_prob=1.0, max_thickness=1.0)
    ratio = augment_batch(digits, rng, cfg).sum(axis=1) / digits.sum(axis=1)
    assert (ratio > 1.1).any() and (ratio < 0.9).any()


def test_elastic_warp_is_smooth_and_keeps_the_ink(digits, rng):
    cfg = AugmentConfig(max_shift=0, max_rotate=0, scale_range=(1, 1), max_shear=0, elastic_alpha=16,
                        elastic_sigma=4, thickness_prob=0)
    out = augment_batch(digits, rng, cfg)
    assert not np.allclose(out, digits)
    # stretching and squeezing change the ink locally, but not on average
    ratio = out.sum(axis=1) / digits.sum(axis=1)
    assert abs(np.median(ratio) - 1) < 0.05 and np.abs(ratio - 1).max() < 0.3
    # a smooth warp keeps the digit recognisable: still well correlated with the original
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(out, digits)]
    assert np.median(corr) > 0.6


def test_empty_batch(rng):
    assert augment_batch(np.zeros((0, 784), np.float32), rng).shape == (0, 784)


def test_bad_inputs_raise(rng):
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        augment_batch(np.zeros((4, 28, 28)), rng)
    with pytest.raises(TypeError, match="Generator"):
        augment_batch(np.zeros((4, 784)), 0)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_shift": -1}, "max_shift"),
        ({"max_rotate": 200}, "max_rotate"),
        ({"max_shear": float("nan")}, "max_shear"),
        ({"elastic_alpha": -2}, "elastic_alpha"),
        ({"elastic_sigma": 0}, "elastic_sigma"),
        ({"thickness_prob": 1.5}, "thickness_prob"),
        ({"max_thickness": -0.1}, "max_thickness"),
        ({"scale_range": (1.2, 0.8)}, "scale_range"),
        ({"scale_range": (0.0, 1.0)}, "scale_range"),
        ({"scale_range": 1.0}, "scale_range"),
    ],
)
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        AugmentConfig(**kwargs)


def test_sample_bilinear_is_exact_on_pixels_zero_outside_and_linear_between(rng):
    img = rng.random((2, 5, 6)).astype(np.float32)
    ys, xs = np.meshgrid(np.arange(5, dtype=np.float32), np.arange(6, dtype=np.float32), indexing="ij")
    ys, xs = np.broadcast_to(ys, (2, 5, 6)), np.broadcast_to(xs, (2, 5, 6))
    np.testing.assert_array_equal(sample_bilinear(img, ys, xs), img)
    far = sample_bilinear(img, ys + 50, xs - 50)
    np.testing.assert_array_equal(far, np.zeros_like(far))
    half = sample_bilinear(img, ys[:, :, :5], xs[:, :, :5] + 0.5)
    np.testing.assert_allclose(half, (img[:, :, :5] + img[:, :, 1:]) / 2, atol=1e-6)


def test_elastic_warp_bends_lines_both_ways(rng):
    lines = np.zeros((32, 28, 28), np.float32)
    lines[:16, 14, 4:24] = 1.0  # horizontal bars bend up and down
    lines[16:, 4:24, 14] = 1.0  # vertical bars bend left and right
    cfg = AugmentConfig(max_shift=0, max_rotate=0, scale_range=(1, 1), max_shear=0, elastic_alpha=24,
                        elastic_sigma=4, thickness_prob=0)
    out = augment_batch(lines.reshape(32, 784), rng, cfg).reshape(32, 28, 28)
    rows_touched = (out[:16] > 0.2).any(axis=2).sum(axis=1)
    cols_touched = (out[16:] > 0.2).any(axis=1).sum(axis=1)
    assert np.median(rows_touched) >= 3 and np.median(cols_touched) >= 3
