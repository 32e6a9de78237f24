"""Drift scenarios shift what their documentation says they shift."""

from __future__ import annotations

import pandas as pd
import pytest

from nids.data.generator import generate_flows

N = 30_000
NEW_PORTS = {3478, 3479, 3480, 3481, 8801}


@pytest.fixture(scope="module")
def baseline() -> pd.DataFrame:
    return generate_flows(N, days=7, attack_share=0.05, seed=21)


def _drifted(name: str) -> pd.DataFrame:
    return generate_flows(N, days=7, attack_share=0.05, seed=21, drift=name)


def _benign(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["label"] == "benign"]


def test_new_service_adds_ports_absent_without_drift(baseline: pd.DataFrame) -> None:
    drifted = _benign(_drifted("new_service"))
    assert not NEW_PORTS & set(baseline["dst_port"])
    new = drifted[drifted["dst_port"].isin(NEW_PORTS)]
    assert 0.05 < len(new) / len(drifted) < 0.2
    assert new["proto"].eq("udp").all() and new["service"].isna().all()
    # The new media streams are big: mean bytes per benign flow rises.
    total = lambda df: (df["src_bytes"] + df["dst_bytes"]).mean()  # noqa: E731
    assert total(drifted) > 1.5 * total(_benign(baseline))


def test_volume_shift_raises_median_bytes(baseline: pd.DataFrame) -> None:
    drifted = _benign(_drifted("volume_shift"))
    before = _benign(baseline)
    for col in ("src_bytes", "dst_bytes"):
        assert drifted[col].median() > 1.3 * before[col].median(), col
    backups = drifted[drifted["dst_port"] == 873]
    assert len(backups) > 0.02 * len(drifted)
    assert backups["ts"].dt.hour.lt(4).all()


def test_diurnal_shift_moves_traffic_to_night_and_weekends(baseline: pd.DataFrame) -> None:
    drifted = _benign(_drifted("diurnal_shift"))
    before = _benign(baseline)
    night = lambda df: (df["ts"].dt.hour < 6).mean()  # noqa: E731
    weekend = lambda df: (df["ts"].dt.day_of_week >= 5).mean()  # noqa: E731
    assert night(drifted) > 2 * night(before)
    assert weekend(drifted) > 2 * weekend(before)


def test_attack_surge_multiplies_the_attack_share(baseline: pd.DataFrame) -> None:
    drifted = _drifted("attack_surge")
    assert abs((drifted["label"] == "malicious").mean() - 0.25) <= 0.01
    assert (baseline["label"] == "malicious").mean() == pytest.approx(0.05, abs=0.01)
    assert generate_flows(1_000, attack_share=0.2, seed=1, drift="attack_surge")["label"].eq(
        "malicious"
    ).mean() == pytest.approx(0.5, abs=0.01)


def test_drift_keeps_the_network_and_the_attacks(baseline: pd.DataFrame) -> None:
    drifted = _drifted("volume_shift")
    attacks = lambda df: df[df["label"] == "malicious"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(attacks(drifted), attacks(baseline))
    internal = lambda df: set(df.loc[df["src_ip"].str.startswith("10.0."), "src_ip"])  # noqa: E731
    assert len(internal(drifted) & internal(baseline)) > 0.9 * len(internal(baseline))
