"""The compiled forest must score exactly like scikit-learn's IsolationForest."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from nids.model import fastforest
from nids.model.fastforest import PARALLEL_MIN_ROWS, CompiledForest

N_FEATURES = 6


def _train(seed: int = 0, n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    X[:, 2] = rng.integers(0, 5, size=n)  # discrete column: many ties at split values
    X[:, 4] = np.exp(rng.normal(size=n) * 3)  # heavy tail, like byte counts
    return X


FOREST_PARAMS = [
    {"n_estimators": 30},
    {"n_estimators": 25, "max_samples": 64, "max_features": 0.5},
    {"n_estimators": 20, "max_samples": 200, "bootstrap": True, "max_features": 0.7},
    {"n_estimators": 15, "max_samples": 0.3, "contamination": 0.05},
    {"n_estimators": 10, "max_features": 2, "max_samples": 32},
]


@pytest.fixture(scope="module", params=range(len(FOREST_PARAMS)))
def fitted(request: pytest.FixtureRequest) -> tuple[IsolationForest, CompiledForest]:
    est = IsolationForest(random_state=request.param, **FOREST_PARAMS[request.param])
    est.fit(_train(request.param))
    return est, CompiledForest.from_isolation_forest(est)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scores_equal_sklearn(fitted: tuple[IsolationForest, CompiledForest], dtype: type) -> None:
    est, forest = fitted
    X = (_train(seed=99, n=400) * 1.5).astype(dtype)
    expected = est.score_samples(X)
    got = forest.score_samples(X)
    assert got.dtype == np.float64 and got.shape == (400,)
    assert np.max(np.abs(got - expected)) <= 1e-6
    np.testing.assert_allclose(forest.decision_function(X), est.decision_function(X), atol=1e-6)
    # Identical decisions wherever the score is not within 1e-6 of the threshold.
    far = np.abs(expected - est.offset_) > 1e-6
    assert far.sum() > 300
    np.testing.assert_array_equal((got - forest.offset < 0)[far], (est.predict(X) == -1)[far])


def test_values_exactly_at_split_thresholds(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    est, forest = fitted
    internal = forest.left != -1
    feats, thr = forest.feature[internal], forest.threshold[internal]
    rng = np.random.default_rng(7)
    X = _train(seed=5, n=300)
    rows = rng.integers(0, len(X), size=len(feats))
    # Put each split's own threshold (and its float32 neighbours) into a row.
    for delta in (0.0, 1.0, -1.0):
        Xs = X.copy()
        vals = thr if delta == 0.0 else np.nextafter(thr.astype(np.float32), np.float32(delta))
        Xs[rows % len(Xs), feats] = vals
        assert np.max(np.abs(forest.score_samples(Xs) - est.score_samples(Xs))) <= 1e-6


def test_parallel_kernel_equals_serial(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    est, forest = fitted
    X = _train(seed=3, n=PARALLEL_MIN_ROWS + 10)
    big = forest.score_samples(X)
    small = np.concatenate([forest.score_samples(X[i : i + 500]) for i in range(0, len(X), 500)])
    np.testing.assert_array_equal(big, small)
    assert np.max(np.abs(big - est.score_samples(X))) <= 1e-6


def test_node_walk_fallback_equals_sklearn(
    fitted: tuple[IsolationForest, CompiledForest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forests too deep for the perfect layout are walked node by node, same scores."""
    est, forest = fitted
    monkeypatch.setattr(fastforest, "MAX_PERFECT_DEPTH", 1)
    walked = CompiledForest.from_arrays(forest.to_arrays())
    assert walked._perfect is None and forest._perfect is not None
    X = _train(seed=12, n=300)
    np.testing.assert_array_equal(walked.score_samples(X), forest.score_samples(X))
    assert np.max(np.abs(walked.score_samples(X) - est.score_samples(X))) <= 1e-6


def test_missing_values_follow_sklearn() -> None:
    X = _train(seed=1)
    est = IsolationForest(n_estimators=20, random_state=0).fit(X)
    forest = CompiledForest.from_isolation_forest(est)
    Xt = _train(seed=2, n=50)
    Xt[::3, 1] = np.nan
    np.testing.assert_allclose(forest.score_samples(Xt), est.score_samples(Xt), atol=1e-6)


def _reference_attributions(est: IsolationForest, data: np.ndarray) -> np.ndarray:
    """Straightforward per-tree walk with sklearn's own decision_path."""
    X = data
    out = np.zeros((len(X), X.shape[1]))
    X32 = X.astype(np.float32)
    subsample = est._max_features != X.shape[1]
    for tree_est, cols in zip(est.estimators_, est.estimators_features_, strict=True):
        tree = tree_est.tree_
        Xs = X32[:, cols] if subsample else X32
        paths = tree_est.decision_path(Xs).toarray().astype(bool)
        for i in range(len(X)):
            nodes = np.flatnonzero(paths[i])  # in increasing order = root to leaf
            for parent, child in itertools.pairwise(nodes):
                local = tree.feature[parent]
                f = cols[local] if subsample else local
                n = tree.n_node_samples
                out[i, f] += np.log(n[parent] / n[child])
    return out / out.sum(axis=1, keepdims=True)


