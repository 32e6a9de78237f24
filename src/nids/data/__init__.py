"""Flow data: the canonical schema, readers, validation, writing and summaries.

Names are re-exported lazily so ``import nids.data`` stays cheap (no pyarrow/pandas work
until a reader is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nids._lazy import lazy_exports

if TYPE_CHECKING:
    from nids.data.io import ingest as ingest
    from nids.data.io import write_flows as write_flows
    from nids.data.readers import ReadReport as ReadReport
    from nids.data.readers import iter_flow_batches as iter_flow_batches
    from nids.data.readers import read_flows as read_flows
    from nids.data.readers import read_flows_report as read_flows_report
    from nids.data.readers import validate_source as validate_source
    from nids.data.validation import validate_flows as validate_flows

_EXPORTS = {
    "read_flows": "nids.data.readers",
    "read_flows_report": "nids.data.readers",
    "iter_flow_batches": "nids.data.readers",
    "validate_source": "nids.data.readers",
    "ReadReport": "nids.data.readers",
    "validate_flows": "nids.data.validation",
    "write_flows": "nids.data.io",
    "ingest": "nids.data.io",
}

__all__ = [
    "ReadReport",
    "ingest",
    "iter_flow_batches",
    "read_flows",
    "read_flows_report",
    "validate_flows",
    "validate_source",
    "write_flows",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
