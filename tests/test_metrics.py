import numpy as np
import pytest

from nn.metrics import (RunningSmooth, activation_health, confusion_matrix, decision_grid, hidden_activations, histogram,
                        smooth, thin, worst_mistakes)
from nn.model import MLP, ModelConfig


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.dtype == np.int64


def test_confusion_matrix_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_worst_mistakes_lists_only_errors_most_confident_first():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1],      # right
                      [0.6, 0.4],      # wrong, 60 % sure of class 0
                      [0.95, 0.05],    # wrong, 95 % sure
                      [0.2, 0.8]])     # wrong, 80 % sure of class 1
    idx, pred, conf = worst_mistakes(y, proba, limit=2)
    assert idx.tolist() == [2, 3]
    assert pred.tolist() == [0, 1]
    np.testing.assert_allclose(conf, [0.95, 0.8])


def test_decision_grid_lays_rows_out_along_y():
    # a linear model that says class 1 exactly where y > 0
    model = MLP(ModelConfig(2, (), 2), seed=0)
    dense = model.dense_layers[0]
    dense.params["W"][...] = [[0, 0], [-5, 5]]
    dense.params["b"][...] = 0
    xs, ys, proba = decision_grid(model, ((-1, 1), (-2, 2)), resolution=9)
    assert xs.shape == (9,) and ys.shape == (9,) and proba.shape == (9, 9, 2)
    assert xs[0] == -1 and ys[-1] == 2
    pred = proba.argmax(axis=2)
    assert (pred[ys > 0] == 1).all() and (pred[ys < 0] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=2), 1, rtol=1e-5)


def test_decision_grid_needs_a_two_input_model():
    with pytest.raises(ValueError, match="2 inputs"):
        decision_grid(MLP(ModelConfig(3, (4,), 2)), ((0, 1), (0, 1)))


def test_histogram_survives_constant_non_finite_and_empty_input():
    counts, edges = histogram(np.full(10, 3.0), bins=5)
    assert counts.sum() == 10 and edges[0] < 3 < edges[-1]
    counts, edges = histogram(np.array([np.nan, np.inf, 1.0, 2.0]), bins=4)
    assert counts.sum() == 2 and len(edges) == 5
    counts, edges = histogram(np.array([]), bins=4)
    assert counts.tolist() == [0, 0, 0, 0] and len(edges) == 5


def test_hidden_activations_are_what_each_hidden_layer_passes_on(rng):
    model = MLP(ModelConfig(3, (5, 4), 2, activation="relu", batchnorm=True, dropout=0.5), seed=0)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    acts = hidden_activations(model, x)
    assert [a.shape for a in acts] == [(7, 5), (7, 4)]
    # by hand, in inference mode: Dense -> BatchNorm -> ReLU (dropout is off)
    h = x
    for layer in model.layers[:3]:
        h = layer.forward(h)
    np.testing.assert_allclose(acts[0], h)
    assert (acts[0] >= 0).all()


def test_activation_health_counts_dead_relus_and_saturated_tanh(rng):
    model = MLP(ModelConfig(2, (4,), 2, activation="relu"), seed=0)
    model.dense_layers[0].params["b"][:2] = -100.0           # two units can never fire
    x = rng.normal(size=(50, 2)).astype(np.float32)
    [(kind, share)] = activation_health(model, hidden_activations(model, x))
    assert kind == "dead" and share == pytest.approx(0.5)

    model = MLP(ModelConfig(2, (4,), 2, activation="tanh"), seed=0)
    model.dense_layers[0].params["W"][...] *= 1000             # huge inputs pin tanh at +-1
    [(kind, share)] = activation_health(model, hidden_activations(model, x))
    assert kind == "saturated" and share == pytest.approx(1.0)


def test_smooth_is_the_debiased_moving_average(rng):
    values = rng.normal(size=3000)
    expected, s = [], 0.0
    for t, v in enumerate(values, 1):
        s = 0.95 * s + 0.05 * v
        expected.append(s / (1 - 0.95 ** t))
    np.testing.assert_allclose(smooth(values, 0.95), expected, rtol=1e-9, atol=1e-12)
    assert smooth([2.0, 4.0], 0.5)[0] == 2.0                 # no pull towards zero at the start
    assert smooth([], 0.9).size == 0
    with pytest.raises(ValueError):
        smooth([1.0], 1.0)


def test_running_smooth_matches_smooth_however_the_values_arrive(rng):
    values = rng.normal(size=5000)
    for weight in (0.0, 0.5, 0.95, 0.999):
        running = RunningSmooth(weight)
        start = 0
        for size in (1, 0, 7, 300, 1, 2000, 2691):               # uneven pieces, growth past the buffer
            running.extend(values[start:start + size])
            start += size
            np.testing.assert_allclose(running.values, smooth(values[:start], weight), rtol=1e-9, atol=1e-12)
        assert len(running) == 5000


def test_thin_keeps_at_most_k_points_including_the_last():
    assert thin(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = thin(10_001, 400)
    assert len(idx) <= 400 and idx[0] == 0 and idx[-1] == 10_000
    assert (np.diff(idx) > 0).all()