def test_attributions_match_reference(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    est, forest = fitted
    X = _train(seed=11, n=40)
    got = forest.attributions(X)
    assert got.shape == (40, N_FEATURES)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(got >= 0)
    np.testing.assert_allclose(got, _reference_attributions(est, X), atol=1e-12)


def test_attribution_points_at_the_anomalous_feature() -> None:
    X = _train(seed=4)
    est = IsolationForest(n_estimators=50, random_state=0).fit(X)
    forest = CompiledForest.from_isolation_forest(est)
    probe = np.tile(np.median(X, axis=0), (N_FEATURES, 1))
    probe[np.arange(N_FEATURES), np.arange(N_FEATURES)] = X.max(axis=0) * 50 + 100
    assert list(forest.attributions(probe).argmax(axis=1)) == list(range(N_FEATURES))


def test_arrays_round_trip(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    _, forest = fitted
    arrays = forest.to_arrays()
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    again = CompiledForest.from_arrays(arrays)
    X = _train(seed=8, n=64)
    np.testing.assert_array_equal(again.score_samples(X), forest.score_samples(X))
    np.testing.assert_array_equal(again.attributions(X), forest.attributions(X))
    assert again.n_trees == forest.n_trees and again.offset == forest.offset


def test_from_arrays_rejects_corrupt_forest(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    _, forest = fitted
    cycle = forest.to_arrays()
    cycle["left"] = cycle["left"].copy()
    cycle["left"][cycle["roots"][0] + 1] = cycle["roots"][0]  # a child pointing back up
    cycle["left"][cycle["roots"][0]] = cycle["roots"][0] + 1
    with pytest.raises(ValueError, match="not a forest"):
        CompiledForest.from_arrays(cycle)
    bad_feature = forest.to_arrays()
    bad_feature["feature"] = bad_feature["feature"] + N_FEATURES
    with pytest.raises(ValueError, match="out-of-range"):
        CompiledForest.from_arrays(bad_feature)
    with pytest.raises(ValueError, match="lack"):
        CompiledForest.from_arrays({"left": cycle["left"]})


def test_rejects_wrong_width(fitted: tuple[IsolationForest, CompiledForest]) -> None:
    _, forest = fitted
    with pytest.raises(ValueError, match=f"{N_FEATURES} features"):
        forest.score_samples(np.zeros((3, N_FEATURES + 1)))


def test_concurrent_large_batches_from_threads(
    fitted: tuple[IsolationForest, CompiledForest],
) -> None:
    """A service scores while a reload warms up: concurrent calls stay correct."""
    from concurrent.futures import ThreadPoolExecutor

    _, forest = fitted
    X = _train(seed=21, n=PARALLEL_MIN_ROWS + 500)
    expected = forest.score_samples(X)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: forest.score_samples(X), range(8)))
    for got in results:
        np.testing.assert_array_equal(got, expected)


def test_scores_bit_identical_on_edge_values(
    fitted: tuple[IsolationForest, CompiledForest],
) -> None:
    """The integer-key comparison decides like sklearn's float compare on every value
    class: signed zeros, infinities, subnormals and each threshold's float32 neighbours."""
    est, forest = fitted
    internal = forest.left != -1
    feats, thr = forest.feature[internal], forest.threshold[internal]
    t32 = thr.astype(np.float32)
    specials = np.array(
        [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, np.finfo(np.float32).max], dtype=np.float32
    )
    candidates = np.concatenate(
        [t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))]
    )
    rng = np.random.default_rng(17)
    X = _train(seed=6, n=2_000).astype(np.float32)
    special = rng.random(X.shape) < 0.2
    X[special] = rng.choice(specials, size=int(special.sum()))
    cells = rng.integers(0, len(X), size=3 * len(feats))
    X[cells, np.tile(feats, 3)] = candidates
    X[:, 0] = np.where(np.arange(len(X)) % 2 == 0, np.float32(-0.0), X[:, 0])
    np.testing.assert_array_equal(forest.score_samples(X), est.score_samples(X))


def test_float_keys_order_like_floats() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.normal(size=500).astype(np.float32) * np.float32(1e30) ** rng.random(500),
            np.array([0.0, np.inf, -np.inf, 1e-45, -1e-45, 1.0, -1.0], dtype=np.float32),
        ]
    ).astype(np.float32)
    keys = fastforest.float_keys(values)
    assert keys.dtype == np.int32
    np.testing.assert_array_equal(keys[:, None] > keys[None, :], values[:, None] > values[None, :])


@pytest.mark.parametrize("layout", ["C", "F"])
def test_any_layout_and_nan_rows_within_a_batch(
    fitted: tuple[IsolationForest, CompiledForest], layout: str
) -> None:
    """Feature-major float64 (the transformer's output) scores like a C float32 copy;
    only rows with NaN take the node walk, the others keep the fast path's result."""
    est, forest = fitted
    X = np.asarray(_train(seed=31, n=3_000), order=layout)
    X[5, 1] = np.nan
    X[2_500, 3] = np.nan
    got = forest.score_samples(X)
    np.testing.assert_array_equal(got, est.score_samples(X))
    np.testing.assert_array_equal(got, forest.score_samples(np.ascontiguousarray(X, np.float32)))
