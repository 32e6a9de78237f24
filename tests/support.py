"""Constants and helpers shared by tests in every folder.

Import as ``from support import ...`` (``tests/`` is on ``sys.path`` through its
conftest). Several folders have their own ``conftest.py``; importing constants from
``conftest`` would get whichever of them Python loaded first.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI lays shared/ beside the clone; NIDS_SHARED_DIR points elsewhere when needed.
SHARED_DATA = Path(os.environ.get("NIDS_SHARED_DIR", REPO_ROOT.parent / "shared")) / "data"
ZEEK_008 = SHARED_DATA / "stratosphere-zeek" / "008-zeek-mixed.conn.log.labeled"
ZEEK_010 = SHARED_DATA / "stratosphere-zeek" / "010-zeek-mixed.conn.log.labeled"


def free_port() -> int:
    """A TCP port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
