"""The MLP as a whole: gradient check, fitting, save/load and the errors a user can meet."""
import json
import struct
import zipfile

import numpy as np
import pytest

from nn.gradcheck import agreement, check_model
from nn.model import MLP, ModelConfig, ModelFileError, peek, state_shapes
from nn.optim import make_optimizer


def random_biases(model, rng):
    """Non-zero biases keep pre-activations off the ReLU kink during finite differences."""
    for layer in model.dense_layers:
        layer.params["b"][...] = rng.uniform(0.2, 0.5, layer.params["b"].shape)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("loss,out", [("softmax_ce", 4), ("mse", 4), ("sigmoid_bce", 1)])
def test_whole_model_gradient_check(rng, activation, batchnorm, loss, out):
    config = ModelConfig(6, (9, 8), out, activation=activation, init="xavier",
                         batchnorm=batchnorm, dropout=0.25, loss=loss)
    model = MLP(config, seed=1, dtype=np.float64)
    random_biases(model, rng)
    x = rng.standard_normal((10, 6))
    y = rng.integers(0, 2 if out == 1 else out, 10)
    errors = check_model(model, x, y, l2=0.01, max_entries=30)
    assert set(errors) == set(model.params())
    if batchnorm:
        # A bias right before batch norm has no effect (BN subtracts the batch mean): its true
        # gradient is 0, so compare it absolutely; the numerical estimate is pure rounding noise.
        for i in range(0, len(model.layers) - 1, 4 if config.dropout else 3):
            assert np.abs(model.layers[i].grads["b"]).max() < 1e-12
            errors.pop(f"layers.{i}.b")
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_catches_a_wrong_gradient(rng):
    """The check is not vacuous: a broken backward is detected."""
    model = MLP(ModelConfig(4, (5,), 3, init="xavier"), seed=0, dtype=np.float64)
    random_biases(model, rng)
    original = model.backward

    def broken(*args, **kwargs):
        out = original(*args, **kwargs)
        model.dense_layers[0].grads["W"] *= 1.01
        return out

    model.backward = broken
    errors = check_model(model, rng.standard_normal((6, 4)), rng.integers(0, 3, 6))
    assert errors["layers.0.W"] > 1e-3
    assert agreement(errors["layers.0.W"])[0] == "disagrees"
    assert agreement(errors["layers.0.b"])[0] == "agrees"


@pytest.mark.parametrize("error, kind", [(0.0, "agrees"), (9.9e-6, "agrees"), (1e-5, "close"),
                                         (9.9e-4, "close"), (1e-3, "disagrees"), (0.5, "disagrees")])
def test_agreement_bands(error, kind):
    assert agreement(error)[0] == kind


def test_input_gradient_matches_numerical(rng):
    from nn.gradcheck import numerical_gradient, relative_error
    model = MLP(ModelConfig(5, (6,), 3, activation="tanh", init="xavier"), seed=0, dtype=np.float64)
    x = rng.standard_normal((1, 5))
    analytic = model.input_gradient(x, cls=2)
    numeric = numerical_gradient(lambda: float(model.forward(x)[0, 2]), x)
    assert relative_error(analytic, numeric) < 1e-7


def test_structure_and_parameter_count():
    model = MLP(ModelConfig(784, (256, 128), 10, batchnorm=True, dropout=0.2))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNorm", "ReLU", "Dropout", "Dense", "BatchNorm", "ReLU", "Dropout", "Dense"]
    assert model.n_params == (784 * 256 + 256) + 2 * 256 + (256 * 128 + 128) + 2 * 128 + (128 * 10 + 10)
    assert all(p.dtype == np.float32 for p in model.params().values())
    assert model.config.shape == "784 → 256 → 128 → 10"


def test_outputs_and_gradients_per_layer_are_exposed(rng):
    model = MLP(ModelConfig(3, (4, 5), 2), seed=0)
    x = rng.standard_normal((7, 3)).astype(np.float32)
    model.train_step(x, rng.integers(0, 2, 7))
    assert [o.shape for o in model.outputs] == [(7, 4), (7, 4), (7, 5), (7, 5), (7, 2)]
    assert [g.shape for g in model.output_grads] == [o.shape for o in model.outputs]


def test_same_seed_same_weights_different_seed_different():
    config = ModelConfig(10, (8,), 3)
    a, b, c = MLP(config, seed=5), MLP(config, seed=5), MLP(config, seed=6)
    for key in a.params():
        assert np.array_equal(a.params()[key], b.params()[key])
    assert not np.array_equal(a.params()["layers.0.W"], c.params()["layers.0.W"])


