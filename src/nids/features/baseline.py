"""The plain baseline's "features": the raw numeric columns, as most NIDS papers use them.

Kept as a transformer with the same interface as :class:`FlowFeatureTransformer`, so
the baseline runs through the same Scorer, threshold and metrics as the real model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from nids.features.columns import FlowView, check_columns

NUMERIC_COLUMNS: tuple[str, ...] = (
    "duration",
    "src_port",
    "dst_port",
    "src_bytes",
    "dst_bytes",
    "src_pkts",
    "dst_pkts",
)


class NumericColumnsTransformer(TransformerMixin, BaseEstimator):
    """Raw numeric flow columns (NaN/inf/negative -> 0), nothing learned."""

    def fit(self, flows: pd.DataFrame, y: Any = None) -> NumericColumnsTransformer:
        """Nothing to learn; checks the columns."""
        check_columns(flows)
        self.n_features_out_ = len(NUMERIC_COLUMNS)
        return self

    def transform(self, flows: pd.DataFrame, state: Any = None) -> np.ndarray:
        """(n, 7) float64 matrix of the numeric columns."""
        check_columns(flows)
        view = FlowView(flows)
        return np.column_stack([view.numeric(c) for c in NUMERIC_COLUMNS]).reshape(
            len(flows), len(NUMERIC_COLUMNS)
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The column names."""
        return np.asarray(NUMERIC_COLUMNS, dtype=object)
