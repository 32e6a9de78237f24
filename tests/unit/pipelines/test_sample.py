"""The bounded sampler: never more than max_rows, uniform over the stream, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nids.pipelines.sample import FlowSampler


def _batch(start: int, n: int, malicious_every: int = 10) -> pd.DataFrame:
    idx = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "ts": pd.Timestamp("2025-11-03", tz="UTC") + pd.to_timedelta(idx, unit="s"),
            "src_bytes": idx,
            "label": np.where(idx % malicious_every == 0, "malicious", "benign"),
        }
    )


def _run(seed: int, max_rows: int = 500) -> tuple[FlowSampler, pd.DataFrame]:
    sampler = FlowSampler(max_rows, seed=seed)
    for start in range(0, 10_000, 700):  # uneven batches, the last one short
        sampler.add(_batch(start, min(700, 10_000 - start)))
    return sampler, sampler.frame()


def test_sample_is_bounded_and_counts_cover_the_whole_stream() -> None:
    sampler, frame = _run(seed=1)
    assert len(frame) == 500
    assert frame["ts"].is_monotonic_increasing
    assert frame["src_bytes"].is_unique
    assert sampler.profile.rows == 10_000
    assert sampler.profile.labels == {"benign": 9000, "malicious": 1000}
    assert sampler.profile.share("malicious") == 0.1
    assert sampler.profile.first == pd.Timestamp("2025-11-03", tz="UTC")
    assert sampler.profile.last == pd.Timestamp("2025-11-03", tz="UTC") + pd.Timedelta(9999, "s")


def test_sample_is_reproducible_and_seed_dependent() -> None:
    _, a = _run(seed=3)
    _, b = _run(seed=3)
    _, c = _run(seed=4)
    assert a["src_bytes"].tolist() == b["src_bytes"].tolist()
    assert a["src_bytes"].tolist() != c["src_bytes"].tolist()


def test_sample_is_uniform_over_time() -> None:
    # Each tenth of the stream should hold about a tenth of the sample: the late
    # batches must not be favoured (or starved) by the streaming.
    _, frame = _run(seed=5, max_rows=2000)
    deciles = np.bincount(frame["src_bytes"].to_numpy() // 1000, minlength=10)
    assert deciles.sum() == 2000
    assert deciles.min() > 140 and deciles.max() < 260


def test_small_stream_is_kept_whole() -> None:
    sampler = FlowSampler(1000, seed=0)
    sampler.add(_batch(0, 30))
    sampler.add(_batch(30, 0))
    assert sampler.frame()["src_bytes"].tolist() == list(range(30))