def test_fits_a_small_batch_perfectly(rng):
    x = rng.standard_normal((20, 8)).astype(np.float32)
    y = rng.integers(0, 5, 20)
    model = MLP(ModelConfig(8, (64,), 5), seed=0)
    opt = make_optimizer("adam", 0.01)
    for _ in range(300):
        loss, _ = model.train_step(x, y)
        opt.step(model.params(), model.grads())
    assert loss < 0.01
    assert np.array_equal(model.predict(x), y)


def test_predict_proba_rows_sum_to_one(rng):
    for config in (ModelConfig(3, (4,), 5), ModelConfig(3, (4,), 1, loss="sigmoid_bce")):
        p = MLP(config).predict_proba(rng.standard_normal((6, 3)))
        assert p.shape == (6, max(config.output_dim, 2))
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_save_load_round_trip(tmp_path, rng, batchnorm):
    model = MLP(ModelConfig(6, (5, 4), 3, batchnorm=batchnorm, dropout=0.1, activation="tanh"), seed=2)
    x = rng.standard_normal((9, 6)).astype(np.float32)
    for _ in range(3):                       # move the BatchNorm running statistics
        model.train_step(x, rng.integers(0, 3, 9))
    path = model.save(tmp_path / "m.npz", meta={"note": "hello"})
    loaded = MLP.load(path)
    assert loaded.config == model.config
    assert loaded.meta == {"note": "hello"}
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    with np.load(path, allow_pickle=False) as f:         # loadable without pickle
        assert json.loads(str(f["config"]))["hidden"] == [5, 4]


