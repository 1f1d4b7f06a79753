"""The canary: one known request sent through the whole serving path, and how each sink is
checked for its prediction (used by the prediction_canary DAG)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flightdelay import contract

# A flight the model has seen routes like: JFK -> LAX on American, 10 minutes late.
CANARY_FIELDS = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-14", "DepDelay": 10,
                 "FlightNum": "1", "CRSDepTime": "09:00"}


def canary_request() -> dict[str, Any]:
    return contract.new_request(CANARY_FIELDS)


def matching_response(message, uuid: str) -> dict | None:
    """AwaitMessageSensor apply_function: the prediction of `uuid`, or None for other messages."""
    try:
        record = json.loads(message.value())
    except (TypeError, ValueError):
        return None
    if isinstance(record, dict) and record.get("UUID") == uuid and "Prediction" in record:
        return record
    return None


def parquet_has(client, folder: str, uuid: str) -> bool:
    """True if a parquet file under `folder` (a WebHDFS client's path) holds the UUID."""
    import io

    import pyarrow.parquet as pq

    if client.status(folder, strict=False) is None:
        return False
    for name in client.list(folder):
        if not name.endswith(".parquet"):
            continue
        with client.read(f"{folder}/{name}") as reader:
            table = pq.read_table(io.BytesIO(reader.read()), columns=["UUID"])
        if uuid in set(table.column("UUID").to_pylist()):
            return True
    return False


def text_files_have(folder: Path, uuid: str) -> bool:
    """True if a NiFi output file (.txt, one prediction per line) holds the UUID."""
    return any(uuid in path.read_text(errors="replace") for path in Path(folder).glob("*.txt"))
