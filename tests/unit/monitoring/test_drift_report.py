"""Drift results rendered for people: rich table and self-contained HTML."""

from __future__ import annotations

import re

import numpy as np
from monitoring_samples import synthetic_flows, synthetic_profile
from rich.console import Console

from nids.monitoring.drift import Reference, compare_to_reference
from nids.monitoring.report import drift_table, render_html


def test_table_and_html() -> None:
    reference = Reference(synthetic_profile(5000, sample_rows=2000))
    rng = np.random.default_rng(0)
    window = synthetic_flows(2000, rng, shift=0.6, services=("zoom",))
    scores = rng.normal(size=2000)
    result = compare_to_reference(reference, window, scores=scores, threshold=2.5)
    console = Console(record=True, width=140)
    console.print(drift_table(result, only_interesting=True))
    text = console.export_text()
    assert "DRIFT" in text and "feature:f0" in text and "cat:service" in text
    assert "raw:src_pkts" not in text  # not notable: left out of the short table

    html = render_html(result, reference, window, scores=scores, model="m v1", max_plots=5)
    assert 'id="verdict" class="verdict drift"' in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 5
    plotted = re.findall(r'<img alt="([^"]+)"', html)
    assert set(plotted) <= set(result.drifted_columns)  # drifted columns come first
    quiet = compare_to_reference(reference, synthetic_flows(2000, rng), scores=scores)
    html = render_html(quiet, reference, window, scores=scores)
    assert re.findall(r'<img alt="([^"]+)"', html) == ["score"]  # nothing else notable
    assert "http://" not in html and "https://" not in html  # self-contained
    for name in result.drifted_columns:
        assert f'<td class="name">{name}</td>' in html
