"""The optimisers' race: surfaces with true gradients, paths made by nn.optim, the classic behaviours."""
import numpy as np
import pytest

import nn.optim
from nn.gradcheck import numerical_gradient
from nn.optim import OPTIMIZERS, make_optimizer
from nn.race import SURFACES, RacePath, contour_grid, get_surface, path_facts, race


@pytest.mark.parametrize("name", SURFACES)
def test_gradient_is_the_derivative_of_the_value(rng, name):
    surface = SURFACES[name]
    x0, x1, y0, y1 = surface.box
    for point in np.column_stack([rng.uniform(x0, x1, 5), rng.uniform(y0, y1, 5)]):
        numeric = numerical_gradient(lambda p=point: float(surface.value(p[0], p[1])), point)
        np.testing.assert_allclose(surface.gradient(point[0], point[1]), numeric, rtol=1e-6, atol=1e-6)
    for minimum in surface.minima:
        np.testing.assert_allclose(surface.gradient(*minimum), (0, 0), atol=1e-12)
        assert x0 <= minimum[0] <= x1 and y0 <= minimum[1] <= y1
    assert x0 < surface.start[0] < x1 and y0 < surface.start[1] < y1
    assert set(surface.settings) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", SURFACES)
def test_suggested_settings_never_diverge_and_go_downhill(name):
    surface = SURFACES[name]
    start_value = surface.value(*surface.start)
    for opt, path in race(surface, surface.settings, steps=300).items():
        assert path.diverged_at is None, opt
        assert path.points.shape == (301, 2) and path.values.shape == (301,)
        np.testing.assert_array_equal(path.points[0], surface.start)
        assert path.values[-1] < start_value, opt


def test_on_the_bowl_every_optimiser_gets_close_to_the_minimum():
    bowl = SURFACES["bowl"]
    start_distance = np.hypot(*bowl.start)
    for opt, path in race("bowl", bowl.settings, steps=100).items():
        assert np.hypot(*path.points[-1]) < 0.1 * start_distance, opt


def test_momentum_overshoots_the_minimum_along_x():
    # from x = -7 it runs past x = 0 before turning back: x changes sign and comes back
    x = race("bowl", {"momentum": {"lr": 0.1, "momentum": 0.9}}, steps=60)["momentum"].points[:, 0]
    crossed = int(np.argmax(x > 0))
    assert crossed > 0 and x[crossed:].max() > 0.5 and x[-1] < x[crossed:].max()
    # plain SGD on the same gentle x slope never crosses
    assert np.all(race("bowl", {"sgd": {"lr": 0.1}}, steps=60)["sgd"].points[:, 0] < 0)


def test_adagrad_steps_shrink():
    path = race("bowl", {"adagrad": {"lr": 1.5}}, steps=40)["adagrad"].points
    lengths = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.all(np.diff(lengths) < 0)
    assert lengths[-1] < 0.05 * lengths[0]


def test_adam_finds_the_bottom_of_rosenbrocks_valley():
    path = race("rosenbrock", {"adam": {"lr": 0.1}}, steps=1500)["adam"]
    distance = np.linalg.norm(path.points - [1, 1], axis=1)
    assert distance[0] > 2 and distance[-1] < 0.01
    # plain SGD with the largest stable rate is still far away after as many steps
    sgd = race("rosenbrock", SURFACES["rosenbrock"].settings, steps=1500)["sgd"]
    assert np.linalg.norm(sgd.points[-1] - [1, 1]) > 0.3


def test_adaptive_optimisers_escape_the_saddle_first():
    saddle = SURFACES["saddle"]
    paths = race(saddle, {"sgd": {"lr": 0.05}, "adam": {"lr": 0.05}}, steps=40)
    assert abs(paths["adam"].points[-1, 1]) > 0.5           # left the saddle for a valley
    assert abs(paths["sgd"].points[-1, 1]) < 0.1            # still crawling away from y = 0
    assert paths["sgd"].values.min() >= -0.5 - 1e-12        # bounded below: the valleys are at -1/2


