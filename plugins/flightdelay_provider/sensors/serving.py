"""Sensors of the serving path, for the checks no provider sensor makes: a prediction in the
response topic (read from given offsets: AwaitMessageSensor falls behind on a busy topic), in
the day's parquet files in HDFS, and in NiFi's .txt files. The reading code is in
flightdelay.canary, shared with the tests."""
from __future__ import annotations

import json
from typing import Any, Sequence

from airflow.sdk import BaseHook, BaseSensorOperator


class KafkaResponseSensor(BaseSensorOperator):
    """The record keyed `uuid` in `topic`, read from `offsets` ({"partition": offset}) on."""

    template_fields: Sequence[str] = ("uuid", "offsets")

    def __init__(self, *, topic: str, uuid: str, offsets: Any, kafka_config_id: str = "kafka_default",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic, self.uuid, self.offsets, self.kafka_config_id = topic, uuid, offsets, kafka_config_id

    def poke(self, context) -> bool:
        from flightdelay.canary import find_response

        offsets = self.offsets if isinstance(self.offsets, dict) else json.loads(self.offsets)
        config = BaseHook.get_connection(self.kafka_config_id).extra_dejson
        return find_response(config, self.topic, offsets, self.uuid) is not None


class ParquetRecordSensor(BaseSensorOperator):
    """A row with UUID `uuid` in the parquet files under HDFS `folder` (over WebHDFS)."""

    template_fields: Sequence[str] = ("folder", "uuid")

    def __init__(self, *, folder: str, uuid: str, webhdfs_conn_id: str = "webhdfs_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder, self.uuid, self.webhdfs_conn_id = folder, uuid, webhdfs_conn_id

    def poke(self, context) -> bool:
        from airflow.providers.apache.hdfs.hooks.webhdfs import WebHDFSHook

        from flightdelay.canary import parquet_has

        return parquet_has(WebHDFSHook(webhdfs_conn_id=self.webhdfs_conn_id).get_conn(), self.folder, self.uuid)


class TextFilesSensor(BaseSensorOperator):
    """`uuid` in one of the .txt files NiFi writes into the local `folder`."""

    template_fields: Sequence[str] = ("folder", "uuid")

    def __init__(self, *, folder: str, uuid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder, self.uuid = folder, uuid

    def poke(self, context) -> bool:
        from pathlib import Path

        from flightdelay.canary import text_files_have

        return text_files_have(Path(self.folder), self.uuid)
