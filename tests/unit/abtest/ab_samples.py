"""The scored, labelled traffic shared by verdict tests (plain module, importable)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Scored:
    """Generated flows (with labels) and one real model's anomaly scores on them."""

    flows: pd.DataFrame
    scores: np.ndarray

    def threshold(self, quantile: float) -> float:
        return float(np.quantile(self.scores, quantile))
