"""A fitted IsolationForest compiled into flat arrays and scored by numba kernels.

scikit-learn scores one row in ~9 ms (joblib dispatch per tree) and ~0.36M rows/s per
core. Here the scores are bit-identical to sklearn's: each tree's leaf value is
precomputed exactly as sklearn computes it (``depth + c(n_leaf) - 1``), summed per row
in tree order, and inputs are cast to float32 before comparing, as sklearn's trees do.

Speed comes from a second, derived layout: every tree padded to a *perfect* binary
tree of its maximum depth (padding nodes send everything left), so a row descends
with ``node = 2*node + 1 + (x[f] > t)``, no branches. Thresholds become the largest
float32 not above sklearn's float64 threshold, which gives exactly the same decisions
for float32 inputs; both sides are compared as order-preserving int32 keys so a node
(feature, threshold) is one 8-byte load. Within a block of rows (cache-resident) each
tree is walked by eight rows side by side, eight independent load chains. The float32
cast happens per block inside the kernel, so the transformer's feature-major float64
matrix is read in place. Rows with NaN (rescored after the fact) and very deep trees
use the plain node walk, which follows sklearn's ``missing_go_to_left``.

Attributions are path-based: every split on feature ``f`` that a sample passes is
credited ``log(n_parent / n_child)`` (how much of the training sample that split
isolated away), summed over trees and normalised to sum 1 per row.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange

#: Batches at least this large are scored with the parallel kernel; below it the
#: serial kernel avoids thread start-up costs that dominate small requests.
PARALLEL_MIN_ROWS = 2048
_PARALLEL_LOCK = threading.Lock()
# Rows walked through one tree before moving to the next (keeps a tree cache-resident).
_BLOCK_ROWS = 256
# Perfect trees hold 2**depth leaves; deeper forests (huge max_samples) use the node walk.
MAX_PERFECT_DEPTH = 14

_ARRAY_FIELDS = (
    "left",
    "right",
    "feature",
    "threshold",
    "missing_left",
    "leaf_value",
    "split_gain",
    "roots",
)
_SCALAR_FIELDS = ("n_features", "denominator", "offset")


@njit(cache=True, nogil=True)
def _leaf_of(
    x: np.ndarray,
    root: int,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing_left: np.ndarray,
) -> int:
    node = root
    while left[node] != -1:
        value = x[feature[node]]
        # float32 input widened to float64, compared to sklearn's float64 threshold.
        go_left = missing_left[node] if math.isnan(value) else np.float64(value) <= threshold[node]
        node = left[node] if go_left else right[node]
    return node


@njit(cache=True, nogil=True)
def _path_sums(
    rows: np.ndarray,
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing_left: np.ndarray,
    leaf_value: np.ndarray,
) -> np.ndarray:
    # The fallback for rows with NaN and very deep forests: plain node walk, trees
    # summed in order 0..T-1 per row as sklearn does.
    out = np.zeros(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        for t in range(roots.shape[0]):
            node = _leaf_of(rows[i], roots[t], left, right, feature, threshold, missing_left)
            out[i] += leaf_value[node]
    return out


@njit(cache=True, nogil=True, inline="always")
def _descend(node: int, x: np.ndarray, nodes: np.ndarray) -> int:
    # One level: the packed node holds (feature << 32) | threshold key.
    packed = nodes[node]
    return 2 * node + 1 + int(x[packed >> 32] > np.int32(packed & 0xFFFFFFFF))


@njit(cache=True, nogil=True)
def _perfect_block(
    rows: np.ndarray,
    start: int,
    stop: int,
    out: np.ndarray,
    has_nan: np.ndarray,
    depth: int,
    nodes: np.ndarray,
    leaf: np.ndarray,
) -> None:
    n_internal = nodes.shape[1]
    m = stop - start
    # Rows (float64 or float32, any layout: the transformer's matrix is feature-major)
    # -> float32 as sklearn casts -> int32 keys ordered like the floats. The block's
    # keys stay in L1 while every tree walks them.
    values = np.empty((m, rows.shape[1]), dtype=np.float32)
    for j in range(m):
        out[start + j] = 0.0
    for f in range(rows.shape[1]):
        for j in range(m):
            values[j, f] = rows[start + j, f]
    keys = values.view(np.int32)
    for j in range(m):
        for f in range(rows.shape[1]):
            if math.isnan(values[j, f]):
                has_nan[start + j] = True  # rescored by the node walk afterwards
            b = keys[j, f]
            keys[j, f] = b ^ ((b >> 31) & 0x7FFFFFFF)
    for t in range(nodes.shape[0]):
        nt = nodes[t]
        lt = leaf[t]
        # Eight rows descend side by side: eight independent load chains per level
        # keep the CPU busy while each waits for its node (1.6x over a single chain).
        j = 0
        while j + 8 <= m:
            x0, x1, x2, x3 = keys[j], keys[j + 1], keys[j + 2], keys[j + 3]
            x4, x5, x6, x7 = keys[j + 4], keys[j + 5], keys[j + 6], keys[j + 7]
            n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = 0
            for _ in range(depth):
                n0 = _descend(n0, x0, nt)
                n1 = _descend(n1, x1, nt)
                n2 = _descend(n2, x2, nt)
                n3 = _descend(n3, x3, nt)
                n4 = _descend(n4, x4, nt)
                n5 = _descend(n5, x5, nt)
                n6 = _descend(n6, x6, nt)
                n7 = _descend(n7, x7, nt)
            # Trees are added in order 0..T-1 for every row, as sklearn does.
            out[start + j] += lt[n0 - n_internal]
            out[start + j + 1] += lt[n1 - n_internal]
            out[start + j + 2] += lt[n2 - n_internal]
            out[start + j + 3] += lt[n3 - n_internal]
            out[start + j + 4] += lt[n4 - n_internal]
            out[start + j + 5] += lt[n5 - n_internal]
            out[start + j + 6] += lt[n6 - n_internal]
            out[start + j + 7] += lt[n7 - n_internal]
            j += 8
        while j < m:
            x = keys[j]
            node = 0
            for _ in range(depth):
                node = _descend(node, x, nt)
            out[start + j] += lt[node - n_internal]
            j += 1


@njit(cache=True, nogil=True, parallel=True)
def _perfect_sums(
    rows: np.ndarray,
    parallel_blocks: bool,
    depth: int,
    nodes: np.ndarray,
    leaf: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = rows.shape[0]
    out = np.empty(n, dtype=np.float64)
    has_nan = np.zeros(n, dtype=np.bool_)
    n_blocks = (n + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    if parallel_blocks:
        for b in prange(n_blocks):
            stop = min(n, (b + 1) * _BLOCK_ROWS)
            _perfect_block(rows, b * _BLOCK_ROWS, stop, out, has_nan, depth, nodes, leaf)
    else:
        for b in range(n_blocks):
            stop = min(n, (b + 1) * _BLOCK_ROWS)
            _perfect_block(rows, b * _BLOCK_ROWS, stop, out, has_nan, depth, nodes, leaf)
    return out, has_nan


@njit(cache=True, nogil=True)
def _perfect_sums_serial(
    rows: np.ndarray, depth: int, nodes: np.ndarray, leaf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # Not the parallel kernel with parallel_blocks=False: under parallel=True numba
    # turns even the allocations into parallel loops, so every call woke the thread
    # pool (~4 ms of spinning CPU per single-row call on a loaded machine).
    n = rows.shape[0]
    out = np.empty(n, dtype=np.float64)
    has_nan = np.zeros(n, dtype=np.bool_)
    n_blocks = (n + _BLOCK_ROWS - 1) // _BLOCK_ROWS
    for b in range(n_blocks):
        stop = min(n, (b + 1) * _BLOCK_ROWS)
        _perfect_block(rows, b * _BLOCK_ROWS, stop, out, has_nan, depth, nodes, leaf)
    return out, has_nan


def float_keys(values: np.ndarray) -> np.ndarray:
    """int32 keys of float32 values with the same order (``a > b`` iff ``key(a) > key(b)``).

    Exact for every non-NaN value except that -0.0 sorts below +0.0: callers pass
    thresholds with -0.0 replaced by +0.0, which keeps every ``x > t`` decision.
    """
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.int32)
    return bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))


@njit(cache=True)
def _max_depth(roots: np.ndarray, left: np.ndarray, right: np.ndarray) -> int:
    depth = np.zeros(left.shape[0], dtype=np.int64)
    deepest = 0
    for node in range(left.shape[0]):  # children come after parents: one pass suffices
        if left[node] != -1:
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
            deepest = max(deepest, depth[node] + 1)
    return deepest


@njit(cache=True)
def _fill_perfect(
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    thr32: np.ndarray,
    leaf_value: np.ndarray,
    feat: np.ndarray,
    thr: np.ndarray,
    leaf: np.ndarray,
) -> None:
    n_internal = feat.shape[1]
    n_trees = roots.shape[0]
    for t in range(n_trees):
        end = roots[t + 1] if t + 1 < n_trees else left.shape[0]
        # Children are numbered after their parent, so one forward pass places all.
        pos = np.zeros(end - roots[t], dtype=np.int64)
        for node in range(roots[t], end):
            p = pos[node - roots[t]]
            if left[node] != -1:
                feat[t, p] = feature[node]
                thr[t, p] = thr32[node]
                pos[left[node] - roots[t]] = 2 * p + 1
                pos[right[node] - roots[t]] = 2 * p + 2
            else:
                # Padding below a shallow leaf keeps to the left (thr = +inf).
                while p < n_internal:
                    p = 2 * p + 1
                leaf[t, p - n_internal] = leaf_value[node]


@njit(cache=True, nogil=True)
def _attributions(
    rows: np.ndarray,
    n_features: int,
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    missing_left: np.ndarray,
    split_gain: np.ndarray,
) -> np.ndarray:
    out = np.zeros((rows.shape[0], n_features), dtype=np.float64)
    for i in range(rows.shape[0]):
        x = rows[i]
        for t in range(roots.shape[0]):
            node = roots[t]
            while left[node] != -1:
                f = feature[node]
                value = x[f]
                if math.isnan(value):
                    go_left = missing_left[node]
                else:
                    go_left = np.float64(value) <= threshold[node]
                node = left[node] if go_left else right[node]
                out[i, f] += split_gain[node]
        total = 0.0
        for f in range(n_features):
            total += out[i, f]
        if total > 0.0:
            for f in range(n_features):
                out[i, f] /= total
    return out


@dataclass(frozen=True, eq=False)
class CompiledForest:
    """An IsolationForest as flat node arrays (all trees concatenated).

    ``left``/``right`` hold global child indices (-1 at leaves), ``feature`` the
    column of the *full* input each split reads, ``leaf_value`` sklearn's per-leaf
    path length contribution, ``split_gain`` ``log(n_parent/n_node)`` of each node.
    """

    left: np.ndarray  # int32 (n_nodes,)
    right: np.ndarray  # int32 (n_nodes,)
    feature: np.ndarray  # int32 (n_nodes,)
    threshold: np.ndarray  # float64 (n_nodes,)
    missing_left: np.ndarray  # bool (n_nodes,)
    leaf_value: np.ndarray  # float64 (n_nodes,)
    split_gain: np.ndarray  # float64 (n_nodes,)
    roots: np.ndarray  # int32 (n_trees,)
    n_features: int
    denominator: float  # n_trees * c(max_samples)
    offset: float  # the estimator's offset_ (decision_function = score_samples - offset)
    # Derived perfect-tree layout (None when too deep); rebuilt, never serialised.
    _perfect: tuple[int, np.ndarray, np.ndarray] | None = field(
        init=False, repr=False, default=None
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_perfect", self._build_perfect())

    def _build_perfect(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        if self.left.shape[0] == 0:
            return None
        depth = int(_max_depth(self.roots, self.left, self.right))
        if depth > MAX_PERFECT_DEPTH:
            return None
        # Largest float32 <= the float64 threshold: same decision for every float32 x.
        thr32 = self.threshold.astype(np.float32)
        above = thr32.astype(np.float64) > self.threshold
        thr32[above] = np.nextafter(thr32[above], np.float32(-np.inf))
        thr32[thr32 == 0] = 0.0  # -0.0 -> +0.0 (see float_keys)
        n_trees = self.n_trees
        feat = np.zeros((n_trees, (1 << depth) - 1), dtype=np.int32)
        thr = np.full((n_trees, (1 << depth) - 1), np.inf, dtype=np.float32)
        leaf = np.zeros((n_trees, 1 << depth), dtype=np.float64)
        _fill_perfect(
            self.roots, self.left, self.right, self.feature, thr32, self.leaf_value, feat, thr, leaf
        )
        # One 8-byte load per node: feature in the high half, threshold key in the low.
        nodes = (feat.astype(np.int64) << 32) | (float_keys(thr).astype(np.int64) & 0xFFFFFFFF)
        return depth, nodes, leaf

    @classmethod
    def from_isolation_forest(cls, est: Any) -> CompiledForest:
        """Flatten a fitted ``sklearn.ensemble.IsolationForest``."""
        from sklearn.ensemble._iforest import _average_path_length
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(est)
        n_features = int(est.n_features_in_)
        # sklearn only indexes columns per tree when features are really subsampled;
        # otherwise estimators_features_ may be a permutation it ignores.
        subsample = int(est._max_features) != n_features
        depths = getattr(est, "_decision_path_lengths", None)
        avg_lengths = getattr(est, "_average_path_length_per_tree", None)

        lefts, rights, feats, thresholds, missing, leaves, gains, roots = ([] for _ in range(8))
        offset = 0
        for t, (tree_est, columns) in enumerate(
            zip(est.estimators_, est.estimators_features_, strict=True)
        ):
            tree = tree_est.tree_
            n_nodes = int(tree.node_count)
            left = tree.children_left.astype(np.int64)
            right = tree.children_right.astype(np.int64)
            is_leaf = left == -1
            depth = depths[t] if depths is not None else tree.compute_node_depths()
            avg = (
                avg_lengths[t]
                if avg_lengths is not None
                else _average_path_length(tree.n_node_samples)
            )
            # Same expression and order as sklearn's _parallel_compute_tree_depths.
            leaves.append(np.where(is_leaf, depth + avg - 1.0, 0.0))
            column_map = np.asarray(columns, dtype=np.int64) if subsample else None
            local_feature = np.where(is_leaf, 0, tree.feature.astype(np.int64))
            feats.append(column_map[local_feature] if column_map is not None else local_feature)
            thresholds.append(np.asarray(tree.threshold, dtype=np.float64))
            missing_go_left = getattr(tree, "missing_go_to_left", None)
            missing.append(
                np.asarray(missing_go_left, dtype=bool)
                if missing_go_left is not None
                else np.zeros(n_nodes, dtype=bool)
            )
            gains.append(_split_gains(left, right, tree.n_node_samples))
            lefts.append(np.where(is_leaf, -1, left + offset))
            rights.append(np.where(is_leaf, -1, right + offset))
            roots.append(offset)
            offset += n_nodes

        c_max = float(_average_path_length([int(est._max_samples)])[0])
        return cls(
            left=np.ascontiguousarray(np.concatenate(lefts), dtype=np.int32),
            right=np.ascontiguousarray(np.concatenate(rights), dtype=np.int32),
            feature=np.ascontiguousarray(np.concatenate(feats), dtype=np.int32),
            threshold=np.ascontiguousarray(np.concatenate(thresholds), dtype=np.float64),
            missing_left=np.ascontiguousarray(np.concatenate(missing), dtype=np.bool_),
            leaf_value=np.ascontiguousarray(np.concatenate(leaves), dtype=np.float64),
            split_gain=np.ascontiguousarray(np.concatenate(gains), dtype=np.float64),
            roots=np.asarray(roots, dtype=np.int32),
            n_features=n_features,
            denominator=len(est.estimators_) * c_max,
            offset=float(est.offset_),
        )

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.roots.shape[0])

    def _prepare(self, rows: Any) -> np.ndarray:
        # sklearn validates to float32 before its trees compare; do exactly the same.
        arr = np.ascontiguousarray(np.asarray(rows, dtype=np.float32))
        self._check_shape(arr)
        return arr

    def _check_shape(self, arr: np.ndarray) -> None:
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(
                f"expected a 2-D array with {self.n_features} features, got shape {arr.shape}"
            )

    def path_length_sums(self, rows: Any) -> np.ndarray:
        """Sum over trees of each row's path length (sklearn's ``depths``)."""
        if self._perfect is None:
            return self._walk(self._prepare(rows))
        arr = np.asarray(rows)
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float32)
        self._check_shape(arr)
        depth, nodes, leaf = self._perfect
        # numba's default (workqueue) threading layer must not be entered by two
        # threads at once (a service scores while a reload warms up): one parallel
        # launch at a time, everyone else takes the serial kernel.
        if arr.shape[0] >= PARALLEL_MIN_ROWS and _PARALLEL_LOCK.acquire(blocking=False):
            try:
                out, has_nan = _perfect_sums(arr, True, depth, nodes, leaf)
            finally:
                _PARALLEL_LOCK.release()
        else:
            out, has_nan = _perfect_sums_serial(arr, depth, nodes, leaf)
        if has_nan.any():
            out[has_nan] = self._walk(self._prepare(arr[has_nan]))
        return out

    def _walk(self, arr: np.ndarray) -> np.ndarray:
        return _path_sums(
            arr,
            self.roots,
            self.left,
            self.right,
            self.feature,
            self.threshold,
            self.missing_left,
            self.leaf_value,
        )

    def score_samples(self, rows: Any) -> np.ndarray:
        """Equal to ``IsolationForest.score_samples`` (lower = more abnormal)."""
        depths = self.path_length_sums(rows)
        if self.denominator == 0:  # single training sample: sklearn's score is -1
            return -np.ones_like(depths)
        return -(2.0 ** (-(depths / self.denominator)))

    def decision_function(self, rows: Any) -> np.ndarray:
        """Equal to ``IsolationForest.decision_function`` (``score_samples - offset_``)."""
        return self.score_samples(rows) - self.offset

    def attributions(self, rows: Any) -> np.ndarray:
        """Per-row, per-feature share of the isolation along each row's paths (rows sum to 1)."""
        arr = self._prepare(rows)
        return _attributions(
            arr,
            self.n_features,
            self.roots,
            self.left,
            self.right,
            self.feature,
            self.threshold,
            self.missing_left,
            self.split_gain,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays (for ``np.savez``) from which ``from_arrays`` rebuilds it."""
        out = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        out["n_features"] = np.asarray(self.n_features, dtype=np.int64)
        out["denominator"] = np.asarray(self.denominator, dtype=np.float64)
        out["offset"] = np.asarray(self.offset, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> CompiledForest:
        """Rebuild from ``to_arrays`` output, checking that the node arrays are consistent."""
        missing = [k for k in (*_ARRAY_FIELDS, *_SCALAR_FIELDS) if k not in arrays]
        if missing:
            raise ValueError(f"compiled forest arrays lack {missing}")
        dtypes = {
            "left": np.int32,
            "right": np.int32,
            "feature": np.int32,
            "roots": np.int32,
            "threshold": np.float64,
            "leaf_value": np.float64,
            "split_gain": np.float64,
            "missing_left": np.bool_,
        }
        node_arrays: dict[str, np.ndarray] = {
            name: np.ascontiguousarray(np.asarray(arrays[name]), dtype=dtypes[name])
            for name in _ARRAY_FIELDS
        }
        n_nodes = node_arrays["left"].shape[0]
        n_features = int(arrays["n_features"])
        if any(node_arrays[k].shape != (n_nodes,) for k in _ARRAY_FIELDS if k != "roots"):
            raise ValueError("compiled forest node arrays differ in length")
        children = np.concatenate([node_arrays["left"], node_arrays["right"]])
        if (
            children.max(initial=-1) >= n_nodes
            or children.min(initial=-1) < -1
            or node_arrays["roots"].max(initial=0) >= max(n_nodes, 1)
            or node_arrays["feature"].min(initial=0) < 0
            or node_arrays["feature"].max(initial=0) >= n_features
        ):
            raise ValueError("compiled forest arrays hold out-of-range indices")
        # sklearn numbers children after their parent; requiring it rules out cycles,
        # so a corrupted array can never make the traversal loop forever.
        internal = np.flatnonzero(node_arrays["left"] != -1)
        if np.any(node_arrays["left"][internal] <= internal) or np.any(
            node_arrays["right"][internal] <= internal
        ):
            raise ValueError("compiled forest arrays are not a forest (child before parent)")
        return cls(
            **node_arrays,
            n_features=n_features,
            denominator=float(arrays["denominator"]),
            offset=float(arrays["offset"]),
        )


def _split_gains(left: np.ndarray, right: np.ndarray, n_node_samples: np.ndarray) -> np.ndarray:
    """``log(n_parent / n_node)`` for every non-root node (0 at the root)."""
    n = np.asarray(n_node_samples, dtype=np.float64)
    gains = np.zeros(n.shape[0], dtype=np.float64)
    internal = np.flatnonzero(left != -1)
    for children in (left[internal], right[internal]):
        with np.errstate(divide="ignore"):
            gains[children] = np.log(n[internal] / np.maximum(n[children], 1.0))
    return gains
