"""trace_step: every number of the step-through equals central differences (float64) for every
activation, loss and optimiser; the numbers are nn's own; the worksheet command line."""
import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient
from nn.layers import ACTIVATIONS, Tanh
from nn.losses import LOSSES
from nn.model import MLP, ModelConfig
from nn.optim import OPTIMIZERS, Optimizer, make_optimizer
from nn.cli import trace_main as main
from nn.trace import BLANK, trace_step, trace_to_dict, trace_to_markdown

OUTPUTS = {"softmax_ce": 3, "mse": 2, "sigmoid_bce": 1}      # a KeyError here means: add the new loss
TOL = {"rtol": 1e-6, "atol": 1e-9}


def make_model(activation="tanh", loss="softmax_ce", **config) -> MLP:
    cfg = ModelConfig(input_dim=3, hidden=(4, 3), output_dim=OUTPUTS[loss], activation=activation,
                      init="xavier", loss=loss, **config)
    return MLP(cfg, seed=1, dtype=np.float64)


def make_batch(rng, n: int, loss: str):
    n_classes = max(OUTPUTS[loss], 2)
    return rng.normal(size=(n, 3)), rng.integers(0, n_classes, n)


def check_against_numerical(trace, ref: MLP, y: np.ndarray, l2: float) -> None:
    """Every dW, db, gamma, beta and every layer's dx of the trace against central differences of the
    loss on ``ref``, a copy of the model (and of its dropout random state) taken before the step."""
    rng_before_layer = []          # a dropout layer must draw the same mask in every evaluation
    out = trace.x
    for layer in ref.layers:
        rng_before_layer.append(ref.dropout_rng.bit_generator.state)
        out = layer.forward(out, train=True)

    def loss_from(i: int, h: np.ndarray):
        def f() -> float:
            ref.dropout_rng.bit_generator.state = rng_before_layer[i]
            out = h
            for layer in ref.layers[i:]:
                out = layer.forward(out, train=True)
            return ref.loss(out, y, l2)
        return f

    grads = {u.name: u.grad for u in trace.update}
    for name, p in ref.params().items():
        np.testing.assert_array_equal(trace.initial[name], p)
        np.testing.assert_allclose(grads[name], numerical_gradient(loss_from(0, trace.x), p), **TOL,
                                   err_msg=name)
    for step in trace.backward:
        h = trace.forward[step.layer].x.copy()
        np.testing.assert_allclose(step.dx, numerical_gradient(loss_from(step.layer, h), h), **TOL,
                                   err_msg=f"dx of layer {step.layer} ({step.kind})")
        for name, g in step.grads.items():
            np.testing.assert_array_equal(g, grads[name])


