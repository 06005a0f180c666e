"""nn.neurons: every neuron's output over the plane (from the model's own forward), decision grids for
any input features, and neurons kept switched off through training."""
from __future__ import annotations

import numpy as np
import pytest

from nn import metrics
from nn.features import expand
from nn.model import MLP, ModelConfig
from nn.neurons import KeepOff, decision_grid, dense_indices, neuron_outputs, plane
from nn.optim import make_optimizer
from nn.train import TrainConfig, Trainer

BOUNDS = ((-2.0, 2.0), (-1.0, 3.0))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_the_plane_is_laid_out_as_an_image_and_expanded():
    xs, ys, inputs = plane(BOUNDS, 5, ("x1", "x1*x2"))
    assert xs[0] == -2 and xs[-1] == 2 and ys[0] == -1 and ys[-1] == 3
    assert inputs.shape == (25, 2) and inputs.dtype == np.float32
    np.testing.assert_allclose(inputs[2 * 5 + 3], [xs[3], xs[3] * ys[2]])       # row i*R + j: (xs[j], ys[i])


def test_the_decision_grid_of_plain_inputs_is_nn_metrics_own():
    model = MLP(ModelConfig(input_dim=2, hidden=(5,), output_dim=3), seed=1)
    for a, b in zip(decision_grid(model, BOUNDS, 7), metrics.decision_grid(model, BOUNDS, 7)):
        np.testing.assert_array_equal(a, b)
    wide = MLP(ModelConfig(input_dim=3, hidden=(5,), output_dim=2), seed=1)
    xs, ys, proba = decision_grid(wide, BOUNDS, 6, ("x1", "x2", "x2^2"))
    point = np.array([[xs[4], ys[1]]])
    np.testing.assert_allclose(proba[1, 4], wide.predict_proba(expand(point, ("x1", "x2", "x2^2")))[0], rtol=1e-6)


@pytest.mark.parametrize("loss, outputs", [("softmax_ce", 3), ("mse", 3), ("sigmoid_bce", 1)])
def test_each_neuron_says_what_the_model_computes(rng, loss, outputs):
    config = ModelConfig(input_dim=2, hidden=(4, 3), output_dim=outputs, activation="relu", batchnorm=True,
                         loss=loss)
    model = MLP(config, seed=2)
    x = rng.normal(size=(11, 2)).astype(np.float32)
    got = neuron_outputs(model, x)
    assert [g.shape for g in got] == [(11, 4), (11, 3), (11, outputs)]
    scores = model.forward(x)
    at = dense_indices(model)
    np.testing.assert_array_equal(got[0], model.outputs[at[1] - 1])         # after batch norm and ReLU
    assert (got[1] >= 0).all()
    if loss == "mse":
        np.testing.assert_array_equal(got[2], scores)
    else:
        np.testing.assert_allclose(got[2].sum(axis=1) if outputs > 1 else got[2][:, 0],
                                   1.0 if outputs > 1 else model.predict_proba(x)[:, 1], rtol=1e-6)


def test_a_switched_off_neuron_stays_silent_through_training(rng):
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = MLP(ModelConfig(input_dim=2, hidden=(6, 4), output_dim=2, activation="sigmoid"), seed=0)
    trainer = Trainer(model, x, y, config=TrainConfig(epochs=40, batch_size=8, optimizer="adam", lr=0.05))
    trainer.run_epoch()
    keep = KeepOff(trainer.optimizer, model)
    trainer.optimizer = keep
    keep.switch(1, 2, True)
    assert keep.lr == trainer.lr and keep.state is keep.inner.state
    trainer.set_lr(0.02)
    assert keep.inner.lr == 0.02
    after = model.dense_layers[2].params["W"]
    assert not after[2].any()
    for _ in range(30):
        trainer.run_epoch()
    assert not after[2].any() and after.any()
    # whatever it computes (a sigmoid says 0.5 even with every weight 0), nothing above hears it
    deaf = model.copy()
    deaf.dense_layers[1].params["W"][:, 2] = 5.0
    np.testing.assert_allclose(deaf.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    keep.switch(1, 2, False)
    trainer.run_epoch()
    assert after[2].any()
    with pytest.raises(ValueError, match="no hidden neuron"):
        keep.switch(2, 0, True)


def test_keep_off_passes_any_optimiser_through():
    model = MLP(ModelConfig(input_dim=2, hidden=(3,), output_dim=2), seed=0)
    keep = KeepOff(make_optimizer("momentum", 0.1), model)
    params = model.params()
    grads = {k: np.ones_like(p) for k, p in params.items()}
    before = {k: p.copy() for k, p in params.items()}
    keep.step(params, grads)
    for key, p in params.items():
        np.testing.assert_allclose(p, before[key] - 0.1)
