"""The compiled per-flow pass equals the plain numpy definition bit for bit.

``reference_features`` keeps the per-flow groups as they were written before the
pass (numpy steps per feature); generated traffic with hostile values mixed in (NaN,
inf, negatives, overflowing volumes, nulls, odd spellings, unparsable addresses,
flags without a state, absent optional columns) must give identical floats through
the transformer, as a DataFrame and as the service's columnar mapping, in batch and
online mode and for every ablation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from reference_features import dns_mask, failed_mask, reference_columns, seconds, state_masks

from nids.data.generator import generate_flows
from nids.features import ALL_GROUPS, FEATURE_GROUPS, build_feature_transformer
from nids.features.columns import FlowView, _seconds, frame_columns
from nids.features.context import CONTEXT_FEATURES
from nids.features.flow import FLOW_FEATURES, FlowLayout
from nids.features.transformer import _hashed

HOME = ["10.0.0.0/8", "2001:db8:1::/48"]
NUMERIC = ["duration", "src_port", "dst_port", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts"]
ODD_NUMBERS = [np.nan, np.inf, -np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 53.0, 1023.0, 1024.0,
               49151.0, 49152.0, 65535.0, 65536.0, 1e12, 2.0**62, 1e300, 1.7e308]  # fmt: skip
ODD_TEXT = [None, "", " TCP", "UDP ", "Icmp", "ipv6-icmp", "sctp", "47", "weird", "tcp",
            "ssl,http", "dns,ssl", "DNS", "ssh", "s0", "REJ", "rstos0", "OTH", "sh", "SF",
            "rsto", "S1", "rstrh", "ssl\x00", "\x00"]  # fmt: skip
ODD_ADDRESSES = [None, "", "not-an-ip", "10.1.2.3", " 10.0.0.1 ", "2001:db8:1::5",
                 "2001:db8:2::5", "192.168.1.1", "fe80::1%eth0", "8.8.8.8"]  # fmt: skip


def hostile_flows(n: int, seed: int) -> pd.DataFrame:
    """Generated flows with ~15 % of every input column replaced by odd values."""
    rng = np.random.default_rng(seed)
    df = generate_flows(n, days=1, attack_share=0.1, seed=seed).reset_index(drop=True)
    text = ("proto", "service", "conn_state", "src_ip", "dst_ip")
    df = df.astype(dict.fromkeys(NUMERIC, "float64") | dict.fromkeys(text, object))

    def some() -> np.ndarray:
        return rng.random(n) < 0.15

    for c in NUMERIC:
        rows = some()
        df.loc[rows, c] = rng.choice(ODD_NUMBERS, rows.sum())
    for c in ("proto", "service", "conn_state"):
        rows = some()
        df.loc[rows, c] = rng.choice(np.array(ODD_TEXT, dtype=object), rows.sum())
    for c in ("src_ip", "dst_ip"):
        rows = some()
        df.loc[rows, c] = rng.choice(np.array(ODD_ADDRESSES, dtype=object), rows.sum())
    # Flags without a state (the derived states), flags out of range, unknown flags.
    no_state = rng.random(n) < 0.3
    df.loc[no_state, "conn_state"] = None
    flags = pd.array(rng.integers(0, 300, n), dtype="Int16")
    flags[rng.random(n) < 0.3] = pd.NA
    df["tcp_flags"] = flags
    # Unknown times, times before the epoch, and times out of order.
    ts = df["ts"].copy()
    ts[rng.random(n) < 0.05] = pd.NaT
    ts[rng.random(n) < 0.05] = pd.Timestamp("1969-12-31 23:00:00", tz="UTC")
    df["ts"] = ts
    return df


def expected_features(t: Any, flows: Any, state: Any = None) -> np.ndarray:
    """The whole matrix as the numpy implementation computed it (context included)."""
    v = FlowView(flows)
    cols = reference_columns(t, v)
    masks = state_masks(v)
    ts = v.epoch_seconds
    order = np.argsort(ts, kind="stable")
    dport = v.numeric("dst_port")
    ctx = (t.new_state() if state is None else state).update(
        ts[order],
        _hashed(v, "src_ip")[order],
        _hashed(v, "dst_ip")[order],
        dport[order],
        failed_mask(masks)[order],
        dns_mask(v)[order],
        v.numeric("src_bytes")[order],
        v.numeric("dst_bytes")[order],
    )
    out = np.empty_like(ctx)
    out[order] = ctx
    cols.update(zip(CONTEXT_FEATURES, out.T, strict=True))
    return np.column_stack([cols[name] for name in t.feature_names_])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return generate_flows(2000, days=1, attack_share=0.05, seed=11)


# The context state keeps ports as int32 and volumes as float32: numpy warns when it
# casts hostile values beyond their range (behaviour from before the pass, unchanged).
pytestmark = [
    pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("columnar", [False, True])
def test_compiled_pass_equals_numpy_definition(
    train: pd.DataFrame, seed: int, columnar: bool
) -> None:
    t = build_feature_transformer(home_networks=HOME).fit(train)
    df = hostile_flows(800, seed)
    flows = frame_columns(df) if columnar else df
    np.testing.assert_array_equal(t.transform(flows), expected_features(t, flows))
    # Online: request-sized chunks (1, 16 - the dict factorisation - and 17 flows).
    ours, theirs = t.new_state(), t.new_state()
    for a, b in ((0, 1), (1, 17), (17, 34), (34, 35), (35, 300)):
        chunk = df.iloc[a:b]
        chunk_flows = frame_columns(chunk) if columnar else chunk
        np.testing.assert_array_equal(
            t.transform(chunk_flows, state=ours), expected_features(t, chunk_flows, theirs)
        )


def test_every_flag_state_and_reply_combination(train: pd.DataFrame) -> None:
    """States derived from TCP flags: all 256 flag bytes (and unknown) x states x
    responder packets x protocols, exhaustively."""
    t = build_feature_transformer(home_networks=HOME).fit(train)
    grid = pd.MultiIndex.from_product(
        [
            [*range(256), None],
            [None, "", "sf", "s0", "rej", "rsto", "rstos0", "rstrh", "oth", "s1"],
            [0.0, 1.0, 2.0, 3.0],
            ["tcp", "udp", "icmp"],
        ],
        names=["tcp_flags", "conn_state", "dst_pkts", "proto"],
    ).to_frame(index=False)
    df = generate_flows(len(grid), days=1, seed=7).reset_index(drop=True)
    df = df.astype({"conn_state": object, "proto": object, "dst_pkts": "float64"})
    for c in ("conn_state", "dst_pkts", "proto"):
        df[c] = grid[c].to_numpy()
    df["tcp_flags"] = pd.array(grid["tcp_flags"].tolist(), dtype="Int16")
    for flows in (df, frame_columns(df)):
        np.testing.assert_array_equal(t.transform(flows), expected_features(t, flows))


def test_remembered_tables_follow_each_fitted_transformer(train: pd.DataFrame) -> None:
    """Per-value tables and service ratios are remembered across requests; two models
    with different rarity tables (A/B variants) still each get their own."""
    a = build_feature_transformer(home_networks=HOME).fit(train)
    b = build_feature_transformer(home_networks=["192.168.0.0/16"]).fit(train.iloc[:300])
    df = hostile_flows(40, 8)
    for _ in range(2):
        for t in (a, b):
            for row in range(0, 40, 7):
                flows = frame_columns(df.iloc[row : row + 1])
                np.testing.assert_array_equal(t.transform(flows), expected_features(t, flows))


@pytest.mark.parametrize("max_hosts", [16_384, 40])
def test_batch_state_sized_to_the_batch_changes_nothing(
    train: pd.DataFrame, max_hosts: int
) -> None:
    """Batch mode sizes its fresh state to the batch; with evictions (40 slots for
    more sources) and without, the features equal a full-size state's."""
    t = build_feature_transformer(home_networks=HOME, max_hosts=max_hosts, max_pairs=60)
    t.fit(train)
    for n in (1, 2, 30, 500):
        df = hostile_flows(n, 9)
        np.testing.assert_array_equal(t.transform(df), t.transform(df, state=t.new_state()))


