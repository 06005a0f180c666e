"""nn.hidden_map: a PCA map of the last hidden layer, and placing a new drawing on it."""
import numpy as np
import pytest

from nn.hidden_map import hidden_map, last_hidden
from nn.metrics import hidden_activations
from nn.model import MLP, ModelConfig


@pytest.fixture
def model():
    return MLP(ModelConfig(784, (32, 16), 10), seed=0)


def test_last_hidden_is_what_the_output_layer_reads(model, rng):
    x = rng.random((5000, 784)).astype(np.float32)            # more than one batch
    acts = last_hidden(model, x)
    assert acts.shape == (5000, 16) and acts.dtype == np.float32
    np.testing.assert_allclose(acts[:7], hidden_activations(model, x[:7])[-1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no hidden layer"):
        last_hidden(MLP(ModelConfig(784, (), 10)), x[:2])


def test_the_map_is_the_pca_of_the_activations(model, rng):
    x = rng.random((300, 784)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    m = hidden_map(model, x, y)
    acts = last_hidden(model, x).astype(np.float64)
    centred = acts - acts.mean(axis=0)
    # the reference: the SVD of the centred activations themselves
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for k in range(2):
        assert abs(abs(m.components[k] @ vt[k]) - 1) < 1e-6          # same direction, up to the sign
    np.testing.assert_allclose(m.explained, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(m.components @ m.components.T, np.eye(2), atol=1e-9)
    assert m.coords.shape == (300, 2) and m.coords.dtype == np.float32
    np.testing.assert_allclose(m.coords, centred @ m.components.T, rtol=1e-4, atol=1e-4)
    assert m.explained[0] >= m.explained[1] > 0
    # the coordinates spread most along the first axis
    assert m.coords[:, 0].var() >= m.coords[:, 1].var()


def test_project_places_a_training_digit_where_the_map_has_it(model, rng):
    x = rng.random((200, 784)).astype(np.float32)
    y = np.arange(200) % 10
    m = hidden_map(model, x, y)
    np.testing.assert_allclose(m.project(x[:3]), m.coords[:3], rtol=1e-4, atol=1e-4)
    point = m.project(x[5])                              # a single (784,) drawing
    assert point.shape == (1, 2)
    np.testing.assert_allclose(m.centres[3], m.coords[y == 3].mean(axis=0), rtol=1e-5)
    assert m.nearest_class(m.centres[7]) == 7


def test_the_same_inputs_give_the_same_picture(model, rng):
    x = rng.random((100, 784)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    a, b = hidden_map(model, x, y), hidden_map(model, x[::-1].copy(), y[::-1].copy())
    np.testing.assert_allclose(a.components, b.components, atol=1e-6)          # no sign flips


def test_classes_separate_on_the_map_of_a_model_that_learnt_them(rng):
    # two well separated "classes" of inputs and a network trained to tell them apart
    from nn.optim import Adam
    model = MLP(ModelConfig(784, (16,), 2), seed=1)
    x = np.concatenate([rng.random((100, 784)) * 0.3, 0.7 + rng.random((100, 784)) * 0.3]).astype(np.float32)
    y = np.repeat([0, 1], 100)
    opt = Adam(0.01)
    for _ in range(30):
        model.train_step(x, y)
        opt.step(model.params(), model.grads())
    m = hidden_map(model, x, y)
    gap = np.linalg.norm(m.centres[0] - m.centres[1])
    spread = max(m.coords[y == k].std(axis=0).max() for k in (0, 1))
    assert gap > 5 * spread


def test_bad_input_is_named(model, rng):
    with pytest.raises(ValueError, match="at least 3 digits"):
        hidden_map(model, rng.random((2, 784)), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be in"):
        hidden_map(model, rng.random((5, 784)), np.array([0, 1, 2, 3, 10]))
