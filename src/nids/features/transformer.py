"""The feature step of the model pipeline: flows in, a finite float64 matrix out."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nids.errors import ConfigError, EmptyDataError, SchemaError
from nids.features import flow
from nids.features.columns import Flows, FlowView, check_columns, n_flows
from nids.features.context import CONTEXT_FEATURES, HostContextState
from nids.features.network import (
    Network,
    direction_codes,
    home_coverage,
    infer_home_networks,
    parse_networks,
)
from nids.features.rarity import fit_counts, port_keys, service_keys

#: Bump whenever a feature's definition, name or order changes (logged as a tag; the
#: registry derives semantic versions from it).
FEATURE_SET_VERSION = "1.3.0"

#: Feature groups in matrix order; each is the unit of an ablation.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {**flow.FLOW_GROUPS, "context": CONTEXT_FEATURES}
ALL_GROUPS: tuple[str, ...] = tuple(FEATURE_GROUPS)

#: Below this share of training flows touching the configured home networks, the
#: transformer infers the monitored hosts from the traffic (``infer_home_networks``).
MIN_HOME_COVERAGE = 0.5


def resolve_groups(groups: Iterable[str] | None) -> tuple[str, ...]:
    """Validate group names; ``None`` means all, kept in canonical order."""
    if groups is None:
        return ALL_GROUPS
    wanted = set(groups)
    unknown = sorted(wanted - set(ALL_GROUPS))
    if unknown:
        raise ConfigError(
            f"unknown feature group(s): {', '.join(unknown)}",
            hint=f"choose from {', '.join(ALL_GROUPS)}",
        )
    if not wanted:
        raise ConfigError("at least one feature group is needed")
    return tuple(g for g in ALL_GROUPS if g in wanted)


class FlowFeatureTransformer(TransformerMixin, BaseEstimator):
    """Network-aware features of canonical flow frames (see ``docs/features.md``).

    ``fit`` learns per-direction port/service frequency tables from training
    traffic; ``transform`` never looks at label columns.
    """

    def __init__(
        self,
        home_networks: Sequence[str] = (),
        groups: Sequence[str] | None = None,
        window_s: float = 60.0,
        ring_size: int = 64,
        max_hosts: int = 16_384,
        max_pairs: int = 65_536,
        pair_ttl_s: float = 3600.0,
        infer_home_networks: bool = True,
        home_prefix_v4: int = 16,
    ) -> None:
        self.home_networks = home_networks
        self.groups = groups
        self.window_s = window_s
        self.ring_size = ring_size
        self.max_hosts = max_hosts
        self.max_pairs = max_pairs
        self.pair_ttl_s = pair_ttl_s
        self.infer_home_networks = infer_home_networks
        self.home_prefix_v4 = home_prefix_v4

    # -- sklearn API -----------------------------------------------------------
    def fit(self, flows: Flows, y: Any = None) -> FlowFeatureTransformer:
        """Learn the rarity tables from training flows."""
        check_columns(flows)
        if n_flows(flows) == 0:
            raise EmptyDataError("cannot fit features on an empty flow frame")
        groups = resolve_groups(self.groups)
        v = FlowView(flows)
        src, dst = v.text("src_ip"), v.text("dst_ip")
        self.home_networks_ = list(self.home_networks)
        self.home_networks_inferred_ = False
        # Configured home networks that touch under half the traffic cannot be this
        # sensor's: learn the monitored hosts from the traffic instead.
        if (
            self.infer_home_networks
            and home_coverage(src, dst, parse_networks(self.home_networks)) < MIN_HOME_COVERAGE
        ):
            inferred = infer_home_networks(src, dst, prefix_v4=self.home_prefix_v4)
            if inferred:
                self.home_networks_ = inferred
                self.home_networks_inferred_ = True
        nets = parse_networks(self.home_networks_)
        directions = direction_codes(v.factorized("src_ip"), v.factorized("dst_ip"), nets)
        pkeys = port_keys(v.factorized("proto"), v.numeric("dst_port"), directions)
        self.port_table_keys_, self.port_table_counts_ = fit_counts(pkeys)
        skeys, inverse = service_keys(v.factorized("service"), directions)
        counts = np.bincount(inverse, minlength=len(skeys)).astype(np.float64)
        order = np.argsort(skeys)  # lookups binary-search the keys
        self.service_table_keys_ = skeys[order]
        self.service_table_counts_ = counts[order]
        self.groups_ = list(groups)
        self.feature_names_ = [name for g in groups for name in FEATURE_GROUPS[g]]
        self.n_features_out_ = len(self.feature_names_)
        return self

    def new_state(self) -> HostContextState:
        """A fresh host-context state with this transformer's window and memory caps."""
        return HostContextState(
            window_s=self.window_s,
            ring_size=self.ring_size,
            max_hosts=self.max_hosts,
            max_pairs=self.max_pairs,
            pair_ttl_s=self.pair_ttl_s,
        )

    def _batch_state(self, n: int) -> HostContextState:
        """A fresh state for one batch of ``n`` flows (batch mode).

        Its tables hold at most ``n`` sources and pairs: a batch has no more, so no
        slot is ever evicted and the features equal those of a full-size state, which
        would allocate ~36 MB (about 1.5 ms) for every call, however small.
        """
        return HostContextState(
            window_s=self.window_s,
            ring_size=self.ring_size,
            max_hosts=max(2, min(self.max_hosts, n)),
            max_pairs=max(2, min(self.max_pairs, n)),
            pair_ttl_s=self.pair_ttl_s,
        )

    def transform(self, flows: Flows, state: HostContextState | None = None) -> np.ndarray:
        """Feature matrix (n, k), float64, finite, rows in input order.

        ``flows`` is a canonical DataFrame or a columnar mapping (see
        :mod:`nids.features.columns`); both give identical features. ``state=None`` is
        batch mode (a fresh context state over the flows in time order); pass a
        persistent :class:`HostContextState` to score a stream online.
        """
        if not hasattr(self, "feature_names_"):
            raise SchemaError("the feature transformer is not fitted")
        check_columns(flows)
        v = FlowView(flows)
        if len(v) == 0:
            return np.zeros((0, self.n_features_out_), dtype=np.float64)
        # Filled feature by feature (contiguous writes) and returned as its (n, k)
        # transpose; every input was sanitised, so each feature is finite by construction.
        matrix = np.empty((len(self.feature_names_), len(v)), dtype=np.float64)
        ctx_flags = flow.flow_features(
            v,
            self._nets(),
            (self.port_table_keys_, self.port_table_counts_),
            (self.service_table_keys_, self.service_table_counts_),
            _layout(tuple(self.feature_names_)),
            matrix,
        )
        if "context" in self.groups_:
            start = self.feature_names_.index(CONTEXT_FEATURES[0])
            context_features(
                v,
                ctx_flags,
                self._batch_state(len(v)) if state is None else state,
                matrix[start : start + len(CONTEXT_FEATURES)],
            )
        return matrix.T

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order."""
        return np.asarray(self.feature_names_, dtype=object)

    # -- internals ---------------------------------------------------------------
    def _nets(self) -> list[Network]:
        return list(_parsed_networks(tuple(str(n) for n in self.home_networks_)))


@functools.lru_cache(maxsize=64)
def _layout(feature_names: tuple[str, ...]) -> flow.FlowLayout:
    return flow.FlowLayout(feature_names)


def context_features(
    v: FlowView, ctx_flags: np.ndarray, state: HostContextState, out: np.ndarray
) -> None:
    """Run ``state`` over the flows in time order into ``out`` (context features x
    flows, input order). ``ctx_flags`` are the per-flow pass's failed/DNS bits."""
    ts = v.epoch_seconds
    columns = (
        ts,
        _hashed(v, "src_ip"),
        _hashed(v, "dst_ip"),
        v.numeric("dst_port"),
        ctx_flags,
        v.numeric("src_bytes"),
        v.numeric("dst_bytes"),
    )
    # Requests usually arrive in time order: then the stable sort is the identity.
    if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
        order = np.argsort(ts, kind="stable")
        ctx = state.update_flags(*(c[order] for c in columns))
        out[:, order] = ctx.T
    else:
        out[:] = state.update_flags(*columns).T


