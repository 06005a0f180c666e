"""nn.calibrate: temperature scaling, expected calibration error, reliability bins."""
import numpy as np
import pytest

from nn.calibrate import (TEMPERATURE_RANGE, calibrate, calibrated_proba, expected_calibration_error,
                          fit_temperature, reliability_bins, scaled_softmax, split_halves, temperature_of)
from nn.model import MLP, ModelConfig


def sampled_labels(rng, scores, temperature):
    """Labels drawn from softmax(scores / temperature): for these, that temperature is the true one."""
    p = scaled_softmax(scores, temperature)
    u = rng.random((len(p), 1))
    return (p.cumsum(axis=1) < u).sum(axis=1).clip(0, p.shape[1] - 1)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_true_one(rng, true_t):
    scores = rng.normal(0, 4, (20_000, 10))
    y = sampled_labels(rng, scores, true_t)
    assert fit_temperature(scores, y) == pytest.approx(true_t, rel=0.05)


def test_fitted_temperature_minimises_the_cross_entropy(rng):
    scores = rng.normal(0, 3, (3000, 5))
    y = sampled_labels(rng, scores, 1.7)
    t = fit_temperature(scores, y)

    def nll(temp):
        p = scaled_softmax(scores, temp)
        return -np.mean(np.log(p[np.arange(len(y)), y]))

    assert nll(t) <= min(nll(t * 0.98), nll(t * 1.02)) + 1e-12


def test_fit_temperature_checks_its_input():
    with pytest.raises(ValueError, match="scores"):
        fit_temperature(np.zeros((3, 1)), np.zeros(3, int))
    with pytest.raises(ValueError, match="labels must be in"):
        fit_temperature(np.zeros((3, 4)), np.array([0, 1, 4]))


def test_reliability_bins_by_hand():
    # confidences 0.95 (right), 0.95 (wrong), 0.55 (right), 1.0 (right)
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.45, 0.55], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    bins = reliability_bins(probs, y, n_bins=10)
    assert [b["count"] for b in bins] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 3]
    assert bins[5]["lower"] == pytest.approx(0.5) and bins[5]["upper"] == pytest.approx(0.6)
    assert bins[5]["accuracy"] == 1.0 and bins[5]["confidence"] == pytest.approx(0.55)
    assert bins[9]["accuracy"] == pytest.approx(2 / 3) and bins[9]["confidence"] == pytest.approx(2.9 / 3)
    assert bins[0]["accuracy"] is None and bins[0]["confidence"] is None
    # ECE = (1 * |1 - 0.55| + 3 * |2/3 - 2.9/3|) / 4
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx((0.45 + 0.9) / 4)


def test_ece_is_near_zero_for_calibrated_and_large_for_overconfident(rng):
    scores = rng.normal(0, 3, (20_000, 10))
    y = sampled_labels(rng, scores, 1.0)
    assert expected_calibration_error(scaled_softmax(scores), y) < 0.015
    assert expected_calibration_error(scaled_softmax(scores, 0.3), y) > 0.1


def test_calibrate_fits_on_one_half_and_measures_on_the_other(rng):
    scores = rng.normal(0, 5, (4001, 10))
    y = sampled_labels(rng, scores, 3.0)          # the scores are 3 times too sharp
    fit, check = split_halves(len(y), seed=0)
    assert len(fit) == 2000 and len(check) == 2001 and not set(fit) & set(check)
    c = calibrate(scores, y, seed=0)
    assert c.n_fit + c.n_check == len(y)
    assert c.temperature == pytest.approx(fit_temperature(scores[fit], y[fit]))
    assert c.temperature == pytest.approx(3.0, rel=0.15)
    assert c.ece_after < c.ece_before / 3 and c.nll_after < c.nll_before
    assert sum(b["count"] for b in c.bins_after) == c.n_check
    summary = c.summary()
    assert summary["temperature"] == round(c.temperature, 4) and len(summary["bins_before"]) == 15


def small_model(seed=0) -> MLP:
    return MLP(ModelConfig(6, (8,), 4), seed=seed)


def test_calibrated_proba_uses_the_stored_temperature_and_keeps_the_answers(rng, tmp_path):
    model = small_model()
    x = rng.normal(0, 3, (50, 6)).astype(np.float32)
    np.testing.assert_allclose(calibrated_proba(model, x), model.predict_proba(x), rtol=1e-5, atol=1e-7)
    model.meta["temperature"] = 2.0
    p = calibrated_proba(model, x)
    assert p.dtype == np.float32 and p.shape == (50, 4)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), model.predict(x))
    assert p.max(axis=1).mean() < model.predict_proba(x).max(axis=1).mean()     # softer
    model.save(tmp_path / "m.npz")
    loaded = MLP.load(tmp_path / "m.npz")
    assert temperature_of(loaded) == 2.0
    np.testing.assert_array_equal(calibrated_proba(loaded, x), p)


@pytest.mark.parametrize("bad", [0.0, -1.0, "2", True, TEMPERATURE_RANGE[1] * 2])
def test_temperature_of_rejects_nonsense(bad):
    model = small_model()
    model.meta["temperature"] = bad
    with pytest.raises(ValueError, match="temperature"):
        temperature_of(model)


def test_models_without_softmax_are_left_alone(rng):
    model = MLP(ModelConfig(2, (4,), 1, loss="sigmoid_bce"), seed=0)
    model.meta["temperature"] = 3.0
    x = rng.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(calibrated_proba(model, x), model.predict_proba(x), rtol=1e-6)
