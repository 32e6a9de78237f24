"""Synthetic windows for monitoring tests: flow columns plus engineered-feature columns.

Numbers are drawn from fixed distributions so a test controls exactly what shifts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.monitoring.reference import build_reference_profile

FEATURES = [f"f{i}" for i in range(8)]


def synthetic_flows(
    n: int, rng: np.random.Generator, *, shift: float = 0.0, services: tuple[str, ...] = ()
) -> pd.DataFrame:
    """``n`` flows; ``shift`` moves every feature by that many standard deviations."""
    service_names = ["dns", "http", "ssl", None, *services]
    weights = np.array([0.3, 0.2, 0.3, 0.2, *([0.3] * len(services))])
    frame = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 86400, n)), unit="s"),
            "duration": rng.exponential(1.0, n),
            "src_bytes": rng.lognormal(6, 1.5, n).astype(np.int64),
            "dst_bytes": rng.lognormal(8, 2, n).astype(np.int64),
            "src_pkts": rng.poisson(5, n),
            "dst_pkts": rng.poisson(7, n),
            "proto": rng.choice(["tcp", "udp", "icmp"], n, p=[0.7, 0.25, 0.05]),
            "service": rng.choice(
                np.array(service_names, dtype=object), n, p=weights / weights.sum()
            ),
            "conn_state": rng.choice(["SF", "S0", "REJ"], n, p=[0.8, 0.15, 0.05]),
            "dst_port": rng.choice([53, 80, 443, 22, 8080], n, p=[0.3, 0.2, 0.3, 0.1, 0.1]),
        }
    )
    x = rng.normal(size=(n, len(FEATURES))) + shift
    for i, name in enumerate(FEATURES):
        frame[f"feature:{name}"] = x[:, i]
    return frame


def feature_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The engineered-feature columns of a synthetic window as a matrix."""
    return frame[[f"feature:{n}" for n in FEATURES]].to_numpy()


def synthetic_profile(n: int = 20_000, *, seed: int = 0, sample_rows: int = 5000) -> dict:
    """A reference profile of ``n`` synthetic flows (scores ~ N(0, 1))."""
    rng = np.random.default_rng(seed)
    flows = synthetic_flows(n, rng)
    return build_reference_profile(
        flows,
        feature_matrix(flows),
        FEATURES,
        rng.normal(size=n),
        rng.normal(size=n // 4),
        seed=seed,
        sample_rows=sample_rows,
    )
