"""Network-aware flow features shared by training, evaluation, batch scoring and the service.

Public API (imported lazily so ``import nids.features`` stays cheap)::

    build_feature_transformer(*, home_networks, groups=None, **params) -> FlowFeatureTransformer
    FlowFeatureTransformer.fit(df) / .transform(df, state=None) / .get_feature_names_out()
    HostContextState  # bounded per-source window state for online scoring
    describe_feature(name, value, flow) -> str
    FEATURE_SET_VERSION, FEATURE_GROUPS, ALL_GROUPS
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nids._lazy import lazy_exports

if TYPE_CHECKING:
    from nids.features.context import HostContextState
    from nids.features.explain import describe_feature
    from nids.features.transformer import (
        ALL_GROUPS,
        FEATURE_GROUPS,
        FEATURE_SET_VERSION,
        FlowFeatureTransformer,
        build_feature_transformer,
    )

_EXPORTS = {
    "build_feature_transformer": "nids.features.transformer",
    "FlowFeatureTransformer": "nids.features.transformer",
    "FEATURE_SET_VERSION": "nids.features.transformer",
    "FEATURE_GROUPS": "nids.features.transformer",
    "ALL_GROUPS": "nids.features.transformer",
    "describe_feature": "nids.features.explain",
    "HostContextState": "nids.features.context",
}

__all__ = [
    "ALL_GROUPS",
    "FEATURE_GROUPS",
    "FEATURE_SET_VERSION",
    "FlowFeatureTransformer",
    "HostContextState",
    "build_feature_transformer",
    "describe_feature",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
