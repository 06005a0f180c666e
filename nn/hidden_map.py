"""Where is my digit? A map of the network's last hidden layer.

The last hidden layer is what the network "thinks a digit looks like": the output layer only draws
straight lines through that space. It has hundreds of dimensions; principal component analysis (PCA)
finds the two directions in which the digits' activations vary most, and the map places every digit
by its coordinates along those two. Digits the network finds alike land close together, each class in
its own cloud; a new drawing is placed on the same map with ``project``, so a learner sees which
cloud it falls into, or that it falls between two.

What the flat map cannot show: two directions keep only part of the picture (for the shipped
784-1024-256-10 network, about a quarter of the variance of its 256 neurons), so clouds that lie far
apart in the layer can overlap on the map, and a point can sit nearest one class's centre on the map
while it is nearest another's in the layer itself (of the 2,000 bundled test digits, 75% lie nearest
their own class's centre on that network's map, and 99% nearest their own class's mean in the full
layer: ``HiddenMap.agreement``). So where a drawing lands is judged in the full layer (``place``:
the class whose mean activation is nearest, and whether the drawing is as close to it as that class's
own digits are), and the map is only a picture of it (``Placement.on_map`` says when the picture
disagrees).

PCA by singular value decomposition: with A the (N, H) activations minus their mean,
A = U S V^T; the rows of V^T are the principal directions, S^2 / sum(S^2) the share of the variance
each explains, and A V the coordinates. Since A^T A = V S^2 V^T, the SVD of that small (H, H) matrix
gives V and S^2 without ever forming U (N x H): many times faster for thousands of digits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import hidden_activations

__all__ = ["HiddenMap", "Placement", "TYPICAL", "last_hidden", "hidden_map"]

# A drawing is "among" a class's digits when it is no farther from their mean activation than this
# share of them are (the rest are the class's unusual members).
TYPICAL = 0.95


def last_hidden(model, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """The last hidden layer's output (N, H) float32 for x : (N, input_dim), in inference mode.

    Raises ValueError for a model without hidden layers.
    """
    if not model.config.hidden:
        raise ValueError("this model has no hidden layer: its inputs go straight to the output scores")
    x = np.asarray(x, np.float32)
    parts = [hidden_activations(model, x[i:i + batch_size])[-1].astype(np.float32)
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, model.config.hidden[-1]), np.float32)


@dataclass(frozen=True, eq=False)
class Placement:
    """Where one input lands in the last hidden layer.

    point : (2,) float32, its place on the map
    nearest : the class whose mean activation is nearest to its activation, in all H dimensions
    on_map : the class whose centre on the map is nearest to ``point`` (what the picture suggests;
        the flat map distorts distances, so it can differ from ``nearest``)
    distances : (C,) float64, its distance to each class's mean activation, in the full layer
    radii : (C,) float64, each class's own spread: the distance from its mean within which TYPICAL
        of its digits lie (``HiddenMap.radii``)
    """

    point: np.ndarray
    nearest: int
    on_map: int
    distances: np.ndarray
    radii: np.ndarray

    def within(self, k: int) -> bool:
        """True when it is as close to the mean of class k as TYPICAL of that class's own digits are:
        inside that class's cloud, whose size is the class's own (a tight cloud of 1s, a wide one of 2s)."""
        return bool(self.distances[k] <= self.radii[k])

    @property
    def typical(self) -> bool:
        """True when it lies inside the cloud of its nearest class."""
        return self.within(self.nearest)


@dataclass(frozen=True, eq=False)
class HiddenMap:
    """A 2-D PCA map of a model's last hidden layer, made from labelled digits.

    model : the model mapped (``project`` runs it)
    mean : (H,) float64, the digits' mean activation
    components : (2, H) float64, the two principal directions (unit length, orthogonal)
    explained : (2,) float64, the share of the activations' variance along each
    coords : (N, 2) float32, where each digit lies on the map
    labels : (N,) int64, the digits' classes (for colouring)
    centres : (C, 2) float32, the mean position of each class (NaN for a class with no digit)
    means : (C, H) float64, the mean activation of each class in the full layer (NaN: no digit)
    radii : (C,) float64, the distance from its mean within which TYPICAL of a class's digits lie
    agreement : (2,) float64, the share of the digits whose nearest class is their own class, judged
        on the map (nearest centre) and in the full layer (nearest mean): how far each can be trusted
    """

    model: object
    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray
    coords: np.ndarray
    labels: np.ndarray
    centres: np.ndarray
    means: np.ndarray
    radii: np.ndarray
    agreement: np.ndarray

    def project(self, x: np.ndarray) -> np.ndarray:
        """Map coordinates (N, 2) float32 of new inputs x : (N, 784) or (784,) (e.g. ``preprocess(image).x``).

        Runs a forward pass: a model shared between threads must be used under a lock.
        """
        x = np.asarray(x, np.float32).reshape(-1, self.model.config.input_dim)
        return ((last_hidden(self.model, x) - self.mean) @ self.components.T).astype(np.float32)

    def nearest_on_map(self, point: np.ndarray) -> int:
        """The class whose centre on the map is closest to a map point (2,): what the picture suggests,
        not what the layer says (``place``)."""
        d = np.linalg.norm(self.centres - np.asarray(point, np.float64).reshape(1, 2), axis=1)
        return int(np.nanargmin(d))

    def place(self, x: np.ndarray) -> Placement:
        """Where one input x : (1, 784) or (784,) lands: on the map, and nearest which class in the
        full layer. One forward pass: a model shared between threads must be used under a lock."""
        x = np.asarray(x, np.float32).reshape(1, self.model.config.input_dim)
        h = last_hidden(self.model, x).astype(np.float64)[0]
        point = ((h - self.mean) @ self.components.T).astype(np.float32)
        d = np.linalg.norm(self.means - h, axis=1)
        return Placement(point=point, nearest=int(np.nanargmin(d)), on_map=self.nearest_on_map(point),
                         distances=d, radii=self.radii)


def hidden_map(model, x: np.ndarray, y: np.ndarray) -> HiddenMap:
    """Build the map from labelled digits.

    x : (N, 784) float32 digits as the network sees them (N >= 3; 1,000-2,000 give a clear picture
        and take well under a second), y : (N,) int64 labels in [0, model.n_classes)

    The sign of each direction is fixed (its largest loading is positive), so the same model and
    digits always give the same picture, not a mirror image of it.
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int64)
    if x.ndim != 2 or len(x) < 3 or y.shape != (len(x),):
        raise ValueError(f"need at least 3 digits (N, D) with one label each, got {x.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= model.n_classes:
        raise ValueError(f"labels must be in [0, {model.n_classes})")
    acts = last_hidden(model, x).astype(np.float64)
    if acts.shape[1] < 2:
        raise ValueError("the last hidden layer needs at least 2 units for a 2-D map")
    mean = acts.mean(axis=0)
    centred = acts - mean
    _, s2, vt = np.linalg.svd(centred.T @ centred)          # s2 = S^2, vt = V^T (see the module notes)
    components = vt[:2].copy()
    flip = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
    components *= flip[:, None]
    total = float(s2.sum())
    explained = s2[:2] / total if total > 0 else np.zeros(2)
    coords = (centred @ components.T).astype(np.float32)
    n_classes = model.n_classes
    centres = np.full((n_classes, 2), np.nan, np.float32)
    means = np.full((n_classes, acts.shape[1]), np.nan)
    radii = np.full(n_classes, np.nan)
    for k in np.unique(y):
        centres[k] = coords[y == k].mean(axis=0)
        means[k] = acts[y == k].mean(axis=0)
        radii[k] = np.quantile(np.linalg.norm(acts[y == k] - means[k], axis=1), TYPICAL)
    # (N, C) distances, absent classes at +inf: each digit's nearest class on the map and in the layer
    on_map = np.nan_to_num(np.linalg.norm(coords[:, None, :] - centres[None], axis=2), nan=np.inf)
    full = np.nan_to_num(np.sqrt(np.maximum(
        (acts ** 2).sum(axis=1)[:, None] - 2 * acts @ np.nan_to_num(means).T
        + (np.nan_to_num(means) ** 2).sum(axis=1)[None], 0)), nan=np.inf)
    full[:, np.isnan(radii)] = np.inf
    agreement = np.array([np.mean(on_map.argmin(axis=1) == y), np.mean(full.argmin(axis=1) == y)])
    return HiddenMap(model=model, mean=mean, components=components, explained=explained,
                     coords=coords, labels=y, centres=centres, means=means, radii=radii, agreement=agreement)