def test_load_errors_name_the_problem(tmp_path):
    model = MLP(ModelConfig(4, (3,), 2))
    good = model.save(tmp_path / "good.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        MLP.load(tmp_path / "missing.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        MLP.load(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a model")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        MLP.load(garbage)
    with pytest.raises(ModelFileError, match="784 inputs|expected 784"):
        MLP.load(good, expect_input_dim=784)
    # right format, wrong shape
    with np.load(good, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["layers.0.W"] = np.zeros((5, 3), np.float32)
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"layers\.0\.W.*shape \(5, 3\).*expected \(4, 3\)"):
        MLP.load(tmp_path / "shape.npz")
    del arrays["layers.0.W"]
    np.savez(tmp_path / "missing_key.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"missing array 'layers\.0\.W'"):
        MLP.load(tmp_path / "missing_key.npz")
    # a pickled object array is refused, never executed
    arrays["layers.0.W"] = np.array([object()], dtype=object)
    np.savez(tmp_path / "pickle.npz", **arrays)
    with pytest.raises(ModelFileError):
        MLP.load(tmp_path / "pickle.npz")


def test_save_is_atomic(tmp_path, monkeypatch):
    """A crash while writing leaves the previous file intact and no temporary file behind."""
    path = tmp_path / "m.npz"
    old = MLP(ModelConfig(4, (3,), 2), seed=1)
    old.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("nn.files.os.fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        MLP(ModelConfig(4, (3,), 2), seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
    assert zipfile.is_zipfile(path)


def test_config_validation():
    with pytest.raises(ValueError, match="activation must be one of relu, leaky_relu, sigmoid, tanh, got 'swish'"):
        ModelConfig(2, (3,), 2, activation="swish")
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 0.9\], got 1.0"):
        ModelConfig(2, (3,), 2, dropout=1.0)
    with pytest.raises(ValueError, match="hidden must be up to 8 comma-separated layer widths"):
        ModelConfig(784, (100_000,), 10)            # 78 million weights: refused before any is made
    with pytest.raises(ValueError, match="sigmoid_bce"):
        ModelConfig(2, (3,), 3, loss="sigmoid_bce")
    with pytest.raises(ValueError, match="expected input of shape"):
        MLP(ModelConfig(2, (3,), 2)).forward(np.zeros((1, 5)))


# ----- model files are bounded by what they declare (memory measured in tests/test_hostile.py) -----

@pytest.mark.parametrize("config", [ModelConfig(4, (), 3), ModelConfig(6, (5, 4), 3, batchnorm=True),
                                    ModelConfig(6, (5, 4, 3), 2, dropout=0.2),
                                    ModelConfig(6, (5,), 1, batchnorm=True, dropout=0.5, loss="sigmoid_bce")])
def test_state_shapes_are_what_the_model_saves(config):
    assert state_shapes(config) == {k: v.shape for k, v in MLP(config).state().items()}


def test_peek_reads_the_config_and_card_but_not_the_weights(tmp_path):
    model = MLP(ModelConfig(64, (50, 4), 3, batchnorm=True))
    path = model.save(tmp_path / "m.npz", meta={"name": "mine", "val_accuracy": 0.9})
    info = peek(path, expect_input_dim=64)
    assert info.config == model.config and info.meta == {"name": "mine", "val_accuracy": 0.9}
    assert info.n_params == model.n_params and info.file_bytes == path.stat().st_size
    # damage the last weight of the first layer: peek never reads it, load does (and the zip's
    # checksum catches it)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        member = z.getinfo("layers.0.W.npy")
    name_length, extra_length = struct.unpack("<HH", data[member.header_offset + 26:member.header_offset + 30])
    at = member.header_offset + 30 + name_length + extra_length + member.file_size - 1
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    assert peek(path).config == model.config
    with pytest.raises(ModelFileError, match="corrupt or truncated.*CRC"):
        MLP.load(path)


def rewrite(path, src, change):
    """A copy of the model file ``src`` with ``change(arrays)`` applied to its arrays (np.savez)."""
    with np.load(src, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    change(arrays)
    np.savez(path, **arrays)
    return path


def set_config(arrays, **changes):
    arrays["config"] = np.array(json.dumps({**json.loads(str(arrays["config"])), **changes}))


@pytest.mark.parametrize("change,message", [
    (lambda a: a.update({"layers.0.W": a["layers.0.W"].astype(np.int8)}), r"'layers\.0\.W' holds int8, expected float32"),
    (lambda a: a.update({"layers.0.b": np.full(3, np.nan, np.float32)}), r"'layers\.0\.b' holds NaN"),
    (lambda a: a.update({"meta": np.array("[1, 2]")}), "invalid metadata: a JSON object was expected"),
    (lambda a: a.update({"config": np.array("[" * 100_000 + "]" * 100_000)}), "invalid model config"),
    (lambda a: a.update({"format_version": np.array("1")}), "'format_version' must be one integer"),
    (lambda a: a.update({"meta": np.array("x" * 1_000_001)}), "'meta' must be one JSON string of at most 1,000,000"),
    (lambda a: set_config(a, input_dim=4097), r"input_dim must be a whole number in \[1, 4096\], got 4097"),
    (lambda a: set_config(a, output_dim=True), r"output_dim must be a whole number in \[1, 1000\], got True"),
    (lambda a: set_config(a, hidden=[3] * 9), "hidden must be up to 8 comma-separated layer widths"),
    (lambda a: a.update({f"x{i}": np.zeros(1) for i in range(60)}), "the zip holds 67 members; a model file has at most 57"),
])
def test_what_a_model_file_declares_is_checked_before_its_arrays_are_read(tmp_path, change, message):
    good = MLP(ModelConfig(4, (3,), 2)).save(tmp_path / "good.npz")
    path = rewrite(tmp_path / "bad.npz", good, change)
    if "NaN" not in message:                        # everything but the values is refused by peek too
        with pytest.raises(ModelFileError, match=message):
            peek(path)
    with pytest.raises(ModelFileError, match=f"bad.npz: .*{message}"):
        MLP.load(path)


def test_a_header_declaring_more_than_its_member_holds_is_refused(tmp_path):
    good = MLP(ModelConfig(4, (3,), 2)).save(tmp_path / "good.npz")
    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for member in src.infolist():
            data = src.read(member)
            if member.filename == "layers.0.W.npy":
                header = data.replace(b"(4, 3)", b"(40000, 30000)")   # 4.8 GB declared over 48 bytes
                data = header[:len(data) - 48]
            dst.writestr(member, data)
    with pytest.raises(ModelFileError, match=r"declares shape \(40000, 30000\) of float32 \(4,800,000,000 bytes\)"):
        MLP.load(path)


def test_zip_members_that_are_not_arrays_are_refused(tmp_path):
    good = MLP(ModelConfig(4, (3,), 2)).save(tmp_path / "good.npz")
    path = tmp_path / "extra.npz"
    path.write_bytes(good.read_bytes())
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="unexpected zip member 'readme.txt'"):
        peek(path)


def test_a_file_over_the_size_limit_is_refused_unopened(tmp_path, monkeypatch):
    good = MLP(ModelConfig(4, (3,), 2)).save(tmp_path / "good.npz")
    monkeypatch.setattr("nn.model.MAX_MODEL_BYTES", good.stat().st_size - 1)
    with pytest.raises(ModelFileError, match="a model file may be at most"):
        MLP.load(good)
