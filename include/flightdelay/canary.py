"""The canary: one known request sent through the whole serving path, and how each sink is
checked for its prediction (used by the prediction_canary DAG)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flightdelay import contract, kafka_read

# A flight the model has seen routes like: JFK -> LAX on American, 10 minutes late.
CANARY_FIELDS = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-06-14", "DepDelay": 10,
                 "FlightNum": "1", "CRSDepTime": "09:00"}


def canary_request() -> dict[str, Any]:
    return contract.new_request(CANARY_FIELDS)


def matching_response(message, uuid: str) -> dict | None:
    """The prediction of `uuid` in a Kafka message, or None for other messages."""
    try:
        record = json.loads(message.value())
    except (TypeError, ValueError):
        return None
    if isinstance(record, dict) and record.get("UUID") == uuid and "Prediction" in record:
        return record
    return None


def end_offsets(config: dict[str, Any], topic: str) -> dict[str, int]:
    """The end offset of each partition of `topic` now (keys are strings: the dict goes to XCom).
    The answer to a request sent after this call lies at or after these offsets."""
    consumer = kafka_read.reader(config, "prediction-canary")
    try:
        return {str(p): high for p, (_low, high) in kafka_read.watermarks(consumer, topic).items()}
    finally:
        consumer.close()


def find_response(config: dict[str, Any], topic: str, starts: dict[str, int], uuid: str,
                  timeout: float = 120) -> dict | None:
    """The prediction of `uuid` in `topic`, read from the `starts` offsets (end_offsets taken
    before the request was sent) to the topic's current end; None if it is not there yet.

    The provider's AwaitMessageSensor is not used: its trigger starts from the consumer group's
    committed offset (or the topic's beginning) and sleeps poll_interval after every message that
    does not match, so on a topic with traffic it falls behind and never reaches the canary's."""
    from confluent_kafka import TopicPartition

    consumer = kafka_read.reader(config, "prediction-canary")
    try:
        highs = {p: high for p, (_low, high) in kafka_read.watermarks(consumer, topic).items()}
        begin = [TopicPartition(topic, int(p), offset) for p, offset in starts.items() if offset < highs[int(p)]]
        if not begin:
            return None
        ends = {(topic, tp.partition): highs[tp.partition] for tp in begin}
        for message in kafka_read.read_to_end(consumer, begin, ends, timeout):
            found = matching_response(message, uuid)
            if found is not None:
                return found
        return None
    finally:
        consumer.close()


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
