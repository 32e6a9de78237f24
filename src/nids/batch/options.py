"""Options shared by both batch engines and `prepare`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nids.batch.frames import Explain
from nids.data.validation import OnError
from nids.settings import Settings


@dataclass(frozen=True)
class BatchOptions:
    """How an archive is read (batch size, bad input, S3 endpoint) and written."""

    batch_rows: int = 500_000
    on_error: OnError = "fail"
    quarantine_dir: Path | None = None
    s3_endpoint_url: str | None = None
    explain: Explain = "alerts"
    overwrite: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BatchOptions:
        """The options the settings give, with ``overrides`` applied."""
        values: dict[str, Any] = {
            "batch_rows": settings.batch_rows,
            "on_error": settings.on_error,
            "quarantine_dir": settings.quarantine_dir,
            "s3_endpoint_url": settings.s3_endpoint_url,
        }
        return cls(**{**values, **overrides})

    def reader_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`nids.data.iter_flow_batches`."""
        return {
            "batch_rows": self.batch_rows,
            "on_error": self.on_error,
            "quarantine_dir": self.quarantine_dir,
            "s3_endpoint_url": self.s3_endpoint_url,
        }
