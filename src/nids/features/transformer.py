"""The feature step of the model pipeline: flows in, a finite float64 matrix out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nids.errors import ConfigError, EmptyDataError, SchemaError
from nids.features import flow
from nids.features.columns import check_columns, numeric, text
from nids.features.network import direction_codes, parse_networks
from nids.features.rarity import fit_counts, port_keys, rarity, service_keys

#: Bump whenever a feature's definition, name or order changes (logged as a tag; the
#: registry derives semantic versions from it).
FEATURE_SET_VERSION = "1.0.0"

#: Feature groups in matrix order; each is the unit of an ablation.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "volume": (
        "log_src_bytes",
        "log_dst_bytes",
        "log_src_pkts",
        "log_dst_pkts",
        "src_bytes_per_pkt",
        "dst_bytes_per_pkt",
        "byte_asymmetry",
        "pkt_asymmetry",
    ),
    "rate": ("log_duration", "log_bytes_per_s", "log_pkts_per_s"),
    "port": ("dst_port_well_known", "dst_port_registered", "dst_port_ephemeral", "src_port_low"),
    "service": ("service_known", "service_dns", "service_http", "service_ssl", "service_ssh"),
    "protocol": ("proto_tcp", "proto_udp", "proto_icmp", "proto_other"),
    "state": (
        "state_half_open",
        "state_rejected",
        "state_no_reply",
        "state_established",
        "state_reset",
        "state_midstream",
        "state_completed",
    ),
    "direction": ("dir_inbound", "dir_outbound", "dir_internal", "dir_external"),
    "time": ("hour_sin", "hour_cos"),
    "rarity": ("port_rarity", "service_rarity"),
}
ALL_GROUPS: tuple[str, ...] = tuple(FEATURE_GROUPS)


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
    ) -> None:
        self.home_networks = home_networks
        self.groups = groups

    # -- sklearn API -----------------------------------------------------------
    def fit(self, flows: pd.DataFrame, y: Any = None) -> FlowFeatureTransformer:
        """Learn the rarity tables from training flows."""
        df = _as_frame(flows)
        if len(df) == 0:
            raise EmptyDataError("cannot fit features on an empty flow frame")
        groups = resolve_groups(self.groups)
        nets = parse_networks(self.home_networks)
        directions = direction_codes(text(df, "src_ip"), text(df, "dst_ip"), nets)
        pkeys = port_keys(text(df, "proto"), numeric(df, "dst_port"), directions)
        self.port_table_keys_, self.port_table_counts_ = fit_counts(pkeys)
        skeys = service_keys(text(df, "service"), directions)
        self.service_table_keys_, self.service_table_counts_ = fit_counts(skeys)
        self.groups_ = list(groups)
        self.feature_names_ = [name for g in groups for name in FEATURE_GROUPS[g]]
        self.n_features_out_ = len(self.feature_names_)
        return self

    def transform(self, flows: pd.DataFrame, state: Any = None) -> np.ndarray:
        """Feature matrix (n, k), float64, finite, rows in input order."""
        if not hasattr(self, "feature_names_"):
            raise SchemaError("the feature transformer is not fitted")
        df = _as_frame(flows)
        if len(df) == 0:
            return np.zeros((0, self.n_features_out_), dtype=np.float64)
        cols = self._columns(df, state)
        matrix = np.column_stack([cols[name] for name in self.feature_names_])
        return np.nan_to_num(matrix.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, in order."""
        return np.asarray(self.feature_names_, dtype=object)

    # -- internals ---------------------------------------------------------------
    def _columns(self, df: pd.DataFrame, state: Any) -> dict[str, np.ndarray]:
        groups = set(self.groups_)
        nets = parse_networks(self.home_networks)
        directions = direction_codes(text(df, "src_ip"), text(df, "dst_ip"), nets)
        cols: dict[str, np.ndarray] = {}
        if "volume" in groups:
            cols.update(flow.volume_features(df))
        if "rate" in groups:
            cols.update(flow.rate_features(df))
        if "port" in groups:
            cols.update(flow.port_features(df))
        if "service" in groups:
            cols.update(flow.service_features(df))
        if "protocol" in groups:
            cols.update(flow.protocol_features(df))
        if "state" in groups:
            cols.update(flow.state_features(flow.state_masks(df)))
        if "direction" in groups:
            cols.update(flow.direction_features(directions))
        if "time" in groups:
            cols.update(flow.time_features(df))
        if "rarity" in groups:
            pkeys = port_keys(text(df, "proto"), numeric(df, "dst_port"), directions)
            skeys = service_keys(text(df, "service"), directions)
            cols["port_rarity"] = rarity(pkeys, self.port_table_keys_, self.port_table_counts_)
            cols["service_rarity"] = rarity(
                skeys, self.service_table_keys_, self.service_table_counts_
            )
        return cols


def _as_frame(flows: Any) -> pd.DataFrame:
    if not isinstance(flows, pd.DataFrame):
        raise SchemaError(
            f"features expect a pandas DataFrame of flows, got {type(flows).__name__}"
        )
    check_columns(flows)
    return flows


def build_feature_transformer(
    *, home_networks: Sequence[str], groups: Iterable[str] | None = None, **params: Any
) -> FlowFeatureTransformer:
    """The feature step for the given home networks and feature groups (None = all)."""
    parse_networks(home_networks)  # fail early on a bad CIDR
    chosen = None if groups is None else list(resolve_groups(groups))
    return FlowFeatureTransformer(home_networks=list(home_networks), groups=chosen, **params)
