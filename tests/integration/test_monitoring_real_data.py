"""Drift on real traffic: Stratosphere Zeek day 008 as reference, day 010 as current.

The model is fitted on 008 (all of it: the reference is what the model saw), the
report is rendered, opened in headless Chromium and its screenshot checked.
Findings are stated in docs/monitoring.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nids.monitoring.drift import Reference, compare_to_reference
from nids.monitoring.reference import build_reference_profile
from nids.monitoring.report import render_html
from support import ZEEK_008, ZEEK_010

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def real_drift() -> tuple:
    from nids.data import read_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer
    from nids.settings import Settings

    day8, day10 = read_flows(str(ZEEK_008)), read_flows(str(ZEEK_010))
    pipeline = build_pipeline(Settings(n_estimators=100, max_samples=256, seed=1))
    pipeline.fit(day8)
    scorer = Scorer(pipeline, threshold=0.0)
    x8 = scorer.features(day8)
    s8 = scorer.score_features(x8)
    benign = (day8["label"] == "benign").to_numpy()
    scorer.threshold = float(np.quantile(s8[benign], 0.99))  # 1 % of benign 008 alerts
    profile = build_reference_profile(day8, x8, scorer.feature_names, s8, s8[benign], seed=1)
    x10 = scorer.features(day10)
    names = [f"feature:{n}" for n in scorer.feature_names]
    current = pd.concat([day10, pd.DataFrame(x10, columns=names)], axis=1)
    scores = scorer.score_features(x10)
    result = compare_to_reference(profile, current, scores=scores, threshold=scorer.threshold)
    return profile, current, scores, result


def test_day_010_drifts_from_day_008(real_drift: tuple) -> None:
    _profile, current, _scores, result = real_drift
    print(f"\n008 -> 010: {len(result.drifted_columns)} of {len(result.columns)} columns drifted; "
          f"alert rate {result.reference_alert_rate:.2%} -> {result.alert_rate:.2%}; "
          f"drifted: {result.drifted_columns}")  # fmt: skip
    assert result.n_current == len(current) == 5347
    assert result.drifted
    # the day-010 capture starts at 22:00 where 008 started at 17:53: hour of day moves
    assert "feature:hour_cos" in result.drifted_columns
    # its service/port mix differs, and the model alerts far more often
    assert {"cat:dst_port", "cat:service", "alert_rate"} <= set(result.drifted_columns)
    assert result.alert_rate > 3 * result.reference_alert_rate
    json.dumps(result.to_dict())  # the JSON output is valid


def test_report_renders_in_headless_chromium(real_drift: tuple, tmp_path: Path) -> None:
    from matplotlib.image import imread

    profile, current, scores, result = real_drift
    html = render_html(result, Reference(profile), current, scores=scores, model="fitted on 008")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is required (apt-get install -y chromium)"
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1200,900", f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    image = imread(shot)[:, :, :3]
    assert image.shape[:2] == (900, 1200)
    assert image.std() > 0.05  # not a blank page
    # the red DRIFT badge (#c0392b) is drawn near the top of the page
    badge = np.abs(image - np.array([0xC0, 0x39, 0x2B]) / 255).max(axis=2) < 0.05
    assert badge[:300].sum() > 500
