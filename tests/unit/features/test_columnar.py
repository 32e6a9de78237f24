"""Columnar input (the service's) gives bit-identical features and scores to DataFrames."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from features_helpers import make_flows

from nids.data.generator import generate_flows
from nids.errors import SchemaError
from nids.features import build_feature_transformer
from nids.features.columns import (
    FlowView,
    _normalise,
    factorize_text,
    flow_records,
    frame_columns,
)
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings

HOME = ["192.168.0.0/16", "2001:db8:1::/48"]


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return generate_flows(1500, days=1, attack_share=0.05, seed=5)


@pytest.fixture(scope="module")
def scorer(generated: pd.DataFrame) -> Scorer:
    pipeline = build_pipeline(Settings(n_estimators=20, max_samples=128, seed=1))
    pipeline.fit(generated.iloc[:1000])
    x = pipeline.named_steps["features"].transform(generated.iloc[:1000])
    threshold = float(np.quantile(-pipeline.named_steps["detector"].score_samples(x), 0.9))
    return Scorer(pipeline, threshold)


def _odd_mix() -> pd.DataFrame:
    """Nulls, odd spellings, IPv6, unparsable addresses, missing flags, several hosts."""
    return make_flows(
        {"proto": "TCP ", "conn_state": "s0", "service": None, "dst_pkts": 0},
        {"proto": " udp", "service": "DNS", "dst_port": 53, "t": 1.5, "conn_state": None},
        {"src_ip": "2001:db8:1::5", "dst_ip": "2001:db8:ffff::1", "proto": "ipv6-icmp"},
        {"src_ip": "203.0.113.9", "dst_ip": "192.168.1.10", "tcp_flags": 2, "conn_state": ""},
        {"src_ip": "not-an-ip", "proto": "47", "service": "ssl,http", "t": -3.0},
        {"tcp_flags": 20, "conn_state": None, "dst_pkts": 1, "t": 7.25},
        {"src_bytes": 0, "dst_bytes": 0, "src_pkts": 0, "dst_pkts": 0, "duration": 0.0},
        {"proto": "Tcp", "conn_state": "REJ", "t": 2.0, "service": " SSH "},
    )


def _mixes(generated: pd.DataFrame) -> dict[str, pd.DataFrame]:
    with_nulls = generated.iloc[1000:1400].copy()
    with_nulls.loc[with_nulls.index[::7], "service"] = None
    with_nulls.loc[with_nulls.index[::5], "conn_state"] = None
    with_nulls["tcp_flags"] = with_nulls["tcp_flags"].astype("Int16")
    with_nulls.loc[with_nulls.index[::3], "tcp_flags"] = pd.NA
    return {
        "odd": _odd_mix(),
        "single": generated.iloc[[1200]],
        "single_odd": _odd_mix().iloc[[2]],
        "generated_nulls": with_nulls,
        "small": generated.iloc[1400:1416],  # the dict-factorising size
        "just_over_small": generated.iloc[1400:1417],
    }


def _columnar(df: pd.DataFrame, *, prefactorised: bool = False) -> dict[str, Any]:
    columns: dict[str, Any] = dict(frame_columns(df))
    if prefactorised:
        for name in ("src_ip", "dst_ip", "proto", "service", "conn_state"):
            codes, uniques = pd.factorize(pd.Series(columns[name], dtype=object))
            columns[name] = (codes, np.asarray(uniques, dtype=object))
    return columns


@pytest.mark.parametrize("prefactorised", [False, True])
@pytest.mark.parametrize(
    "mix", ["odd", "single", "single_odd", "generated_nulls", "small", "just_over_small"]
)
def test_columnar_features_and_scores_are_bit_identical(
    generated: pd.DataFrame, scorer: Scorer, mix: str, prefactorised: bool
) -> None:
    df = _mixes(generated)[mix]
    cols = _columnar(df, prefactorised=prefactorised)
    # Batch mode and online mode (a persistent state fed the same flows twice).
    np.testing.assert_array_equal(scorer.features(cols), scorer.features(df))
    s1, s2 = scorer.features_step.new_state(), scorer.features_step.new_state()
    for _ in range(2):
        np.testing.assert_array_equal(
            scorer.features(cols, state=s1), scorer.features(df, state=s2)
        )
    np.testing.assert_array_equal(scorer.score(cols), scorer.score(df))
    expected = scorer.predict_frame(df, explain="all").reset_index(drop=True)
    pd.testing.assert_frame_equal(scorer.predict_frame(cols, explain="all"), expected)


def test_columnar_predict_explains_alerts_only(generated: pd.DataFrame, scorer: Scorer) -> None:
    df = generated.iloc[1000:1300]
    pred = scorer.predict(frame_columns(df))
    frame = scorer.predict_frame(df)
    assert pred.is_alert.any() and not pred.is_alert.all()
    np.testing.assert_array_equal(pred.scores, frame["score"].to_numpy())
    assert [json.dumps(t) if t else "[]" for t in pred.top_features] == list(frame["top_features"])
    assert all(bool(t) == alert for t, alert in zip(pred.top_features, pred.is_alert, strict=True))
    assert pred.features.shape == (300, len(scorer.feature_names))


def test_transformer_fits_identically_on_columns(generated: pd.DataFrame) -> None:
    train = generated.iloc[:600]
    a = build_feature_transformer(home_networks=HOME).fit(train)
    b = build_feature_transformer(home_networks=HOME).fit(frame_columns(train))
    np.testing.assert_array_equal(a.port_table_keys_, b.port_table_keys_)
    np.testing.assert_array_equal(a.service_table_counts_, b.service_table_counts_)
    assert a.home_networks_ == b.home_networks_


def test_small_dict_factorisation_matches_pandas() -> None:
    values = np.array(["TCP", None, "tcp ", "udp", float("nan"), "Udp", "icmp"], dtype=object)
    codes, uniques = factorize_text(values)
    assert sorted(uniques.tolist()) == ["", "icmp", "tcp", "udp"]  # distinct, "" always there
    assert uniques[codes].tolist() == ["tcp", "", "tcp", "udp", "", "udp", "icmp"]
    big_codes, big_uniques = factorize_text(np.tile(values, 5))  # the pandas path
    assert big_uniques[big_codes].tolist() == np.tile(uniques[codes], 5).tolist()


def test_object_arrays_factorise_as_through_a_series() -> None:
    """Object arrays skip the Series (the service's path): same codes, same uniques."""
    odd = [None, np.nan, pd.NA, pd.NaT, "TCP", "tcp ", 1, 1.0, True, b"x", "x", "", " ", 2.5]
    rng = np.random.default_rng(3)
    for _ in range(20):
        values = np.array([odd[i] for i in rng.integers(0, len(odd), 40)], dtype=object)
        codes, uniques = factorize_text(values)
        raw_codes, raw = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        expected = _normalise(raw_codes, list(raw))
        np.testing.assert_array_equal(codes, expected[0])
        assert uniques.tolist() == expected[1].tolist()


def test_view_of_columns_cleans_hostile_numbers() -> None:
    ts = np.array(["2025-01-01T00:00:01", "NaT"], dtype="datetime64[us]")
    v = FlowView(
        {
            "ts": ts,
            "duration": np.array([np.nan, -1.0]),
            "tcp_flags": np.array([np.nan, 300.0]),
            "src_bytes": np.array([5, 7], dtype=np.int64),
        }
    )
    assert v.epoch_seconds.tolist() == [1735689601.0, 0.0]
    assert v.numeric("duration").tolist() == [0.0, 0.0]
    assert v.numeric("dst_bytes").tolist() == [0.0, 0.0]  # absent
    flags, known = v.tcp_flags
    assert flags.tolist() == [0, 255] and known.tolist() == [False, True]


def test_records_of_columns_equal_frame_records(generated: pd.DataFrame) -> None:
    df = generated.iloc[1000:1010].reset_index(drop=True)
    rows = np.array([0, 3, 9])
    theirs = flow_records(df, rows)
    ours = flow_records(frame_columns(df), rows)
    keys = ["ts", "src_ip", "dst_ip", "dst_port", "proto", "service", "community_id"]
    assert [{k: r[k] for k in keys} for r in ours] == [{k: r[k] for k in keys} for r in theirs]


def test_columns_of_unequal_length_or_missing_are_rejected(scorer: Scorer) -> None:
    cols = frame_columns(_odd_mix())
    with pytest.raises(SchemaError, match="unequal"):
        scorer.features({**cols, "duration": cols["duration"][:2]})
    with pytest.raises(SchemaError) as err:
        scorer.features({k: v for k, v in cols.items() if k != "dst_port"})
    assert err.value.field == "dst_port"
    with pytest.raises(SchemaError, match="DataFrame or a columnar mapping"):
        scorer.features([1, 2, 3])  # type: ignore[arg-type]
