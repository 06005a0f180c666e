"""nn.verdict: each verdict reached by a real short training run where that is cheap, and by
hand-written histories for the edge cases."""
import json
import re
import math

import numpy as np
import pytest

from nn.data import load_dataset
from nn.model import MLP, ModelConfig
from nn.train import History, TrainConfig, Trainer
from nn.verdict import KINDS, Verdict, chance_loss, judge, verdict_for, window


def trainer(name: str, data: dict, hidden: tuple, config: TrainConfig, activation="tanh", init="xavier",
            init_std=0.01, loss="softmax_ce") -> Trainer:
    ds = load_dataset(name, **data)
    model = MLP(ModelConfig(ds.n_features, hidden, 1 if loss == "sigmoid_bce" else ds.n_classes,
                            activation=activation, init=init, init_std=init_std, loss=loss), seed=config.seed)
    t = Trainer(model, ds.x_train, ds.y_train, ds.x_val, ds.y_val, config)
    t.run()
    return t


def history(train_loss, val_loss=None, train_acc=None, val_acc=None, batch_loss=None) -> History:
    """A History with these per-epoch numbers (validation NaN when not given)."""
    n = len(train_loss)
    nan = [math.nan] * n
    return History(batch_loss=list(batch_loss if batch_loss is not None else [train_loss[0]]),
                   epoch=list(range(1, n + 1)), train_loss=list(train_loss),
                   train_acc=list(train_acc if train_acc is not None else [0.95] * n),
                   val_loss=list(val_loss if val_loss is not None else nan),
                   val_acc=list(val_acc if val_acc is not None else nan))


def check_sentences(v: Verdict) -> None:
    assert v.kind in KINDS
    for text in (v.headline, v.why, v.try_next):
        assert text and "nan" not in text.lower()
    assert any(ch.isdigit() for ch in v.why)                  # it quotes the run's numbers


SPIRALS = dict(n=600, noise=0.1)


# ----- real runs ----------------------------------------------------------------------------------

def test_sgd_at_learning_rate_10_diverges_without_nan():
    t = trainer("spirals", SPIRALS, (16, 16), TrainConfig(epochs=20, batch_size=16, optimizer="sgd", lr=10.0))
    assert t.diverged is None                                 # the Trainer saw no NaN ...
    v = verdict_for(t)
    assert v.kind == "diverged"                               # ... but the loss exploded
    check_sentences(v)
    assert "0.693" in v.why and "from 10 to 1" in v.try_next


def test_a_loss_that_blew_up_and_never_recovered_is_diverged():
    t = trainer("spirals", SPIRALS, (16, 16), TrainConfig(epochs=20, batch_size=16, optimizer="sgd", lr=10.0),
                activation="relu", init="he")
    v = verdict_for(t)
    assert v.kind == "diverged" and "never recovered" in v.why and "epoch 1" in v.why


def test_the_trainers_own_divergence_is_quoted():
    t = trainer("spirals", SPIRALS, (64, 64, 64), TrainConfig(epochs=5, batch_size=16, optimizer="sgd", lr=10.0),
                activation="relu", init="normal", init_std=1.0)
    assert t.diverged is not None and not t.history.train_loss
    v = verdict_for(t)
    assert v.kind == "diverged" and "became" in v.why and "epoch 1" in v.why
    check_sentences(v)


def test_a_tiny_learning_rate_is_stuck_near_chance():
    t = trainer("xor", dict(n=200, noise=0.1), (8,), TrainConfig(epochs=20, batch_size=16, optimizer="sgd",
                                                                  lr=1e-4))
    v = verdict_for(t)
    assert v.kind == "stuck"
    check_sentences(v)
    assert "50%" in v.why and "Raise the learning rate (0.0001)" in v.try_next


def test_a_slow_learning_rate_is_still_improving():
    t = trainer("spirals", SPIRALS, (16, 16), TrainConfig(epochs=30, batch_size=16, optimizer="adam", lr=0.001))
    v = verdict_for(t)
    assert v.kind == "still_improving"
    check_sentences(v)
    assert "more epochs" in v.try_next.lower() and "last 6 epochs" in v.why


def test_a_big_net_on_few_noisy_points_overfits():
    t = trainer("moons", dict(n=40, noise=0.4, val_fraction=0.5), (128, 128),
                TrainConfig(epochs=100, batch_size=20, optimizer="adam", lr=0.01))
    v = verdict_for(t)
    assert v.kind == "overfitting"
    check_sentences(v)
    assert "epoch 1" in v.why and "100% of the training points" in v.why


