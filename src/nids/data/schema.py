"""The canonical flow schema: the one definition every reader, feature and service uses.

A flow is one bidirectional conversation as a sensor reports it. ``src`` is the
originator (the side that sent the first packet; Zeek's ``orig``, NetFlow's ``IN``/
source side), ``dst`` the responder.

| column | type | unit / values |
|---|---|---|
| ``ts`` | timestamp[us, UTC] | flow start time |
| ``duration`` | float64 | seconds, >= 0 |
| ``src_ip`` / ``dst_ip`` | string | IPv4 or IPv6 address, canonical text form |
| ``src_port`` / ``dst_port`` | int32 | 0-65535; 0 for protocols without ports (ICMP type/code are not ports) |
| ``proto`` | string | transport protocol, lower-case IANA keyword (``tcp``, ``udp``, ``icmp``, ``ipv6-icmp``, ``sctp``) or the protocol number as text |
| ``src_bytes`` / ``dst_bytes`` | int64 | bytes sent by originator / responder at the IP layer (headers included) where the source has them, else payload bytes |
| ``src_pkts`` / ``dst_pkts`` | int64 | packets sent by originator / responder, >= 0 |
| ``tcp_flags`` | int16, nullable | cumulative OR of TCP flags seen (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128) |
| ``conn_state`` | string, nullable | Zeek connection state (``S0``, ``SF``, ``REJ``, ``RSTO``, ...); readers derive it from flags when the source has none |
| ``service`` | string, nullable | application protocol detected by the sensor (``dns``, ``http``, ``ssl``, ...) |
| ``label`` | string, nullable | ground truth: ``benign``, ``malicious`` or ``unknown`` |
| ``attack_type`` | string, nullable | attack family for malicious flows (``portscan``, ``ddos``, ...) or the source's detailed label |
| ``community_id`` | string | Community ID v1 flow hash (seed 0) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

TIMESTAMP = pa.timestamp("us", tz="UTC")

FLOW_SCHEMA = pa.schema(
    [
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("duration", pa.float64(), nullable=False),
        pa.field("src_ip", pa.string(), nullable=False),
        pa.field("src_port", pa.int32(), nullable=False),
        pa.field("dst_ip", pa.string(), nullable=False),
        pa.field("dst_port", pa.int32(), nullable=False),
        pa.field("proto", pa.string(), nullable=False),
        pa.field("src_bytes", pa.int64(), nullable=False),
        pa.field("dst_bytes", pa.int64(), nullable=False),
        pa.field("src_pkts", pa.int64(), nullable=False),
        pa.field("dst_pkts", pa.int64(), nullable=False),
        pa.field("tcp_flags", pa.int16(), nullable=True),
        pa.field("conn_state", pa.string(), nullable=True),
        pa.field("service", pa.string(), nullable=True),
        pa.field("label", pa.string(), nullable=True),
        pa.field("attack_type", pa.string(), nullable=True),
        pa.field("community_id", pa.string(), nullable=False),
    ]
)

COLUMNS: list[str] = FLOW_SCHEMA.names
#: Columns a flow must have; the rest may be absent (filled with nulls / derived).
REQUIRED_COLUMNS: list[str] = [
    "ts",
    "duration",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "proto",
    "src_bytes",
    "dst_bytes",
    "src_pkts",
    "dst_pkts",
]
#: Columns that carry ground truth; never model inputs.
LABEL_COLUMNS: list[str] = ["label", "attack_type"]
#: Columns a model takes as input (what the service accepts per flow).
INPUT_COLUMNS: list[str] = [c for c in COLUMNS if c not in LABEL_COLUMNS]

LABEL_BENIGN = "benign"
LABEL_MALICIOUS = "malicious"
LABEL_UNKNOWN = "unknown"
LABELS = (LABEL_BENIGN, LABEL_MALICIOUS, LABEL_UNKNOWN)

# IANA protocol numbers for the keywords we emit.
PROTO_NUMBERS: dict[str, int] = {
    "icmp": 1,
    "igmp": 2,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ipv6-icmp": 58,
    "sctp": 132,
}
PROTO_NAMES: dict[int, str] = {v: k for k, v in PROTO_NUMBERS.items()}
# Spellings other tools use for the same protocols.
PROTO_ALIASES: dict[str, str] = {
    "icmp6": "ipv6-icmp",
    "icmpv6": "ipv6-icmp",
    "ipv6_icmp": "ipv6-icmp",
}

# TCP flag bits.
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 1, 2, 4, 8, 16, 32, 64, 128


def normalise_proto(value: object) -> str:
    """Map a protocol given as keyword or number to the canonical keyword."""
    text = str(value).strip().lower()
    if text.isdigit():
        number = int(text)
        return PROTO_NAMES.get(number, text)
    return PROTO_ALIASES.get(text, text)


def proto_number(proto: str) -> int | None:
    """IANA number of a canonical protocol keyword (or numeric text), if known."""
    if proto.isdigit():
        return int(proto)
    return PROTO_NUMBERS.get(proto)


def table_to_frame(table: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """A ``FLOW_SCHEMA`` table (or batch) as the canonical DataFrame: Arrow's own
    conversion, except that the nullable int16 ``tcp_flags`` stays a nullable integer
    (``Int16``) instead of becoming float."""
    import pandas as pd

    return table.to_pandas(types_mapper={pa.int16(): pd.Int16Dtype()}.get)
