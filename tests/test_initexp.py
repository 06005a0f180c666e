"""The weight-initialisation experiment: the classic results, reproducibility, and the wiring
of the backward pass (checked against finite differences)."""
import math

import numpy as np
import pytest

from nn.initexp import (STANDARD_INITS, ExperimentConfig, InitChoice, TrainCurve, TrainSettings,
                        activation_range, build_blocks, compare_inits, gradient_range, histograms,
                        run_experiment, saturated_share, train_comparison)

SEEDS = [0, 1, 2]


def near_limits(a, margin=0.05):
    return np.mean((a < margin) | (a > 1 - margin))


def test_default_is_the_seed_experiment():
    cfg = ExperimentConfig()
    assert (cfg.n_samples, cfg.input_dim, cfg.n_layers, cfg.units) == (1000, 100, 5, 100)
    assert (cfg.activation, cfg.init, cfg.std, cfg.bins, cfg.batchnorm) == ("sigmoid", "normal", 1.0, 30, False)
    r = run_experiment(cfg)
    assert r.x.shape == (1000, 100) and r.x.dtype == np.float32
    assert abs(r.x.mean()) < 0.02 and abs(r.x.std() - 1) < 0.02           # standard normal input
    assert len(r.activations) == len(r.gradients) == len(r.stats) == 5
    assert all(a.shape == (1000, 100) for a in r.activations + r.gradients)
    assert r.act_range == (0.0, 1.0)
    for h in r.act_hists + r.grad_hists:
        assert h.counts.shape == (30,) and h.edges.shape == (31,)
        assert h.counts.sum() == 1000 * 100                               # nothing cut off
    np.testing.assert_allclose(r.act_hists[0].edges[[0, -1]], [0, 1])


@pytest.mark.parametrize("seed", SEEDS)
def test_std_1_sigmoid_saturates(seed):
    r = run_experiment(ExperimentConfig(std=1.0, seed=seed))
    for a, s in zip(r.activations, r.stats):
        assert near_limits(a) > 0.55
        assert s.saturated == pytest.approx(near_limits(a))
    assert np.mean([s.saturated for s in r.stats]) > 0.6
    # the histogram is a U: the two outer bins hold more than the 28 inner ones
    for h in r.act_hists:
        assert h.counts[0] + h.counts[-1] > h.counts[1:-1].sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_std_001_sigmoid_collapses_around_one_half(seed):
    r = run_experiment(ExperimentConfig(std=0.01, seed=seed))
    for a, s in zip(r.activations, r.stats):
        assert s.std < 0.05
        assert abs(s.mean - 0.5) < 0.01
        assert np.mean(np.abs(a - 0.5) < 0.1) > 0.99
        assert s.saturated == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_xavier_sigmoid_and_he_relu_stay_spread_in_every_layer(seed):
    xavier = run_experiment(ExperimentConfig(init="xavier", std=None, seed=seed))
    for a, s in zip(xavier.activations, xavier.stats):
        assert s.std > 0.1                                   # std 0.01 gives ~0.015
        assert s.saturated < 0.05
        assert np.mean(np.abs(a - 0.5) > 0.1) > 0.25          # a real spread, not a spike at 0.5
    he = run_experiment(ExperimentConfig(activation="relu", init="he", std=None, seed=seed))
    stds = [s.std for s in he.stats]
    assert min(stds) > 0.5
    assert max(stds) / min(stds) < 1.6                        # neither dies out nor blows up


def test_relu_xavier_fades_and_std_1_explodes():
    xavier = run_experiment(ExperimentConfig(activation="relu", init="xavier", std=None))
    assert xavier.stats[-1].std < 0.5 * xavier.stats[0].std
    big = run_experiment(ExperimentConfig(activation="relu", std=1.0))
    for lower, upper in zip(big.stats, big.stats[1:]):
        assert upper.std > 3 * lower.std
    for s in big.stats:
        assert 0.4 < s.dead < 0.6                            # half of a ReLU's inputs are negative
        assert math.isnan(s.saturated)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_batchnorm_repairs_std_001(activation):
    bad = run_experiment(ExperimentConfig(activation=activation, std=0.01))
    fixed = run_experiment(ExperimentConfig(activation=activation, std=0.01, batchnorm=True))
    healthy = 0.15 if activation == "sigmoid" else 0.4
    assert bad.stats[-1].std < 0.05
    for s in fixed.stats:
        assert s.std > healthy
    # the backward signal is repaired too
    assert fixed.stats[0].grad_norm > 0.3 * fixed.stats[-1].grad_norm