def test_spirals_learn():
    t = trainer("spirals", SPIRALS, (32, 32), TrainConfig(epochs=60, batch_size=32, optimizer="adam", lr=0.02),
                activation="relu", init="he")
    v = verdict_for(t)
    assert v.kind == "learned" and v.headline == "Learned: 100% right"
    check_sentences(v)


def test_a_bouncing_loss_is_learned_but_told_to_settle():
    t = trainer("xor", dict(n=200, noise=0.1), (8,), TrainConfig(epochs=10, batch_size=16, optimizer="sgd",
                                                                  lr=10.0))
    v = verdict_for(t)
    assert v.kind == "learned" and "jumps between" in v.why and "Lower the learning rate (10)" in v.try_next


def test_the_verdict_is_json_and_the_same_every_time():
    config = TrainConfig(epochs=30, batch_size=16, optimizer="adam", lr=0.001)
    a, b = (verdict_for(trainer("spirals", SPIRALS, (16, 16), config)) for _ in range(2))
    assert a == b
    assert json.loads(json.dumps(a.to_dict())) == {"kind": a.kind, "headline": a.headline, "why": a.why,
                                                   "try_next": a.try_next}


def test_the_command_line_prints_the_same_verdict(capsys):
    """python -m nn.train's JSON carries verdict_for's verdict."""
    from nn.cli import train_main
    assert train_main(["--dataset", "spirals", "--n-samples", "600", "--hidden", "16,16", "--activation", "tanh",
                       "--init", "xavier", "--epochs", "30", "--batch-size", "16", "--lr", "0.001", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ds = load_dataset("spirals", n=600, noise=0.1, val_fraction=0.2, seed=0)
    model = MLP(ModelConfig(2, (16, 16), 2, activation="tanh", init="xavier"), seed=0)
    t = Trainer(model, ds.x_train, ds.y_train, ds.x_val, ds.y_val,
                TrainConfig(epochs=30, batch_size=16, lr=0.001))
    t.run()
    assert printed["verdict"] == verdict_for(t).to_dict()


# ----- edge cases ---------------------------------------------------------------------------------

def test_chance_loss_per_loss_function():
    assert chance_loss(2) == pytest.approx(math.log(2)) and chance_loss(10) == pytest.approx(math.log(10))
    assert chance_loss(2, "sigmoid_bce") == pytest.approx(math.log(2))
    assert chance_loss(2, "mse") == 0.25 and chance_loss(10, "mse") == pytest.approx(0.09)
    with pytest.raises(ValueError, match="at least 2"):
        chance_loss(1)
    with pytest.raises(ValueError, match="unknown loss"):
        chance_loss(3, "hinge")


def test_nothing_to_judge_before_the_first_epoch():
    with pytest.raises(ValueError, match="no epoch"):
        judge(History(batch_loss=[0.7, 0.6]), 2)
    # a divergence in the very first batches is a verdict, epochs or not
    v = judge(History(), 2, diverged="diverged at epoch 1, batch 1: the loss became NaN; try a smaller "
                                     "learning rate (now 5)", lr=5.0)
    assert v.kind == "diverged" and v.why == "Training stopped: it diverged at epoch 1, batch 1: the loss became NaN."


def test_a_loss_far_above_its_start_is_diverged_even_at_good_accuracy():
    v = judge(history([0.7, 3.0, 5.0, 6.0], train_acc=[0.9] * 4), 2, lr=1.0)
    assert v.kind == "diverged" and "rose to 5.5" in v.why


def test_a_bad_start_that_comes_down_is_not_diverged():
    """Huge initial weights start at a loss of 30; falling to 2 with 90% right is progress, not explosion."""
    v = judge(history([20, 8, 4, 2.2, 2.0, 2.0], train_acc=[0.6, 0.8, 0.85, 0.9, 0.9, 0.9],
                      batch_loss=[30.0]), 2)
    assert v.kind == "learned"


def test_stuck_far_above_chance_loss_says_outputs_are_confidently_wrong():
    # start 3.0, ends 2.0 (not 3x the start) at chance: stuck, but its advice is to take smaller steps
    v = judge(history([2.0] * 6, train_acc=[0.5] * 6, batch_loss=[3.0]), 2, lr=2.0)
    assert v.kind == "stuck" and "confidently wrong" in v.try_next and "(2)" in v.try_next


def test_stuck_uses_the_number_of_classes():
    ten = dict(val_loss=[2.2] * 6, val_acc=[0.15] * 6)
    assert judge(history([2.25] * 6, train_acc=[0.17] * 6, **ten), 10).kind == "stuck"
    assert judge(history([1.0] * 6, train_acc=[0.6] * 6, val_loss=[1.1] * 6, val_acc=[0.55] * 6), 10).kind \
        == "learned"
    # unbalanced classes: 80% right is only what always saying the commonest class gets
    v = judge(history([0.5] * 6, train_acc=[0.8] * 6), 2, chance_accuracy=0.8)
    assert v.kind == "stuck" and "guessing gets 80%" in v.why


def test_improving_from_chance_is_still_improving_not_stuck():
    loss = [0.69, 0.68, 0.66, 0.63, 0.60, 0.56, 0.52, 0.48, 0.44, 0.40]
    v = judge(history(loss, train_acc=[0.5, 0.5, 0.5, 0.51, 0.51, 0.52, 0.52, 0.53, 0.53, 0.53]), 2, lr=1e-3)
    assert v.kind == "still_improving" and "raise the learning rate (0.001)" in v.try_next


def test_noise_alone_is_not_improvement():
    rng = np.random.default_rng(0)
    loss = list(0.3 + 0.1 * rng.standard_normal(20))
    assert judge(history(loss), 2).kind == "learned"


def test_a_rising_validation_loss_with_small_accuracy_gap_is_not_overfitting():
    """Overconfidence on a few points (spirals at 98%): the loss rises, the answers do not get worse."""
    n = 20
    train = list(np.geomspace(0.3, 0.001, n))
    val = [0.3, 0.2, 0.1, 0.05, 0.04] + list(np.linspace(0.05, 0.12, n - 5))
    v = judge(history(train, val, train_acc=[1.0] * n, val_acc=[0.98] * n), 2)
    assert v.kind == "learned"
    v = judge(history(train, val, train_acc=[1.0] * n, val_acc=[0.8] * n), 2)
    assert v.kind == "overfitting" and "epoch 5" in v.why and "0.04" in v.why


def test_one_bad_validation_epoch_is_not_overfitting():
    val = [0.5, 0.4, 0.3, 0.25, 0.22, 0.2, 0.2, 0.19, 0.19, 0.6]
    v = judge(history([0.5, 0.4, 0.3, 0.25, 0.2, 0.18, 0.15, 0.13, 0.12, 0.11], val,
                      train_acc=[0.99] * 10, val_acc=[0.85] * 10), 2)
    assert v.kind != "overfitting"


def test_without_validation_the_training_numbers_decide():
    v = judge(history([0.1] * 5, train_acc=[0.97] * 5), 3)
    assert v.kind == "learned" and "97% of the training points" in v.why


def test_one_epoch_reads_improvement_from_its_batches():
    batches = list(np.linspace(2.3, 0.8, 40))
    v = judge(history([1.4], [0.9], [0.6], [0.7], batch_loss=batches), 10)
    assert v.kind == "still_improving" and "last 10 batches" in v.why
    assert judge(history([1.4], [0.9], [0.6], [0.7], batch_loss=[2.3, 1.0]), 10).kind == "learned"


def test_window_is_a_fifth_of_the_run():
    assert [window(n) for n in (1, 5, 10, 11, 400)] == [2, 2, 2, 3, 80]


def test_after_one_epoch_it_speaks_of_that_epoch_and_of_the_batches_it_judged():
    # one finished epoch: its loss fell from 2.3 to about 0.4 and then flattened, so the epoch's mean
    # (0.66) is not where the loss is now; the verdict quotes the recent batches it judged instead
    rng = np.random.default_rng(0)
    batches = np.concatenate([np.linspace(2.3, 0.45, 100), 0.41 + 0.02 * rng.standard_normal(100)])
    v = judge(history([0.664], train_acc=[0.79], batch_loss=batches), 10)
    assert v.kind == "learned"
    assert "in its last epoch" in v.why and "2 epochs" not in v.why
    assert re.search(r"levelled off at about 0\.41\d? over the last 50 batches", v.why) and "0.664" not in v.why
    # the advice for too low a training accuracy does not send an image model to input features
    assert "more units or layers (or, on 2-D data, more input features)" in v.try_next


def test_still_falling_after_one_epoch_is_still_improving():
    batches = np.linspace(2.3, 0.3, 200)
    v = judge(history([0.9], train_acc=[0.7], batch_loss=batches), 10)
    assert v.kind == "still_improving" and "over the last 50 batches" in v.why
