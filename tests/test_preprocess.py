"""preprocess: any drawing or photo -> the (1, 784) input an MNIST network expects."""
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

import nn
from nn.preprocess import ImageError, Preprocessed, load_image, normalise_digits, preprocess

SAMPLE = Path(nn.__file__).parent / "assets" / "mnist_sample.npz"

# a "2" in a unit box (x right, y down), and a "7"
TWO = [(0.1, 0.25), (0.3, 0.05), (0.6, 0.0), (0.85, 0.15), (0.85, 0.4), (0.5, 0.7), (0.05, 1.0), (0.95, 1.0)]
SEVEN = [(0.0, 0.0), (0.9, 0.0), (0.35, 1.0)]


def draw(points, size=(280, 280), box=(60, 40, 200), pen=16, ink=255, paper=0) -> np.ndarray:
    """(H, W) uint8: a polyline with round caps, ``box`` = (left, top, height) in pixels."""
    left, top, height = box
    im = Image.new("L", size, paper)
    d = ImageDraw.Draw(im)
    pts = [(left + x * height * 0.7, top + y * height) for x, y in points]
    d.line(pts, fill=ink, width=pen, joint="curve")
    for x, y in (pts[0], pts[-1]):
        d.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return np.asarray(im)


def canvas(grey: np.ndarray) -> np.ndarray:
    """(H, W) uint8 -> (H, W, 4) RGBA as the drawing canvas gives it: white on black, alpha 255."""
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    r = np.arange(img.shape[0])
    m = img.sum()
    return float(img.sum(axis=1) @ r / m), float(img.sum(axis=0) @ r / m)


def mnist_digits(n: int) -> np.ndarray:
    if not SAMPLE.exists():
        pytest.skip(f"the bundled MNIST sample {SAMPLE} is missing")
    with np.load(SAMPLE, allow_pickle=False) as f:
        return f["x_test"][:n].astype(np.float32) / 255.0


def test_canvas_drawing_gives_1x784_float32_in_unit_range():
    p = preprocess(canvas(draw(SEVEN)))
    assert isinstance(p, Preprocessed)
    assert not p.blank and p.reason == "" and not p.inverted
    assert p.x.shape == (1, 784) and p.x.dtype == np.float32
    assert p.x.min() >= 0.0 and p.x.max() <= 1.0
    assert p.x.max() > 0.9  # strokes reach full strength, as in MNIST


def test_steps_are_ordered_2d_images_and_the_last_is_what_the_network_sees():
    p = preprocess(canvas(draw(TWO)))
    assert list(p.steps) == ["grey", "cleaned", "cropped", "scaled", "centred", "deskewed"]
    for name, img in p.steps.items():
        assert img.ndim == 2 and img.dtype == np.float32, name
        assert img.min() >= 0.0 and img.max() <= 1.0, name
    assert p.steps["grey"].shape == (280, 280)
    assert max(p.steps["scaled"].shape) == 20
    assert p.steps["centred"].shape == (28, 28)
    np.testing.assert_array_equal(p.steps["deskewed"].reshape(1, 784), p.x)


@pytest.mark.parametrize(
    "image",
    [
        np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # black canvas
        np.zeros((280, 280, 4), np.uint8),  # fully transparent canvas
    ],
    ids=["black-canvas", "transparent-canvas"],
)
def test_empty_canvas_is_blank_with_a_reason(image):
    p = preprocess(image)
    assert p.blank and p.x is None
    assert "empty" in p.reason.lower() and "draw" in p.reason.lower()
    assert "grey" in p.steps


