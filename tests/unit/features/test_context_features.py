"""Per-source window features: counts on hand-built flows, batch == online, bounded state."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from features_helpers import make_flows

from nids.features import FEATURE_GROUPS, HostContextState, build_feature_transformer
from nids.features.network import infer_home_networks

HOME = ["192.168.0.0/16"]
SCANNER = "203.0.113.7"


def context(df: pd.DataFrame, **params: object) -> pd.DataFrame:
    t = build_feature_transformer(home_networks=HOME, groups=["context"], **params).fit(df)
    return pd.DataFrame(t.transform(df), columns=t.get_feature_names_out())


def scan(n: int, *, start: float = 0.0, step: float = 0.5) -> list[dict[str, object]]:
    return [
        {
            "t": start + i * step,
            "src_ip": SCANNER,
            "dst_ip": f"192.168.1.{i % 4 + 1}",
            "dst_port": 1000 + i,
            "conn_state": "S0",
            "dst_pkts": 0,
            "dst_bytes": 0,
            "src_bytes": 44,
            "src_pkts": 1,
            "service": None,
        }
        for i in range(n)
    ]


def test_window_counts_fan_out_and_failures() -> None:
    rows = scan(10)  # 10 ports, 4 hosts, all unanswered, over 4.5 s
    rows += [{"t": 100.0, "src_ip": SCANNER, "dst_ip": "192.168.1.1", "dst_port": 443}]
    f = context(make_flows(*rows))
    assert np.expm1(f["ctx_flows"][9]) == pytest.approx(10)
    assert np.expm1(f["ctx_distinct_dst_ports"][9]) == pytest.approx(10)
    assert np.expm1(f["ctx_distinct_dst_hosts"][9]) == pytest.approx(4)
    assert f["ctx_failed_share"][9] == 1.0
    # 95.5 s later the scan has left the 60 s window: only the flow itself counts
    assert np.expm1(f["ctx_flows"][10]) == pytest.approx(1)
    assert f["ctx_failed_share"][10] == 0.0
    assert np.expm1(f["ctx_flows"][0]) == pytest.approx(1)


def test_counts_are_per_source_and_bytes_out_vs_in() -> None:
    rows = [
        {"t": 0, "src_ip": "192.168.1.5", "src_bytes": 1000, "dst_bytes": 10},
        {"t": 1, "src_ip": "192.168.1.6", "src_bytes": 10, "dst_bytes": 1000},
        {"t": 2, "src_ip": "192.168.1.5", "src_bytes": 3000, "dst_bytes": 30},
    ]
    f = context(make_flows(*rows))
    assert np.expm1(f["ctx_flows"].to_numpy()).round().tolist() == [1, 1, 2]
    assert np.expm1(f["ctx_bytes_out"][2]) == pytest.approx(4000)
    assert f["ctx_out_in_ratio"][2] == pytest.approx(np.log1p(4000) - np.log1p(40))
    assert f["ctx_out_in_ratio"][1] < 0


def test_dns_volume_per_source() -> None:
    rows = [
        {"t": i, "dst_ip": "192.168.1.1", "dst_port": 53, "proto": "udp", "service": "dns"}
        for i in range(5)
    ]
    rows.append({"t": 6, "dst_port": 53, "proto": "udp", "service": None})  # port 53, no tag
    f = context(make_flows(*rows))
    assert np.expm1(f["ctx_dns_queries"].to_numpy()).round().tolist() == [1, 2, 3, 4, 5, 6]


def test_beaconing_pair_is_regular_and_jittery_pair_is_not() -> None:
    rng = np.random.default_rng(0)
    beacon = [{"t": 30.0 * i, "dst_ip": "198.51.100.9"} for i in range(8)]
    jitter_times = np.cumsum(rng.exponential(30.0, size=8))
    jitter = [{"t": float(t), "dst_ip": "198.51.100.10"} for t in jitter_times]
    df = make_flows(*beacon, *jitter)
    f = context(df)
    beacon_reg = f["ctx_pair_regularity"][:8].to_numpy()
    assert beacon_reg[:3].tolist() == [0.0, 0.0, 0.0]  # too few intervals yet
    assert beacon_reg[-1] == pytest.approx(1.0)
    assert f["ctx_pair_regularity"][15] < 0.8
    assert np.expm1(f["ctx_pair_flows"][7]) == pytest.approx(8)


def test_batch_equals_online_in_request_sized_chunks() -> None:
    rng = np.random.default_rng(7)
    n = 600
    t = np.sort(rng.uniform(0, 900, n))
    df = make_flows(
        *[
            {
                "t": float(t[i]),
                "src_ip": f"192.168.1.{rng.integers(1, 12)}",
                "dst_ip": f"198.51.100.{rng.integers(1, 30)}",
                "dst_port": int(rng.choice([53, 80, 443, 8080, 3389])),
                "conn_state": str(rng.choice(["SF", "S0", "REJ"])),
                "src_bytes": int(rng.integers(40, 10_000)),
            }
            for i in range(n)
        ]
    )
    t_batch = build_feature_transformer(home_networks=HOME).fit(df)
    batch = t_batch.transform(df)
    state = t_batch.new_state()
    chunks = [t_batch.transform(df.iloc[a : a + 37], state=state) for a in range(0, n, 37)]
    np.testing.assert_array_equal(batch, np.vstack(chunks))
    # a tiny state (idle slots reused) still gives the same answers when no live host is lost
    small = build_feature_transformer(home_networks=HOME, max_hosts=16, max_pairs=400).fit(df)
    state = small.new_state()
    online = np.vstack([small.transform(df.iloc[a : a + 50], state=state) for a in range(0, n, 50)])
    np.testing.assert_array_equal(batch, online)
    assert state.stats.hosts_evicted_live == 0
    assert state.stats.flows == n


def test_state_is_bounded_and_evicts_least_recent() -> None:
    state = HostContextState(max_hosts=8, max_pairs=8, ring_size=4)
    n = 100
    src = pd.util.hash_array(np.array([f"10.0.0.{i}" for i in range(n)], dtype=object))
    out = state.update(
        ts=np.arange(n, dtype=float) * 0.01,
        src_ip=src,
        dst_ip=src,
        dst_port=np.full(n, 80),
        failed=np.zeros(n, dtype=bool),
        dns=np.zeros(n, dtype=bool),
        bytes_out=np.ones(n),
        bytes_in=np.ones(n),
    )
    assert out.shape == (n, 9)
    assert state.n_hosts <= 8
    assert state.stats.hosts_evicted_live > 0
    assert state.max_hosts == 8


def test_counts_saturate_at_ring_size() -> None:
    f = context(make_flows(*scan(100, step=0.1)), ring_size=16)
    assert np.expm1(f["ctx_distinct_dst_ports"].max()) == pytest.approx(16)


def test_context_is_deterministic_and_order_independent() -> None:
    df = make_flows(*scan(30))
    shuffled = df.sample(frac=1.0, random_state=3)
    a = context(df)
    b = context(shuffled).set_index(shuffled.index).sort_index()
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert list(a.columns) == list(FEATURE_GROUPS["context"])


def test_home_networks_inferred_when_configured_ones_see_no_traffic() -> None:
    rows = [{"src_ip": "147.32.81.167", "dst_ip": f"40.74.{i}.1"} for i in range(20)]
    rows += [{"src_ip": "147.32.83.234", "dst_ip": "52.1.1.1"}]
    df = make_flows(*rows)
    t = build_feature_transformer(home_networks=["10.0.0.0/8"]).fit(df)
    assert t.home_networks_ == ["147.32.0.0/16"]
    assert t.home_networks_inferred_
    f = pd.DataFrame(t.transform(df), columns=t.get_feature_names_out())
    assert f["dir_outbound"].eq(1).all()
    kept = build_feature_transformer(home_networks=["147.32.81.0/24"]).fit(df)
    assert kept.home_networks_ == ["147.32.81.0/24"]
    assert not kept.home_networks_inferred_
    fixed = build_feature_transformer(home_networks=["10.0.0.0/8"], infer_home_networks=False)
    assert fixed.fit(df).home_networks_ == ["10.0.0.0/8"]


def test_infer_home_networks_picks_fewest_blocks_covering_traffic() -> None:
    src = np.array(["10.1.0.1"] * 5 + ["172.20.0.1"] * 4 + ["8.8.8.8"], dtype=object)
    dst = np.array([f"{20 + i}.2.3.4" for i in range(10)], dtype=object)  # all distinct
    assert infer_home_networks(src, dst, coverage=0.5) == ["10.1.0.0/16"]
    assert infer_home_networks(src, dst, coverage=0.9) == ["10.1.0.0/16", "172.20.0.0/16"]
    assert infer_home_networks(src[:0], dst[:0]) == []


def _reference_window(
    ts: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    port: np.ndarray,
    flags: np.ndarray,
    b_out: np.ndarray,
    b_in: np.ndarray,
    *,
    ring: int,
    window: float,
) -> np.ndarray:
    """The ring-window features (columns 0-6) written out plainly, per flow in order."""
    history: dict[int, list[int]] = {}
    late: set[int] = set()
    out = np.zeros((len(ts), 7))
    for i in range(len(ts)):
        seen = history.setdefault(int(src[i]), [])
        if seen and ts[i] < ts[seen[-1]]:
            late.add(int(src[i]))
        seen.append(i)
        count = failed = dns = 0
        ports: set[int] = set()
        hosts: set[int] = set()
        sum_out = sum_in = 0.0
        for j in reversed(seen[-ring:]):  # newest first
            if ts[i] - ts[j] > window:
                if int(src[i]) in late:
                    continue
                break
            count += 1
            failed += int(flags[j] & 1)
            dns += int(flags[j] >> 1)
            sum_out += float(np.float32(b_out[j]))
            sum_in += float(np.float32(b_in[j]))
            ports.add(int(port[j]))
            hosts.add(int(dst[j]))
        out[i] = [
            math.log1p(count),
            math.log1p(len(ports)),
            math.log1p(len(hosts)),
            failed / count,
            math.log1p(sum_out),
            math.log1p(sum_out) - math.log1p(sum_in),
            math.log1p(dns),
        ]
    return out


def test_ring_window_equals_a_plain_reference() -> None:
    """The kernel's ring walk (wrap-around, late flows, window cut) is exactly the
    plain definition: identical floats, not just close."""
    rng = np.random.default_rng(5)
    n = 4_000
    ts = np.sort(rng.uniform(0, 600, n))
    late = rng.random(n) < 0.05
    ts[late] -= rng.uniform(0, 90, late.sum())  # some flows arrive out of order
    src = rng.integers(1, 12, n).astype(np.uint64)  # few hosts: rings wrap many times
    dst = rng.integers(1, 40, n).astype(np.uint64)
    port = rng.integers(1, 30, n)
    failed = rng.random(n) < 0.3
    dns = rng.random(n) < 0.2
    b_out = rng.exponential(1e4, n)
    b_in = rng.exponential(1e4, n)
    state = HostContextState(ring_size=16, window_s=60.0)
    got = state.update(ts, src, dst, port, failed, dns, b_out, b_in)
    flags = failed.astype(np.uint8) | (dns.astype(np.uint8) << 1)
    expected = _reference_window(ts, src, dst, port, flags, b_out, b_in, ring=16, window=60.0)
    np.testing.assert_array_equal(got[:, :7], expected)