def test_hostile_values_stay_as_they_were(train: pd.DataFrame) -> None:
    """Overflowing volumes made inf before the pass; they still do (not silently fixed)."""
    t = build_feature_transformer(home_networks=HOME).fit(train)
    df = hostile_flows(50, 4)
    df.loc[0, ["src_bytes", "dst_bytes", "duration"]] = [1.7e308, 1.7e308, 0.0]
    got = pd.DataFrame(t.transform(df), columns=t.get_feature_names_out())
    assert got.loc[0, "log_bytes_per_s"] == np.inf
    np.testing.assert_array_equal(got.to_numpy(), expected_features(t, df))


def test_absent_optional_columns_equal_numpy_definition(train: pd.DataFrame) -> None:
    t = build_feature_transformer(home_networks=HOME).fit(train)
    df = hostile_flows(300, 5).drop(columns=["tcp_flags", "conn_state", "service"])
    for flows in (df, frame_columns(df)):
        np.testing.assert_array_equal(t.transform(flows), expected_features(t, flows))


@pytest.mark.parametrize("group", ALL_GROUPS)
def test_ablations_take_the_same_columns(train: pd.DataFrame, group: str) -> None:
    df = hostile_flows(300, 6)
    full = build_feature_transformer(home_networks=HOME).fit(train)
    x = pd.DataFrame(full.transform(df), columns=full.get_feature_names_out())
    for groups in ([group], [g for g in ALL_GROUPS if g != group]):
        t = build_feature_transformer(home_networks=HOME, groups=groups).fit(train)
        names = list(t.get_feature_names_out())
        assert names == [n for g in groups for n in FEATURE_GROUPS[g]]
        np.testing.assert_array_equal(t.transform(df), x[names].to_numpy())