def test_paths_are_made_by_nn_optim(monkeypatch):
    # the first SGD step is the hand-written one
    bowl = SURFACES["bowl"]
    path = race(bowl, {"sgd": {"lr": 0.3}}, steps=1)["sgd"].points
    np.testing.assert_allclose(path[1], np.array(bowl.start) - 0.3 * np.array(bowl.gradient(*bowl.start)))
    # every step of every optimiser is its class's own update, and a fresh optimiser state per race
    optimizer = make_optimizer("nesterov", 0.05, momentum=0.8)
    p = np.array(bowl.start)
    expected = [p.copy()]
    for _ in range(10):
        optimizer.step({"xy": p}, {"xy": np.array(bowl.gradient(*p))})
        expected.append(p.copy())
    got = race(bowl, {"nesterov": {"lr": 0.05, "momentum": 0.8}}, steps=10)["nesterov"].points
    np.testing.assert_array_equal(got, expected)

    calls = []
    original = nn.optim.RMSprop._update
    monkeypatch.setattr(nn.optim.RMSprop, "_update", lambda self, p, g, s: (calls.append(1), original(self, p, g, s)))
    race(bowl, {"rmsprop": {"lr": 0.1}}, steps=7)
    assert len(calls) == 7


def test_a_diverging_path_stops_at_its_last_finite_point():
    path = race("bowl", {"sgd": {"lr": 200.0}, "adam": {"lr": 0.3}}, steps=2000)
    sgd = path["sgd"]
    assert isinstance(sgd, RacePath) and sgd.diverged_at is not None
    assert sgd.points.shape == (sgd.diverged_at, 2) and np.all(np.isfinite(sgd.points))
    assert path["adam"].diverged_at is None and path["adam"].points.shape == (2001, 2)


def test_start_and_zero_steps():
    path = race("saddle", {"adam": {"lr": 0.1}}, start=(0.5, -0.5), steps=0)["adam"]
    np.testing.assert_array_equal(path.points, [[0.5, -0.5]])
    assert path.values.tolist() == [0.25 - 0.25 + 0.0625 / 2]


def test_contour_grid():
    xs, ys, z = contour_grid("rosenbrock", n=50)
    assert xs.shape == ys.shape == (50,) and z.shape == (50, 50)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == SURFACES["rosenbrock"].box
    rosenbrock = get_surface("rosenbrock")
    assert z[7, 31] == rosenbrock.value(xs[31], ys[7])          # rows follow y
    xs, ys, z = contour_grid(SURFACES["bowl"], box=(-1, 1, -2, 2), n=3)
    np.testing.assert_allclose(z, [[4.05, 4, 4.05], [0.05, 0, 0.05], [4.05, 4, 4.05]])


@pytest.mark.parametrize("call, message", [
    (lambda: race("cliff", {"sgd": {"lr": 0.1}}), "unknown surface 'cliff'"),
    (lambda: race("bowl", {"lbfgs": {"lr": 0.1}}), "unknown optimizer 'lbfgs'"),
    (lambda: race("bowl", {"sgd": {"learning_rate": 0.1}}), "must give lr"),
    (lambda: race("bowl", {"adam": {"lr": 0.1, "eps": 1e-3}}), "may give momentum"),
    (lambda: race("bowl", {"sgd": {"lr": -1}}), "learning rate must be > 0"),
    (lambda: race("bowl", {"sgd": {"lr": 0.1}}, steps=-1), "steps must be"),
    (lambda: race("bowl", {"sgd": {"lr": 0.1}}, start=(0, float("nan"))), "start must be"),
    (lambda: contour_grid("bowl", box=(1, -1, 0, 1)), "box must be"),
    (lambda: contour_grid("bowl", n=1), "n must be"),
])
def test_bad_arguments_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_path_facts_measure_zigzag_overshoot_and_straightness():
    bowl = SURFACES["bowl"]
    paths = race(bowl, bowl.settings, steps=100)
    sgd, momentum, adagrad = (path_facts(bowl, paths[n], 100) for n in ("sgd", "momentum", "adagrad"))
    assert sgd.reversals == 99 and sgd.overshoot == 0 and sgd.straightness < 0.25        # a zigzag, never past 0
    assert momentum.overshoot > 1 and momentum.reversals < 20                            # runs past x = 0
    assert adagrad.reversals == 0 and adagrad.straightness > 0.9                         # almost a straight line
    assert sgd.distance == pytest.approx(np.hypot(*paths["sgd"].points[-1]))
    assert path_facts(bowl, paths["sgd"], 0) == path_facts(bowl, race(bowl, {"sgd": {"lr": 0.95}}, steps=0)["sgd"], 0)
    early = path_facts(bowl, paths["sgd"], 10)
    assert early.steps == 10 and early.reversals == 9
    blown = race(bowl, {"sgd": {"lr": 200.0}}, steps=2000)["sgd"]
    assert path_facts(bowl, blown, 2000).diverged and not path_facts(bowl, blown, blown.diverged_at - 1).diverged