def _hashed(v: FlowView, column: str) -> np.ndarray:
    """Stable 64-bit hash per flow of a text column, hashed once per distinct value."""
    codes, uniques = v.factorized(column)
    if len(uniques) > _HASH_CACHED_MAX:
        return pd.util.hash_array(uniques)[codes]
    # Request-sized batches (online scoring): remember the addresses' hashes, since
    # pandas' hashing costs ~0.4 µs per value plus a fixed cost, a dict lookup ~0.04 µs.
    # Same values: the misses go through hash_array.
    # One lookup per value: another thread (an A/B variant, a model warming up) may
    # fill the cache meanwhile, and a second look would leave a miss at hash 0.
    known = [_HASHES.get(u) for u in uniques]
    missing = [i for i, h in enumerate(known) if h is None]
    hashes = np.array([0 if h is None else h for h in known], dtype=np.uint64)
    if missing:
        fresh = pd.util.hash_array(uniques[missing])
        if len(_HASHES) + len(missing) > _HASHES_MAX:
            _HASHES.clear()
        _HASHES.update(zip(uniques[missing].tolist(), fresh.tolist(), strict=True))
        hashes[missing] = fresh
    return hashes[codes]


@functools.lru_cache(maxsize=64)
def _parsed_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(parse_networks(cidrs))


# Hash per distinct address (bounded; cleared when full, which only costs rehashing).
_HASHES: dict[str, int] = {}
_HASHES_MAX = 200_000
# Batches with more distinct addresses than this (files, not requests) hash directly.
_HASH_CACHED_MAX = 4096


def build_feature_transformer(
    *, home_networks: Sequence[str], groups: Iterable[str] | None = None, **params: Any
) -> FlowFeatureTransformer:
    """The feature step for the given home networks and feature groups (None = all)."""
    parse_networks(home_networks)  # fail early on a bad CIDR
    chosen = None if groups is None else list(resolve_groups(groups))
    return FlowFeatureTransformer(home_networks=list(home_networks), groups=chosen, **params)