def test_gradients_vanish_with_std_001_sigmoid_and_keep_their_size_with_he_relu():
    r = run_experiment(ExperimentConfig(std=0.01))
    norms = [s.grad_norm for s in r.stats]
    for lower, upper in zip(norms, norms[1:]):
        assert lower < 0.1 * upper                           # shrinks ~40x per layer going down
    assert norms[0] / norms[-1] < 1e-5
    he = run_experiment(ExperimentConfig(activation="relu", init="he", std=None))
    assert 0.5 < he.stats[0].grad_norm / he.stats[-1].grad_norm < 2


def test_top_gradient_is_a_unit_normal_signal():
    r = run_experiment(ExperimentConfig(n_layers=3))
    g = r.gradients[-1]
    assert abs(g.std() - 1) < 0.02 and abs(g.mean()) < 0.02
    assert r.stats[-1].grad_norm == pytest.approx(np.linalg.norm(g.astype(np.float64)), rel=1e-6)


def test_same_seed_same_numbers_other_seed_other_numbers():
    cfg = ExperimentConfig(activation="tanh", init="xavier", std=None, batchnorm=True, n_layers=3)
    a, b = run_experiment(cfg), run_experiment(cfg)
    for x, y in zip(a.activations + a.gradients, b.activations + b.gradients):
        np.testing.assert_array_equal(x, y)
    assert a.stats == b.stats
    for h, k in zip(a.act_hists, b.act_hists):
        np.testing.assert_array_equal(h.counts, k.counts)
    c = run_experiment(ExperimentConfig(activation="tanh", init="xavier", std=None, batchnorm=True,
                                        n_layers=3, seed=1))
    assert not np.array_equal(a.x, c.x)
    assert not np.array_equal(a.activations[-1], c.activations[-1])


def test_inits_share_the_input_and_the_weight_draws():
    results = compare_inits(ExperimentConfig(n_layers=2))
    assert list(results) == ["std 1", "std 0.01", "Xavier", "He"]
    xs = [r.x for r in results.values()]
    for x in xs[1:]:
        np.testing.assert_array_equal(x, xs[0])
    # same standard-normal draws, scaled: layer 1's dW differ only through the activations,
    # but the weights themselves are proportional
    rng = lambda: np.random.default_rng(np.random.SeedSequence(0).spawn(3)[1])
    w1 = build_blocks(ExperimentConfig(std=1.0), rng())[0][0].params["W"]
    w2 = build_blocks(ExperimentConfig(std=0.01), rng())[0][0].params["W"]
    np.testing.assert_allclose(w2, 0.01 * w1, rtol=1e-6)


@pytest.mark.parametrize("activation,batchnorm", [("sigmoid", False), ("tanh", True), ("relu", False),
                                                  ("leaky_relu", True)])
def test_backward_matches_finite_differences(activation, batchnorm):
    """gradients[0] = dL/da_1 for L = sum(G * a_n): check it numerically through layers 2..n."""
    cfg = ExperimentConfig(activation=activation, init="he", std=None, n_layers=3, units=5,
                           n_samples=6, input_dim=4, batchnorm=batchnorm, seed=0)
    r = run_experiment(cfg)
    blocks = build_blocks(cfg, np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(3)[1]), np.float64)
    for block in blocks:                     # the experiment's exact float32 weights, in float64
        for layer in block:
            for p in layer.params.values():
                p[...] = p.astype(np.float32)
    g_top = r.gradients[-1].astype(np.float64)

    def loss(a1, pre=None):
        h = a1
        for block in blocks[1:]:
            for layer in block:
                h = layer.forward(h, train=True)
                if pre is not None and layer is block[-2]:
                    pre.append(h)            # what the activation sees
        return float(np.sum(g_top * h))

    a1 = r.activations[0].astype(np.float64)
    pre: list = []
    loss(a1, pre)
    if activation in ("relu", "leaky_relu"):   # central differences are wrong across the kink at 0
        assert min(float(np.abs(z).min()) for z in pre) > 1e-3
    num = np.zeros_like(a1)
    eps = 1e-6
    for idx in np.ndindex(a1.shape):
        plus, minus = a1.copy(), a1.copy()
        plus[idx] += eps
        minus[idx] -= eps
        num[idx] = (loss(plus) - loss(minus)) / (2 * eps)
    assert np.abs(num).max() > 1e-2                       # a gradient worth checking
    np.testing.assert_allclose(r.gradients[0], num, rtol=2e-3, atol=2e-4)


