"""The streaming job's settings, typed: the program's command line becomes one StreamOptions."""
from __future__ import annotations

from dataclasses import dataclass

from flightdelay.config import CHAMPION_ALIAS, NAMES
from flightdelay.model_cache import MODEL_CACHE

CHECKPOINTS = "/user/spark/checkpoints/prediction_stream"  # under --hdfs unless --checkpoint-root


@dataclass(frozen=True)
class StreamOptions:
    hdfs: str
    bootstrap_servers: str
    mongo_uri: str
    cassandra_host: str
    cassandra_port: int = 9042
    model_name: str = NAMES.model_name
    alias: str = CHAMPION_ALIAS
    checkpoint_root: str = ""  # "": <hdfs> + CHECKPOINTS
    model_cache: str = ""  # "": <hdfs> + MODEL_CACHE
    model_snapshots: str = ""  # "": <checkpoint_root>/model-snapshots (model_cache.save_snapshot)
    query_prefix: str = ""  # prefix of query names, checkpoints and the transactional id
    respond_mode: str = "realtime"  # or "microbatch"
    realtime_checkpoint: str = "300 seconds"
    respond_trigger: str = "0 seconds"
    store_trigger: str = "1 second"
    archive_trigger: str = "30 seconds"
    max_offsets_per_trigger: int = 20000
    archive_max_offsets: int = 1_000_000  # its own cap: the store's per 30 s trigger held it to 667/s
    model_poll_seconds: float = 5.0
    model_wait_minutes: float = 30.0
    lease_minutes: float = 0.0  # stop cleanly after this long; 0: never

    def __post_init__(self) -> None:
        hdfs = self.hdfs.rstrip("/")
        if not self.model_cache:
            object.__setattr__(self, "model_cache", f"{hdfs}{MODEL_CACHE}")
        if not self.checkpoint_root:
            object.__setattr__(self, "checkpoint_root", f"{hdfs}{CHECKPOINTS}")
        if not self.model_snapshots:
            object.__setattr__(self, "model_snapshots", f"{self.checkpoint_root.rstrip('/')}/model-snapshots")

    def checkpoint(self, query: str) -> str:
        """The checkpoint folder of `query` (respond, store, archive) under this job's prefix."""
        return f"{self.checkpoint_root.rstrip('/')}/{self.query_prefix or 'default'}/{query}"

    def query_name(self, query: str) -> str:
        return f"{self.query_prefix}{query}"