def test_epoch_seconds_loop_equals_numpy_steps() -> None:
    """Nanosecond ticks to seconds: whole seconds, fractions that round onto a whole
    second (nudged off it), negative times, the ends of the datetime64 range, NaT."""
    rng = np.random.default_rng(12)
    lo, hi = np.iinfo(np.int64).min + 1, np.iinfo(np.int64).max
    whole = rng.integers(-(2**33), 2**33, 4000) * 10**9
    ns = np.concatenate(
        [
            rng.integers(lo, hi, 20_000, dtype=np.int64),
            whole,
            whole + 1,
            whole - 1,
            whole + rng.integers(1, 1000, 4000),
            whole + 10**9 - rng.integers(1, 1000, 4000),
            np.array([lo, lo + 1, hi, hi - 1, 0, 1, -1, 10**9, -(10**9)], dtype=np.int64),
        ]
    )
    missing = rng.random(len(ns)) < 0.05
    missing[0] = True  # NaT itself
    expected = seconds(ns, missing)
    got = _seconds(ns, missing)
    np.testing.assert_array_equal(got, expected)
    assert (got != np.floor(got))[~missing & (ns % 10**9 != 0)].all()  # nudges happened


def test_layout_rows_and_transcendental_ranges() -> None:
    names = list(FEATURE_GROUPS["rate"]) + list(FEATURE_GROUPS["time"])
    layout = FlowLayout(names)
    assert [FLOW_FEATURES[f] for f in np.flatnonzero(layout.rows >= 0)] == names
    assert [(u.__name__, a, b) for u, a, b in layout.after] == [
        ("log1p", 0, 3),
        ("sin", 3, 4),
        ("cos", 4, 5),
    ]