def test_histogram_ranges_follow_the_activation():
    tanh = run_experiment(ExperimentConfig(activation="tanh", std=1.0, n_layers=2))
    assert tanh.act_range == (-1.0, 1.0)
    assert tanh.act_hists[0].counts[0] > 0 and tanh.act_hists[0].counts[-1] > 0   # both limits shown
    relu = run_experiment(ExperimentConfig(activation="relu", init="he", std=None, n_layers=2))
    lo, hi = relu.act_range
    assert lo == 0 and hi == pytest.approx(max(float(a.max()) for a in relu.activations))
    for a, h in zip(relu.activations, relu.act_hists):
        assert h.counts.sum() == a.size                                  # zeros and maximum kept
        assert h.counts[0] >= np.sum(a == 0) > 0.4 * a.size
    leaky = run_experiment(ExperimentConfig(activation="leaky_relu", init="he", std=None, n_layers=2))
    assert leaky.act_range[0] < 0
    assert all(h.counts.sum() == a.size for a, h in zip(leaky.activations, leaky.act_hists))
    lo, hi = relu.grad_range
    assert lo == -hi and hi == pytest.approx(max(float(np.abs(g).max()) for g in relu.gradients))


def test_histogram_helpers():
    a = np.array([[0.0, 0.0, 0.5, 1.0]])
    (h,) = histograms([a], activation_range("relu", [a]), bins=2)
    assert h.counts.tolist() == [2, 2] and h.shares.tolist() == [0.5, 0.5]
    assert activation_range("relu", [np.zeros((2, 2))]) == (0.0, 1.0)          # all dead: still a range
    assert gradient_range([np.zeros((2, 2))]) == (-1.0, 1.0)
    assert saturated_share("tanh", np.array([-0.95, 0.0, 0.5, 0.91])) == 0.5
    assert math.isnan(saturated_share("relu", np.ones(3)))
    (h,) = histograms([np.array([0.5, np.inf, np.nan])], (0.0, 1.0), bins=2)
    assert h.counts.sum() == 1                                               # overflowed values skipped


@pytest.mark.parametrize("kwargs", [dict(activation="softplus"), dict(init="orthogonal"),
                                    dict(init="normal", std=0.0), dict(init="normal", std=None),
                                    dict(n_layers=0), dict(units=0), dict(n_samples=1), dict(seed=-1)])
def test_bad_configs_are_rejected(kwargs):
    with pytest.raises(ValueError):
        ExperimentConfig(**kwargs)


def test_init_choices():
    assert [c.std_for(100) for c in STANDARD_INITS] == pytest.approx([1.0, 0.01, 0.1, math.sqrt(0.02)])
    assert InitChoice("custom", "normal", 0.3).std_for(7) == 0.3


def test_smoothed_is_a_trailing_mean():
    curve = TrainCurve("x", np.arange(4.0), np.array([4.0, 2.0, 0.0, 2.0]), 1.0, 0.5, None, 0.0)
    np.testing.assert_allclose(curve.smoothed(2), [4.0, 3.0, 1.0, 1.0])


def test_does_it_train_std_001_stalls_xavier_and_he_learn():
    """The classic comparison on the bundled digits: a deep ReLU net with plain momentum SGD."""
    from nn.data import load_mnist_sample

    d = load_mnist_sample()
    seen = []
    curves = train_comparison(d.x_train, d.y_train, d.x_val, d.y_val, activation="relu",
                              inits=STANDARD_INITS, settings=TrainSettings(),
                              on_progress=lambda i, n, label: seen.append((i, n, label)))
    assert seen == [(0, 4, "std 1"), (1, 4, "std 0.01"), (2, 4, "Xavier"), (3, 4, "He")]
    by = {c.label: c for c in curves}
    assert by["std 1"].diverged is not None and math.isnan(by["std 1"].final_loss)
    assert by["std 0.01"].final_loss > 2.2                   # ln 10 = 2.30: still guessing
    assert by["std 0.01"].val_accuracy < 0.2
    for label in ("Xavier", "He"):
        c = by[label]
        assert c.diverged is None and c.final_loss < 0.5 and c.val_accuracy > 0.8
        assert len(c.loss) == len(c.steps) == TrainSettings().epochs * math.ceil(2000 / 32)
        assert c.loss[-50:].mean() < c.loss[:10].mean()
