"""Read a retrain window (bounded memory) and check it is fit to train on.

Checks: at least ``retrain_min_rows`` valid flows; at most ``retrain_max_attack_share``
of them labelled malicious (a fit on mostly-attack traffic learns attacks as normal);
with ``--on-error quarantine`` every refused object or row is reported, and the run
fails when every object was refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nids.data.readers import ReadReport, iter_flow_batches
from nids.data.schema import LABEL_MALICIOUS
from nids.errors import DataError, TrainingError
from nids.pipelines.sample import FlowSampler, WindowProfile
from nids.pipelines.window import DataWindow
from nids.settings import Settings

#: Rows per reader batch: the only per-object memory beyond the sample.
BATCH_ROWS = 200_000


@dataclass
class LoadedWindow:
    """The fit sample, the whole-window profile and the readers' report."""

    frame: pd.DataFrame
    profile: WindowProfile
    report: ReadReport

    @property
    def refused_objects(self) -> list[str]:
        """Objects refused as a whole (quarantine mode)."""
        return [s.source for s in self.report.failed_sources]

    def summary(self) -> dict[str, Any]:
        """JSON view for the run record."""
        return {
            **self.profile.to_dict(),
            "sample_rows": len(self.frame),
            "objects_read": len(self.report.sources) - len(self.refused_objects),
            "objects_refused": self.refused_objects,
            "rows_quarantined": self.report.quarantined,
            "quarantine_reasons": dict(self.report.reasons),
            "quarantine_files": self.report.quarantine_files,
        }


def load_window(settings: Settings, window: DataWindow, *, progress: Any = None) -> LoadedWindow:
    """Stream every object of ``window`` into a bounded sample (``settings.max_train_rows``)."""
    sampler = FlowSampler(settings.max_train_rows, seed=settings.seed)
    report = ReadReport()
    task = progress.add_task("read objects", total=len(window.objects)) if progress else None
    for obj in window.objects:
        try:
            for batch in iter_flow_batches(
                obj.uri,
                batch_rows=BATCH_ROWS,
                on_error=settings.on_error,
                quarantine_dir=settings.quarantine_dir,
                s3_endpoint_url=settings.s3_endpoint_url,
                report=report,
            ):
                sampler.add(batch)
        except DataError:
            # In quarantine mode the reader has recorded (and quarantined) the object.
            if settings.on_error != "quarantine":
                raise
        if progress is not None:
            progress.advance(task)
    return LoadedWindow(sampler.frame(), sampler.profile, report)


def check_window(settings: Settings, loaded: LoadedWindow, *, source: str) -> None:
    """Raise a clear error when the window cannot support a retrain."""
    if loaded.report.sources and len(loaded.refused_objects) == len(loaded.report.sources):
        raise DataError(
            f"every object of the window was refused ({len(loaded.refused_objects)})",
            source=source,
            hint=f"first: {loaded.report.failed_sources[0].error}",
        )
    rows = loaded.profile.rows
    if rows < settings.retrain_min_rows:
        raise TrainingError(
            f"{source}: {rows:,} valid flows, fewer than the {settings.retrain_min_rows:,} "
            "a retrain needs (NIDS_RETRAIN_MIN_ROWS)"
        )
    share = loaded.profile.share(LABEL_MALICIOUS)
    if share > settings.retrain_max_attack_share:
        raise TrainingError(
            f"{source}: {share:.1%} of the flows are labelled malicious, above the "
            f"{settings.retrain_max_attack_share:.0%} limit (NIDS_RETRAIN_MAX_ATTACK_SHARE): "
            "a detector fitted on such traffic learns the attacks as normal"
        )
