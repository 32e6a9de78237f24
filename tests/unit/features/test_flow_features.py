"""Per-flow features on hand-built flows: each encodes the network fact it names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from features_helpers import make_flows

from nids.data.schema import ACK, RST, SYN
from nids.errors import ConfigError, EmptyDataError, SchemaError
from nids.features import (
    ALL_GROUPS,
    FEATURE_GROUPS,
    build_feature_transformer,
    describe_feature,
)

HOME = ["192.168.0.0/16"]
FLOW_GROUPS = [g for g in ALL_GROUPS if g != "context"]


def features(train: pd.DataFrame, test: pd.DataFrame | None = None) -> pd.DataFrame:
    t = build_feature_transformer(home_networks=HOME, groups=FLOW_GROUPS).fit(train)
    data = train if test is None else test
    return pd.DataFrame(t.transform(data), columns=t.get_feature_names_out())


def test_direction_relative_to_home_networks() -> None:
    df = make_flows(
        {"src_ip": "192.168.1.10", "dst_ip": "8.8.8.8"},
        {"src_ip": "203.0.113.7", "dst_ip": "192.168.1.10"},
        {"src_ip": "192.168.1.10", "dst_ip": "192.168.2.1"},
        {"src_ip": "203.0.113.7", "dst_ip": "8.8.8.8"},
        {"src_ip": "not-an-ip", "dst_ip": "2001:db8::1"},
    )
    f = features(df)
    assert f["dir_outbound"].tolist() == [1, 0, 0, 0, 0]
    assert f["dir_inbound"].tolist() == [0, 1, 0, 0, 0]
    assert f["dir_internal"].tolist() == [0, 0, 1, 0, 0]
    # external (neither end at home) is the reference level: all three columns zero
    assert "dir_external" not in f.columns
    assert f[["dir_inbound", "dir_outbound", "dir_internal"]].sum(axis=1).tolist() == [
        1,
        1,
        1,
        0,
        0,
    ]


def test_port_classes() -> None:
    df = make_flows(
        {"dst_port": 22},
        {"dst_port": 1024},
        {"dst_port": 49151},
        {"dst_port": 49152, "src_port": 80},
        {"dst_port": 0, "proto": "icmp"},
    )
    f = features(df)
    assert f["dst_port_well_known"].tolist() == [1, 0, 0, 0, 0]
    assert f["dst_port_registered"].tolist() == [0, 1, 1, 0, 0]
    assert f["dst_port_ephemeral"].tolist() == [0, 0, 0, 1, 0]
    assert f["src_port_low"].tolist() == [0, 0, 0, 1, 0]
    assert f["proto_icmp"].tolist() == [0, 0, 0, 0, 1]


def test_zeek_state_encodings() -> None:
    df = make_flows(
        {"conn_state": "S0", "dst_pkts": 0, "dst_bytes": 0},
        {"conn_state": "REJ", "dst_pkts": 1, "dst_bytes": 40},
        {"conn_state": "SF"},
        {"conn_state": "RSTO"},
        {"conn_state": "OTH"},
    )
    f = features(df)
    assert f["state_half_open"].tolist() == [1, 0, 0, 0, 0]
    assert f["state_rejected"].tolist() == [0, 1, 0, 0, 0]
    assert f["state_no_reply"].tolist() == [1, 0, 0, 0, 0]
    assert f["state_established"].tolist() == [0, 0, 1, 1, 0]
    assert f["state_reset"].tolist() == [0, 0, 0, 1, 0]
    assert f["state_midstream"].tolist() == [0, 0, 0, 0, 1]
    assert f["state_completed"].tolist() == [0, 0, 1, 0, 0]


def test_states_derived_from_tcp_flags_when_conn_state_is_null() -> None:
    df = make_flows(
        {"conn_state": None, "tcp_flags": SYN, "dst_pkts": 0, "dst_bytes": 0},
        {"conn_state": None, "tcp_flags": SYN | RST | ACK, "dst_pkts": 1},
        {"conn_state": None, "tcp_flags": SYN | ACK | 1},
        {"conn_state": None, "tcp_flags": None, "dst_pkts": 0},
    )
    f = features(df)
    assert f["state_half_open"].tolist() == [1, 0, 0, 0]
    assert f["state_rejected"].tolist() == [0, 1, 0, 0]
    assert f["state_completed"].tolist() == [0, 0, 1, 0]
    assert f["state_no_reply"].tolist() == [1, 0, 0, 1]


def test_volume_ratios_and_log_scaling() -> None:
    df = make_flows(
        {"src_bytes": 999, "dst_bytes": 0, "src_pkts": 9, "dst_pkts": 0, "duration": 0.0},
        {"src_bytes": 0, "dst_bytes": 0, "src_pkts": 0, "dst_pkts": 0},
    )
    f = features(df)
    assert f["log_src_bytes"][0] == pytest.approx(np.log1p(999))
    assert f["src_bytes_per_pkt"][0] == pytest.approx(np.log1p(111))
    assert f["byte_asymmetry"][0] == pytest.approx(999 / 1000)
    assert f["byte_asymmetry"][1] == 0.0
    # zero duration: rate over the 1 ms floor, finite
    assert f["log_bytes_per_s"][0] == pytest.approx(np.log1p(999 / 1e-3))


def test_service_and_port_rarity_learned_at_fit() -> None:
    train = make_flows(*[{"dst_port": 443}] * 50, {"dst_port": 53, "service": "dns"})
    test = make_flows({"dst_port": 443}, {"dst_port": 53, "service": "dns"}, {"dst_port": 3389})
    f = features(train, test)
    rare = f["port_rarity"].to_numpy()
    assert rare[0] < rare[1] < rare[2]
    assert rare[2] == pytest.approx(np.log(52))  # never seen: log(N + 1)
    assert f["service_rarity"][1] > f["service_rarity"][0]  # dns rarer than ssl here


def test_rarity_is_per_direction() -> None:
    train = make_flows(*[{"dst_port": 443}] * 20)  # outbound HTTPS only
    inbound = make_flows({"src_ip": "203.0.113.7", "dst_ip": "192.168.1.10", "dst_port": 443})
    assert features(train, inbound)["port_rarity"][0] == pytest.approx(np.log(21))


def test_hour_of_day_is_cyclic() -> None:
    df = make_flows({"t": -12 * 3600 + 1}, {"t": -12 * 3600 - 1}, {"t": 0})
    f = features(df)
    a, b = f[["hour_sin", "hour_cos"]].to_numpy()[:2]
    assert np.linalg.norm(a - b) < 1e-3  # 23:59:59 next to 00:00:01
    assert f["hour_cos"][2] == pytest.approx(-1.0)  # noon


def test_adversarial_input_gives_finite_features() -> None:
    df = make_flows(
        {"src_bytes": np.nan, "dst_bytes": np.inf, "duration": -5.0, "dst_pkts": -1},
        {"proto": "weird", "dst_port": 70000, "service": None, "conn_state": None},
        {"src_ip": None, "dst_ip": "", "proto": None, "src_pkts": 2**62},
    )
    df = df.astype({"src_bytes": "float64", "dst_bytes": "float64"})
    df["ts"] = df["ts"].astype(object)
    df.loc[1, "ts"] = None
    X = build_feature_transformer(home_networks=HOME).fit(df).transform(df)
    assert np.isfinite(X).all()


def test_missing_optional_columns_are_tolerated() -> None:
    df = make_flows({}, {"conn_state": "S0"}).drop(
        columns=["tcp_flags", "conn_state", "service", "community_id"]
    )
    X = build_feature_transformer(home_networks=HOME).fit(df).transform(df)
    assert np.isfinite(X).all()


def test_names_match_columns_groups_and_order() -> None:
    df = make_flows({}, {"dst_port": 80})
    t = build_feature_transformer(home_networks=HOME, groups=["state", "volume"]).fit(df)
    names = list(t.get_feature_names_out())
    assert names == list(FEATURE_GROUPS["volume"]) + list(FEATURE_GROUPS["state"])
    assert t.transform(df).shape == (2, len(names))
    full = build_feature_transformer(home_networks=HOME).fit(df)
    assert full.transform(df).shape[1] == sum(len(v) for v in FEATURE_GROUPS.values())


def test_label_columns_do_not_change_features() -> None:
    df = make_flows({}, {"conn_state": "S0"})
    t = build_feature_transformer(home_networks=HOME).fit(df)
    labelled = df.assign(label=["benign", "malicious"], attack_type=[None, "portscan"])
    np.testing.assert_array_equal(t.transform(df), t.transform(labelled))


def test_row_order_is_input_order() -> None:
    df = make_flows({"t": 5, "src_bytes": 1}, {"t": 1, "src_bytes": 100}, {"t": 3})
    t = build_feature_transformer(home_networks=HOME).fit(df)
    X = t.transform(df)
    X_rev = t.transform(df.iloc[::-1].reset_index(drop=True))
    np.testing.assert_array_equal(X, X_rev[::-1])


def test_bad_input_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="not a CIDR"):
        build_feature_transformer(home_networks=["10.0.0.0/33"])
    with pytest.raises(ConfigError, match="unknown feature group"):
        build_feature_transformer(home_networks=HOME, groups=["volume", "nope"])
    t = build_feature_transformer(home_networks=HOME)
    with pytest.raises(EmptyDataError):
        t.fit(make_flows({}).iloc[:0])
    with pytest.raises(SchemaError, match="dst_port"):
        t.fit(make_flows({}).drop(columns=["dst_port"]))


def test_describe_feature_speaks_network() -> None:
    flow = {"src_ip": "203.0.113.7", "dst_ip": "192.168.1.10", "dst_port": 3389, "proto": "tcp"}
    assert "half-open" in describe_feature("state_half_open", 1.0, flow)
    assert "203.0.113.7" in describe_feature("dir_inbound", 1.0, flow)
    assert describe_feature("log_src_bytes", float(np.log1p(1500)), flow).startswith("1,500 bytes")
    assert "42 distinct destination ports" in describe_feature(
        "ctx_distinct_dst_ports", float(np.log1p(42)), flow
    )
    assert "unknown_feature" in describe_feature("unknown_feature", 1.0, flow)