def test_white_paper_photo_is_blank(rng):
    paper = 235 + rng.normal(0, 2.0, (300, 400, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=70)
    p = preprocess(load_image(buf.getvalue()))
    assert p.blank and p.x is None and p.reason


def test_a_few_noise_pixels_are_blank_not_a_guess():
    img = np.zeros((280, 280), np.uint8)
    img[30, 40] = img[200, 100] = img[150, 260] = 255
    p = preprocess(canvas(img))
    assert p.blank and p.x is None and p.reason


def test_a_single_click_dot_is_blank():
    img = np.zeros((280, 280), np.uint8)
    img[135:143, 135:143] = 255
    p = preprocess(canvas(img))
    assert p.blank and "dot" in p.reason.lower()


def test_small_in_a_corner_and_large_in_the_centre_give_the_same_input():
    large = preprocess(canvas(draw(TWO, box=(60, 40, 200), pen=18))).x
    small = preprocess(canvas(draw(TWO, box=(5, 5, 60), pen=6))).x
    corner = preprocess(canvas(draw(TWO, box=(200, 190, 80), pen=8))).x
    assert corr(large, small) > 0.95
    assert corr(large, corner) > 0.95


def test_the_same_shape_with_a_different_pen_is_still_close():
    thin = preprocess(canvas(draw(TWO, box=(60, 40, 200), pen=10))).x
    fat = preprocess(canvas(draw(TWO, box=(60, 40, 200), pen=30))).x
    assert corr(thin, fat) > 0.9


def test_dark_ink_on_light_paper_matches_light_on_dark():
    grey = draw(SEVEN)
    light_on_dark = preprocess(canvas(grey))
    dark_on_light = preprocess(255 - grey)
    assert dark_on_light.inverted and not light_on_dark.inverted
    assert corr(light_on_dark.x, dark_on_light.x) > 0.99
    # the "grey" step shows ink bright whatever the input
    assert dark_on_light.steps["grey"].mean() < 0.5


def test_photo_with_uneven_light_noise_and_blur_matches_the_clean_drawing(rng):
    clean = preprocess(canvas(draw(TWO, size=(400, 300), box=(80, 40, 220), pen=14))).x
    h, w = 300, 400
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    paper = 0.55 + 0.35 * xx + 0.1 * yy  # dark on the left, bright on the right
    ink = draw(TWO, size=(w, h), box=(80, 40, 220), pen=14) / 255.0
    photo = paper * (1 - ink) + 0.15 * ink + rng.normal(0, 0.02, (h, w))
    pil = Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    buf = io.BytesIO()
    pil.convert("RGB").save(buf, "JPEG", quality=60)
    p = preprocess(load_image(buf.getvalue()))
    assert not p.blank and p.inverted
    assert corr(clean, p.x) > 0.9


def test_centre_of_mass_is_at_14_14_and_ink_fits_20x20():
    for points, box, pen in [(TWO, (60, 40, 200), 16), (SEVEN, (10, 150, 110), 12), (TWO, (150, 10, 90), 25)]:
        p = preprocess(canvas(draw(points, box=box, pen=pen)))
        for name in ("centred", "deskewed"):
            cy, cx = centre_of_mass(p.steps[name])
            assert abs(cy - 14) < 0.5 and abs(cx - 14) < 0.5, (name, cy, cx)
        rows = np.flatnonzero(p.steps["centred"].max(axis=1) > 0.05)
        cols = np.flatnonzero(p.steps["centred"].max(axis=0) > 0.05)
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert max(height, width) <= 21  # 20 px box; the fractional shift can touch one more pixel
        assert max(height, width) >= 19


def test_a_far_away_speck_is_ignored():
    grey = draw(SEVEN)
    specked = grey.copy()
    specked[265:270, 5:10] = 255
    assert corr(preprocess(canvas(grey)).x, preprocess(canvas(specked)).x) > 0.99


def test_drawing_on_a_transparent_layer_matches_the_opaque_canvas():
    grey = draw(TWO)
    layer = np.dstack([np.full_like(grey, 255)] * 3 + [grey])  # white strokes, alpha = coverage
    assert corr(preprocess(canvas(grey)).x, preprocess(layer).x) > 0.99


@pytest.mark.parametrize("kind", ["grey-uint8", "rgb-uint8", "grey-float", "pil-L", "pil-RGB"])
def test_grey_rgb_float_and_pil_inputs_agree(kind):
    grey = 255 - draw(SEVEN, size=(300, 240), box=(50, 30, 180), pen=12)
    reference = preprocess(grey).x
    image = {
        "grey-uint8": grey,
        "rgb-uint8": np.dstack([grey] * 3),
        "grey-float": grey.astype(np.float64) / 255,
        "pil-L": Image.fromarray(grey),
        "pil-RGB": Image.fromarray(np.dstack([grey] * 3)),
    }[kind]
    p = preprocess(image)
    assert not p.blank and p.inverted
    assert corr(reference, p.x) > 0.999


def test_jpeg_file_on_disk_works(tmp_path):
    path = tmp_path / "seven.jpg"
    Image.fromarray(np.dstack([255 - draw(SEVEN)] * 3)).save(path, "JPEG", quality=80)
    arr = load_image(path)
    assert arr.shape == (280, 280, 3) and arr.dtype == np.uint8
    p = preprocess(arr)
    assert not p.blank and corr(p.x, preprocess(canvas(draw(SEVEN))).x) > 0.97


def test_real_mnist_digits_upscaled_to_the_canvas_come_back_the_same():
    digits = mnist_digits(40)
    scores = []
    for d in digits:
        a = (d.reshape(28, 28) * 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(a).resize((280, 280), Image.Resampling.BILINEAR))
        p = preprocess(canvas(big))
        assert not p.blank
        scores.append(corr(p.x, normalise_digits(d)))
    assert np.median(scores) > 0.93
    assert min(scores) > 0.7


def test_bad_arrays_raise_clear_errors():
    with pytest.raises(ImageError, match=r"\(H, W\)"):
        preprocess(np.zeros((28, 28, 5), np.uint8))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        preprocess(np.full((28, 28), 255.0))
    with pytest.raises(ImageError, match="too small"):
        preprocess(np.zeros((4, 4), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        preprocess(np.full((28, 28), np.nan))
    with pytest.raises(ImageError, match="load_image"):
        preprocess("digit.png")


# --------------------------------------------------------------------------------------------------
# load_image


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def test_load_image_decodes_png_bytes_and_paths(tmp_path, rng):
    arr = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(png_bytes(arr)), arr)
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(arr))
    np.testing.assert_array_equal(load_image(path), arr)
    np.testing.assert_array_equal(load_image(str(path)), arr)
    with path.open("rb") as f:  # a binary file object, as Streamlit's uploader gives
        np.testing.assert_array_equal(load_image(f), arr)


def test_load_image_keeps_grey_grey_and_alpha():
    assert load_image(png_bytes(np.zeros((10, 12), np.uint8))).shape == (10, 12)
    assert load_image(png_bytes(np.zeros((10, 12, 4), np.uint8))).shape == (10, 12, 4)


def test_truncated_png_raises_image_error(rng):
    data = png_bytes(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    with pytest.raises(ImageError, match="truncated or damaged"):
        load_image(data[: len(data) // 2])


def test_text_file_raises_image_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n" * 20)
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)


def test_empty_and_missing_files_raise_image_error(tmp_path):
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="No image file"):
        load_image(tmp_path / "missing.png")


def test_oversized_images_and_files_are_refused():
    data = png_bytes(np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageError, match="too large.*10,000 pixels"):
        load_image(data, max_pixels=5_000)
    with pytest.raises(ImageError, match="file is too large"):
        load_image(data, max_bytes=50)


def test_decompression_bomb_is_refused_before_decoding():
    # a tiny PNG whose header claims 60000 x 60000 pixels
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
    bomb += chunk(b"IEND", b"")
    assert len(bomb) < 1000
    with pytest.raises(ImageError, match="too large"):
        load_image(bomb)


def test_exif_rotated_photo_is_turned_upright():
    img = Image.fromarray(np.zeros((40, 80, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    assert load_image(buf.getvalue()).shape == (80, 40, 3)


# --------------------------------------------------------------------------------------------------
# normalise_digits (deskewing)


def slanted_bar(slope: float) -> np.ndarray:
    """(784,) a bar about 2 px wide through (14, 14), leaning: its centre is x = 14 + slope * (14 - y)."""
    y = np.arange(28)[:, None]
    x = np.arange(28)[None, :]
    centre = 14 + slope * (14 - y)
    img = np.clip(1.5 - np.abs(x - centre), 0, 1) * ((y >= 4) & (y <= 24))
    return img.astype(np.float32).ravel()


def column_spread(img: np.ndarray) -> float:
    img = img.reshape(28, 28)
    cx = centre_of_mass(img)[1]
    return float((img.sum(axis=0) * (np.arange(28) - cx) ** 2).sum() / img.sum())


def test_normalise_digits_makes_a_slanted_bar_upright():
    bars = np.stack([slanted_bar(0.4), slanted_bar(-0.3)])
    out = normalise_digits(bars)
    assert out.shape == (2, 784) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    for before, after in zip(bars, out):
        assert column_spread(after) < 0.25 * column_spread(before)
        assert after.sum() == pytest.approx(before.sum(), rel=0.02)


def test_normalise_digits_puts_the_centre_of_mass_exactly_at_14_14():
    off = np.roll(slanted_bar(0.2).reshape(28, 28), (1, -1), axis=(0, 1)).ravel()  # 1 px off
    for digit in (slanted_bar(0.2), off):
        np.testing.assert_allclose(centre_of_mass(normalise_digits(digit).reshape(28, 28)), (14, 14),
                                   atol=0.01)


def test_normalise_digits_leaves_upright_centred_and_blank_digits_alone():
    upright = slanted_bar(0.0)
    np.testing.assert_allclose(normalise_digits(upright), upright, atol=1e-5)
    np.testing.assert_array_equal(normalise_digits(np.zeros((3, 784))), np.zeros((3, 784)))


def test_normalise_digits_is_idempotent_on_mnist():
    x = mnist_digits(50)
    once = normalise_digits(x)
    assert corr(normalise_digits(once), once) > 0.99


def test_normalise_digits_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        normalise_digits(np.zeros((2, 28, 28)))


def test_a_large_photo_gives_the_same_as_a_small_one():
    small = 255 - draw(TWO, size=(400, 300), box=(80, 40, 220), pen=14)
    large = np.asarray(Image.fromarray(small).resize((2000, 1500), Image.Resampling.BILINEAR))
    p_small, p_large = preprocess(np.dstack([small] * 3)), preprocess(np.dstack([large] * 3))
    assert p_large.steps["grey"].shape == (384, 512)  # worked on at a sensible size
    assert corr(p_small.x, p_large.x) > 0.97


# --------------------------------------------------------------------------------------------------
# Decoding within a memory budget (the memory each costs is measured in tests/test_hostile.py)


def encoded(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def test_16_bit_grey_is_scaled_to_8_bits():
    values = np.array([[0, 257 * 100, 65535] * 4] * 12, np.uint16)
    image = load_image(encoded(Image.fromarray(values), "PNG"))
    assert image.dtype == np.uint8 and image.shape == (12, 12)
    assert image[0, :3].tolist() == [0, 100, 255]


def test_the_decoding_budget_is_checked_from_the_header_before_decoding():
    data = encoded(Image.fromarray(np.zeros((100, 100), np.uint16)), "PNG")   # 20,000 bytes decoded
    assert load_image(data, max_decoded_bytes=20_000).shape == (100, 100)
    with pytest.raises(ImageError, match="too large to decode: 100x100 pixels in 16-bit grey"):
        load_image(data, max_decoded_bytes=19_999)
    # pixel data cut off: still refused for its size, not for the damage, so nothing was decoded
    with pytest.raises(ImageError, match="too large to decode"):
        load_image(data[:60], max_decoded_bytes=19_999)


def test_a_large_image_is_shrunk_while_it_is_decoded():
    data = encoded(Image.fromarray(255 - draw(TWO, size=(2000, 1500), box=(500, 300, 900), pen=60)), "PNG")
    assert load_image(data).shape == (384, 512)                   # WORK_SIZE, as preprocess would
    assert load_image(data, max_side=None).shape == (1500, 2000)


def test_a_large_jpeg_is_decoded_at_reduced_scale_and_reads_the_same():
    paper = 255 - draw(TWO, size=(4000, 3000), box=(1200, 600, 1800), pen=120)
    data = encoded(Image.fromarray(paper).convert("RGB"), "JPEG", quality=90)
    image = load_image(data)
    assert image.shape == (384, 512, 3)
    full = np.asarray(Image.open(io.BytesIO(data)))                # decoded at full size
    assert corr(preprocess(image).x, preprocess(full).x) > 0.97


def test_exif_orientation_is_applied_to_a_shrunk_photo():
    exif = Image.Exif()
    exif[0x0112] = 6                                              # shown turned 90 degrees clockwise
    data = encoded(Image.new("RGB", (2000, 1000), "white"), "JPEG", exif=exif.tobytes())
    assert load_image(data).shape == (512, 256, 3)


def test_palette_images_become_grey_colour_or_transparent_as_they_are():
    grey = Image.fromarray(draw(SEVEN)).convert("P")
    assert load_image(encoded(grey, "PNG")).shape == (280, 280)
    colour = Image.new("P", (40, 30))
    colour.putpalette([0, 0, 0, 255, 0, 0])
    assert load_image(encoded(colour, "PNG")).shape == (30, 40, 3)
    assert load_image(encoded(colour, "PNG", transparency=0)).shape == (30, 40, 4)


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.fromarray(draw(shape)).convert("P") for shape in (SEVEN, TWO, SEVEN)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 3
    first = load_image(data)
    np.testing.assert_array_equal(first > 127, draw(SEVEN) > 127)


def test_cmyk_jpeg_becomes_rgb():
    image = load_image(encoded(Image.new("CMYK", (40, 30), (0, 0, 0, 0)), "JPEG"))
    assert image.shape == (30, 40, 3) and image.min() > 240      # no ink: white paper


def test_png_text_chunks_are_skipped_unread():
    from nn.preprocess import _without_png_text

    plain = png_bytes(draw(SEVEN))
    assert _without_png_text(plain) is plain                      # nothing to drop: not even copied
    text = struct.pack(">I", 1000) + b"zTXt" + b"x" * 1000 + b"\0\0\0\0"   # never decompressed
    at = plain.index(b"IDAT") - 4
    with_text = plain[:at] + text * 50 + plain[at:]
    assert _without_png_text(with_text) == plain
    np.testing.assert_array_equal(load_image(with_text), load_image(plain))


@pytest.mark.parametrize("data", [
    encoded(Image.new("L", (40, 30)), "TIFF"),
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 40 30\nshowpage\n",   # Pillow would run Ghostscript
], ids=["tiff", "eps"])
def test_formats_beyond_the_list_are_refused_unopened(data):
    with pytest.raises(ImageError, match="not an image that can be read"):
        load_image(data)


def test_32_bit_and_float_images_are_scaled_to_8_bits():
    pgm = b"P5\n4 3\n65535\n" + np.array([0, 1000, 2000, 4000] * 3, ">u2").tobytes()   # Pillow: mode "I"
    assert load_image(pgm)[0].tolist() == [0, 63, 127, 255]                           # by its brightest
    pfm = b"Pf\n4 3\n-1.0\n" + np.array([0, 0.5, 1, 1] * 3, "<f4").tobytes()          # floats in [0, 1]
    assert load_image(pfm)[0].tolist() == [0, 127, 255, 255]


def test_a_progressive_jpeg_counts_the_coefficients_it_keeps():
    im = Image.new("RGB", (2000, 2000), "white")
    baseline, progressive = encoded(im, "JPEG"), encoded(im, "JPEG", progressive=True)
    # 4:2:0 colour keeps 1.5 coefficients a pixel, 2 bytes each: 12 MB at 2000 x 2000, besides the
    # 1000 x 1000 pixels it is decoded to (4 MB)
    assert load_image(baseline, max_decoded_bytes=10_000_000).shape == (512, 512, 3)
    with pytest.raises(ImageError, match="would take 16 MB"):
        load_image(progressive, max_decoded_bytes=10_000_000)


def test_an_opened_pil_image_is_decoded_within_the_same_budget():
    huge = Image.open(io.BytesIO(encoded(Image.new("I;16", (5000, 5000)), "PNG")))
    with pytest.raises(ImageError, match="too large to decode"):
        preprocess(huge)