@pytest.mark.parametrize("n, l2", [(1, 0.0), (5, 0.1)], ids=["one-example", "mini-batch-l2"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_step_through_equals_numerical_gradients(rng, activation, loss, n, l2):
    model = make_model(activation, loss)
    x, y = make_batch(rng, n, loss)
    ref = model.copy()
    trace = trace_step(model, x, y, make_optimizer("sgd", 0.1), l2=l2)

    # the loss and where backprop starts
    s = trace.loss.scores.copy()
    np.testing.assert_allclose(trace.loss.dscores, numerical_gradient(lambda: ref.loss(s, y), s), **TOL)
    assert trace.loss.value == pytest.approx(ref.loss(ref.forward(x, train=True), y, l2), rel=1e-12)
    assert trace.loss.l2_penalty == pytest.approx(
        0.5 * l2 * sum(np.sum(d.params["W"] ** 2) for d in ref.dense_layers), rel=1e-9, abs=1e-15)
    # each activation's local derivative f'(z), and the chain rule dL/dz = dL/da * f'(z)
    for step in trace.backward:
        if step.kind == "Dense":
            np.testing.assert_array_equal(step.local[step.symbols[0]], trace.forward[step.layer].x)
            continue
        z = trace.forward[step.layer].x
        act = ref.layers[step.layer]
        h = 1e-6
        numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h)
        np.testing.assert_allclose(step.local[f"f'({step.symbols[0]})"], numeric, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(step.dx, step.dout * step.local[f"f'({step.symbols[0]})"], rtol=1e-12)
    check_against_numerical(trace, ref, y, l2)


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_batchnorm_and_dropout_steps_equal_numerical_gradients(rng, activation):
    model = make_model(activation, "softmax_ce", batchnorm=True, dropout=0.3)
    x, y = make_batch(rng, 6, "softmax_ce")
    ref = model.copy()
    ref.dropout_rng.bit_generator.state = model.dropout_rng.bit_generator.state
    trace = trace_step(model, x, y, make_optimizer("adam", 0.01))
    kinds = [s.kind for s in trace.forward]
    assert kinds.count("BatchNorm") == 2 and kinds.count("Dropout") == 2
    bn = trace.backward[[s.kind for s in trace.backward].index("BatchNorm")]
    assert set(bn.grads) == {f"layers.{bn.layer}.gamma", f"layers.{bn.layer}.beta"}
    check_against_numerical(trace, ref, y, 0.0)


# ----- the update: each optimiser's formula, written out here ---------------------------------------

HYPER = {"lr": 0.1, "momentum": 0.8, "beta1": 0.85, "beta2": 0.99, "rho": 0.7}


def by_hand(name: str, p, g, s: dict, eps: float):
    """The expected new p; updates the hand-kept state ``s`` (which starts empty: all zeros)."""
    lr, mu = HYPER["lr"], HYPER["momentum"]
    if name == "sgd":
        return p - lr * g
    if name == "momentum":
        s["v"] = mu * s.get("v", 0) - lr * g
        return p + s["v"]
    if name == "nesterov":                       # look ahead: p + mu * v_new - lr * g (Sutskever et al. 2013)
        s["v"] = mu * s.get("v", 0) - lr * g
        return p + mu * s["v"] - lr * g
    if name == "adagrad":
        s["h"] = s.get("h", 0) + g ** 2
        return p - lr * g / (np.sqrt(s["h"]) + eps)
    if name == "rmsprop":
        s["h"] = HYPER["rho"] * s.get("h", 0) + (1 - HYPER["rho"]) * g ** 2
        return p - lr * g / (np.sqrt(s["h"]) + eps)
    if name == "adam":                           # Kingma & Ba (2015), Algorithm 1
        b1, b2 = HYPER["beta1"], HYPER["beta2"]
        s["t"] = s.get("t", 0) + 1
        s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0) + (1 - b2) * g ** 2
        s["m̂"] = s["m"] / (1 - b1 ** s["t"])
        s["v̂"] = s["v"] / (1 - b2 ** s["t"])
        return p - lr * s["m̂"] / (np.sqrt(s["v̂"]) + eps)
    raise AssertionError(f"write out the update of {name!r} here")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_update_is_the_optimisers_formula(rng, name):
    model = make_model("sigmoid", "sigmoid_bce")
    optimizer = make_optimizer(name, **HYPER)
    x, y = make_batch(rng, 4, "sigmoid_bce")
    hand: dict[str, dict] = {}
    for step in range(3):                       # later steps use the state the first ones left
        trace = trace_step(model, x, y, optimizer)
        assert trace.optimizer == name
        assert {k: v for k, v in trace.optimizer_settings.items() if k != "eps"}.items() <= HYPER.items()
        assert [u.name for u in trace.update] == list(model.params())
        for u in trace.update:
            s = hand.setdefault(u.name, {})
            before = {k: v for k, v in s.items() if k in u.state_before}
            for key, value in u.state_before.items():
                np.testing.assert_allclose(value, before.get(key, 0), rtol=1e-12, atol=0, err_msg=key)
            expected = by_hand(name, u.before, u.grad, s, trace.optimizer_settings.get("eps", 0.0))
            np.testing.assert_allclose(u.after, expected, rtol=1e-12, atol=1e-15, err_msg=f"{u.name}, step {step}")
            np.testing.assert_allclose(u.delta, expected - u.before, rtol=1e-9, atol=1e-15)
            np.testing.assert_array_equal(u.after, model.params()[u.name])
            for key, value in {**u.state_after, **u.derived}.items():
                np.testing.assert_allclose(value, s[key], rtol=1e-12, atol=1e-15, err_msg=key)
            assert set(u.state_after) | set(u.derived) == set(s)


def test_numbers_are_the_layers_own(rng, monkeypatch):
    # a (deliberately wrong) layer backward shows up in the trace: the trace reports nn, it does not redo it
    model = make_model("tanh")
    x, y = make_batch(rng, 2, "softmax_ce")
    honest = trace_step(model.copy(), x, y, make_optimizer("sgd", 0.1))
    original = Tanh.backward
    monkeypatch.setattr(Tanh, "backward", lambda self, dout: 3 * original(self, dout))
    doubted = trace_step(model.copy(), x, y, make_optimizer("sgd", 0.1))
    tanh = [i for i, s in enumerate(honest.backward) if s.kind == "Tanh"][0]
    np.testing.assert_allclose(doubted.backward[tanh].dx, 3 * honest.backward[tanh].dx)
    np.testing.assert_allclose(doubted.backward[tanh].local["f'(z)"], 3 * honest.backward[tanh].local["f'(z)"])


def test_trace_moves_the_model_and_a_copy_leaves_it(rng):
    model = make_model()
    x, y = make_batch(rng, 3, "softmax_ce")
    optimizer = make_optimizer("momentum", 0.1)
    before = {k: v.copy() for k, v in model.params().items()}
    trace_step(model.copy(), x, y, copy.deepcopy(optimizer))
    assert all(np.array_equal(model.params()[k], v) for k, v in before.items()) and not optimizer.state
    trace = trace_step(model, x, y, optimizer)
    assert all(np.array_equal(model.params()[k], trace.updated[k]) for k in before)
    assert set(optimizer.state) == set(before)


def test_float32_model_is_traced_in_float32(rng):
    model = MLP(ModelConfig(input_dim=3, hidden=(4,), output_dim=3), seed=0)
    x, y = make_batch(rng, 2, "softmax_ce")
    trace = trace_step(model, x, y, make_optimizer("adam", 0.01))
    assert trace.x.dtype == np.float32 and trace.backward[0].dx.dtype == np.float32
    assert all(u.after.dtype == np.float32 for u in trace.update)


def test_bad_arguments_are_explained(rng):
    model = make_model()
    x, y = make_batch(rng, 3, "softmax_ce")
    with pytest.raises(ValueError, match=r"y with the same N"):
        trace_step(model, x, y[:2], make_optimizer("sgd", 0.1))

    class Lion(Optimizer):
        def _update(self, p, g, s):
            p -= self.lr * np.sign(g)

    with pytest.raises(ValueError, match="cannot trace a Lion"):
        trace_step(model, x, y, Lion(0.1))


# ----- JSON, Markdown and the command line -----------------------------------------------------------

def run_main(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_json_worksheet_of_the_xor_net(capsys, tmp_path):
    d = json.loads(run_main(capsys))
    assert d["x"] == [[1.0, 0.0]] and d["y"] == [1]
    assert d["config"]["hidden"] == [2] and d["config"]["activation"] == "sigmoid"
    assert d["optimizer"] == "sgd" and d["optimizer_settings"] == {"lr": 0.5}
    # the array names of a saved model
    model = MLP(ModelConfig(**{**d["config"], "hidden": tuple(d["config"]["hidden"])}), seed=0)
    with np.load(model.save(tmp_path / "xor.npz")) as f:
        saved = set(f.files) - {"config", "meta", "format_version"}
    assert set(d["initial"]) == set(d["updated"]) == saved == {"layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"}
    grads = {k: v for s in d["backward"] for k, v in s["grads"].items()}
    for k in saved:
        np.testing.assert_allclose(d["updated"][k], np.array(d["initial"][k]) - 0.5 * np.array(grads[k]))
    probability = d["loss"]["probabilities"][0][1]
    assert d["loss"]["value"] == pytest.approx(-np.log(probability))
    assert [s["kind"] for s in d["forward"]] == ["Dense", "Sigmoid", "Dense"]
    assert [s["layer"] for s in d["backward"]] == [2, 1, 0]
    assert d["forward"][1]["formula"].startswith("a = σ(z)")


def test_trace_to_dict_is_plain_json(rng):
    model = make_model("relu", "mse", batchnorm=True)
    x, y = make_batch(rng, 3, "mse")
    d = trace_to_dict(trace_step(model, x, y, make_optimizer("adam", 0.01), l2=0.01))
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["update"][0]["state_after"]["t"] == 1 and "m̂" in d["update"][0]["derived"]


def test_markdown_worksheet_and_its_blank_version(capsys):
    full = run_main(capsys, "--format", "md", "--optimizer", "momentum")
    blank = run_main(capsys, "--format", "md", "--optimizer", "momentum", "--blank")
    d = json.loads(run_main(capsys, "--optimizer", "momentum"))
    for section in ("## Forward", "## Loss", "## Backward", "## Update"):
        assert section in full and section in blank
    loss = f"L = {d['loss']['value']:.4g}"
    w0 = f"{d['initial']['layers.0.W'][0][0]:.4g}"
    w0_after = f"{d['updated']['layers.0.W'][0][0]:.4g}"
    dw = f"{d['backward'][-1]['grads']['layers.0.W'][0][0]:.4g}"
    assert loss in full and w0_after in full and dw in full and BLANK not in full
    assert loss not in blank and w0_after not in blank and dw not in blank
    assert "L = " + BLANK in blank
    assert w0 in blank                                       # the givens stay: initial weights,
    assert "| example 1 | 1 | 0 |" in blank                  # the example x = (1, 0),
    assert "`z = x·W + b`" in blank and "`v ← μ·v − lr·g;  p ← p + v`" in blank   # the formulas
    assert full.count("\n") == blank.count("\n")


def test_layers_are_named_as_the_pages_name_them(rng):
    """One numbering everywhere: hidden layer k for a Dense and what follows it, the last Dense the
    output layer; the worksheet keeps the index into model.layers for readers of the code."""
    model = MLP(ModelConfig(2, (4, 3), 2, activation="tanh", batchnorm=True, dropout=0.5), seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert list(zip(model.layer_places(), kinds)) == [
        ("hidden layer 1", "Dense"), ("hidden layer 1", "BatchNorm"), ("hidden layer 1", "Tanh"),
        ("hidden layer 1", "Dropout"), ("hidden layer 2", "Dense"), ("hidden layer 2", "BatchNorm"),
        ("hidden layer 2", "Tanh"), ("hidden layer 2", "Dropout"), ("output layer", "Dense")]
    trace = trace_step(model, rng.standard_normal((3, 2)), np.array([0, 1, 1]), make_optimizer("sgd", 0.1))
    assert [trace.heading(s) for s in trace.forward][:3] == ["Hidden layer 1 · Dense", "Hidden layer 1 · BatchNorm",
                                                            "Hidden layer 1 · Tanh"]
    assert trace.heading(trace.forward[-1]) == trace.heading(trace.backward[0]) == "Output layer · Dense"
    worksheet = trace_to_markdown(trace)
    assert "### Output layer · Dense: a' → s (`layers[8]`)" in worksheet and "### Layer " not in worksheet


def test_markdown_shows_the_first_rows_of_a_big_matrix(rng):
    model = MLP(ModelConfig(input_dim=3, hidden=(12,), output_dim=3), seed=0, dtype=np.float64)
    x, y = make_batch(rng, 10, "softmax_ce")
    md = trace_to_markdown(trace_step(model, x, y, make_optimizer("sgd", 0.1)))
    assert "(first 8 of 10 rows, 8 of 12 columns)" in md


@pytest.mark.parametrize("argv, flag", [
    (["--lr", "-1"], "--lr"),
    (["--lr", "abc"], "--lr"),
    (["--activation", "swish"], "--activation"),
    (["--optimizer", "lbfgs"], "--optimizer"),
    (["--loss", "hinge"], "--loss"),
    (["--hidden", "2,x"], "--hidden"),
    (["--seed", "-3"], "--seed"),
    (["--x", "1,a"], "--x"),
    (["--x", "1,inf"], "--x"),
    (["--y", "2"], "--y"),
    (["--format", "html"], "--format"),
    (["--blank"], "--blank"),
])
def test_bad_flags_exit_2_with_a_message_naming_the_flag(capsys, argv, flag):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["--loss", "softmax_ce", "--hidden", "3,2", "--activation", "relu", "--optimizer", "adam"],
    ["--loss", "mse", "--hidden", "none", "--x", "0.5,-1,2", "--y", "0", "--optimizer", "rmsprop", "--l2", "0.01"],
])
def test_other_nets_and_losses(capsys, argv):
    d = json.loads(run_main(capsys, *argv))
    assert d["loss"]["name"] == argv[1]
    assert len(d["x"][0]) == d["config"]["input_dim"]


def test_python_dash_m_runs():
    done = subprocess.run([sys.executable, "-m", "nn.trace", "--format", "md", "--blank"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# One training step, by hand") and BLANK in done.stdout


# ----- one naming, one numbering, honest rounding, pixels with ink (the student's review) ------------

def test_each_layer_reads_what_the_layer_below_wrote(rng):
    """Names chain: every layer's input is named as the output of the layer below was, in the forward
    and the backward pass alike, and the output layer gives the scores s the loss tab reads."""
    model = MLP(ModelConfig(2, (4, 3), 2, activation="tanh", batchnorm=True, dropout=0.5), seed=0)
    trace = trace_step(model, rng.standard_normal((4, 2)), np.array([0, 1, 1, 0]), make_optimizer("sgd", 0.1))
    forward = trace.forward
    assert forward[0].symbols[0] == "x" and forward[-1].symbols[1] == "s"
    for below, above in zip(forward, forward[1:]):
        assert above.symbols[0] == below.symbols[1], (trace.heading(below), trace.heading(above))
    assert [b.symbols for b in trace.backward] == [f.symbols for f in forward[::-1]]
    assert trace.loss.dscores_formula.startswith("dL/ds =") and "softmax(s)" in trace.loss.formula
    tanh, bn, dense2, out = forward[2], forward[1], forward[4], forward[-1]
    assert bn.symbols == ("z", "u") and tanh.symbols == ("u", "a")
    assert tanh.formula == "a = tanh(u)" and dense2.formula == "z = a'·W + b" and out.formula == "s = a'·W + b"
    back = {b.layer: b for b in trace.backward}
    assert back[2].formulas["dx"] == "dL/du = dL/da ⊙ f'(u)" and "f'(u)" in back[2].local
    assert back[1].formulas["dx"].startswith("dL/dz = ") and "dL/du" in back[1].formulas["dx"]
    assert back[8].formulas["layers.8.W"] == "dL/dW = a'ᵀ·dL/ds"
    for b in trace.backward:            # every chain rule turns the gradient of the output into that of the input
        sym_in, sym_out = b.symbols
        assert b.formulas["dx"].startswith(f"dL/d{sym_in} = ") and f"dL/d{sym_out}" in b.formulas["dx"]
    sheet = trace_to_markdown(trace)
    assert "### Hidden layer 1 · Tanh: u → a" in sheet and "### Output layer · Dense: a' → s" in sheet


def test_one_numbering_in_every_table_and_the_worksheet(rng):
    """Inputs and neurons count from 1, classes go by their label, W[i→j] joins input i (row) to
    neuron j (column); parameters are named as the learner knows them, the code's name second."""
    from nn.trace import trace_labels
    model = MLP(ModelConfig(3, (4,), 10, activation="relu"), seed=0, dtype=np.float64)
    x, y = rng.normal(size=(2, 3)), np.array([4, 7])
    trace = trace_step(model, x, y, make_optimizer("sgd", 0.1))
    labels = trace_labels(trace, classes=[str(k) for k in range(10)], examples=["#3", "#9"])
    assert labels.ins[0].names == ("x₁", "x₂", "x₃") and labels.outs[0].names == ("n1", "n2", "n3", "n4")
    assert labels.outs[-1].names[4] == labels.classes.names[4] == "class 4"       # the 5th score is digit 4's
    assert [name for name, _ in labels.entries("layers.0.W")][:5] == [
        "W[x₁→n1]", "W[x₁→n2]", "W[x₁→n3]", "W[x₁→n4]", "W[x₂→n1]"]
    assert labels.entries("layers.0.W")[4][1] == (1, 0)                           # row x₂, column n1
    assert labels.entries("layers.2.b")[0] == ("b[class 0]", (0,))
    assert trace.param_title("layers.2.W") == "Output layer · W"
    assert trace.param_title("layers.0.b") == "Hidden layer 1 · b"
    sheet = trace_to_markdown(trace, labels=labels)
    assert "| #3 |" in sheet and "|   | n1 | n2 | n3 | n4 |" in sheet and "| x₂ |" in sheet
    assert "Output layer · W (`layers.2.W`)" in sheet and "class 4" in sheet
    # BatchNorm's parameters under the formulas' own symbols
    bn = MLP(ModelConfig(2, (3,), 2, batchnorm=True), seed=0)
    bn_trace = trace_step(bn, rng.normal(size=(4, 2)), np.array([0, 1, 0, 1]), make_optimizer("sgd", 0.1))
    assert bn_trace.param_title("layers.1.gamma") == "Hidden layer 1 · γ"
    assert trace_labels(bn_trace).entries("layers.1.beta")[0][0] == "β[n1]"


def test_a_float32_step_below_the_precision_of_p_is_explained(rng):
    """Momentum in float32: p ← p + v, but p after − p before is rounded to float32. The trace keeps
    both the step computed and the change stored, and the worksheet says why they differ."""
    from nn.trace import ROUNDING_NOTE
    model = MLP(ModelConfig(input_dim=3, hidden=(4,), output_dim=3, activation="tanh"), seed=0)   # float32
    x, y = make_batch(rng, 2, "softmax_ce")
    trace = trace_step(model, x, y, make_optimizer("momentum", 1e-9))
    w = next(u for u in trace.update if u.name == "layers.0.W")
    assert w.rounded and w.step.dtype == np.float64
    np.testing.assert_allclose(w.step, w.state_after["v"], rtol=1e-5)               # the step is v
    tiny = (w.step != 0) & (w.delta == 0)
    assert tiny.any()                                   # steps below p's precision: nothing stored
    sheet = trace_to_markdown(trace)
    assert ROUNDING_NOTE in sheet and "step (computed)" in sheet and "float32" in ROUNDING_NOTE
    exact = trace_step(make_model(), *make_batch(rng, 2, "softmax_ce"), make_optimizer("momentum", 0.1))
    assert not any(u.rounded for u in exact.update) and ROUNDING_NOTE not in trace_to_markdown(exact)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_step_computed_is_what_the_formula_adds(rng, name):
    model = make_model("sigmoid", "sigmoid_bce")
    optimizer = make_optimizer(name, **HYPER)
    x, y = make_batch(rng, 4, "sigmoid_bce")
    for _ in range(2):
        trace = trace_step(model, x, y, optimizer)
        for u in trace.update:                          # float64: the change stored is the step
            np.testing.assert_allclose(u.step, u.delta, rtol=1e-9, atol=1e-15, err_msg=u.name)


def test_an_image_shows_pixels_with_ink_not_the_blank_corner():
    """784 pixels: the tables show the MAX_SHOWN with the most ink, and the same rows of the first W,
    so dL/dW and g are not all zero."""
    from nn.data import load_mnist_sample
    from nn.trace import MAX_SHOWN, trace_labels
    ds = load_mnist_sample()
    x, y = ds.x_train[:1], ds.y_train[:1]
    assert not x[0, :MAX_SHOWN].any()                  # the first pixels are blank corner
    model = MLP(ModelConfig(784, (16,), 10), seed=0)
    trace = trace_step(model, x, y, make_optimizer("sgd", 0.1))
    labels = trace_labels(trace)
    shown = np.array(labels.ins[0].shown)
    assert len(shown) == MAX_SHOWN and (x[0, shown] > 0).all() and list(shown) == sorted(shown)
    assert x[0, shown].min() >= np.sort(x[0])[-MAX_SHOWN]          # the brightest
    assert labels.ins[0].names[shown[0]] == f"x{str(shown[0] + 1).translate(str.maketrans('0123456789', '₀₁₂₃₄₅₆₇₈₉'))}"
    g = next(u for u in trace.update if u.name == "layers.0.W").grad
    rows = {i for _, (i, _) in labels.entries("layers.0.W")}
    assert rows <= set(shown.tolist())
    assert all(g[i, j] != 0 for _, (i, j) in labels.entries("layers.0.W") if trace.backward[-1].dout[0, j] != 0)
    assert np.abs([g[i, j] for _, (i, j) in labels.entries("layers.0.W")]).sum() > 0
    sheet = trace_to_markdown(trace, labels=labels)
    assert f"8 of 784 columns: {labels.ins[0].how}" in sheet and f"| {labels.ins[0].names[shown[0]]} |" in sheet
