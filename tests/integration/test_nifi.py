"""NiFi through the project's NifiHook (connection nifi_default): the REST API answers, the flow
setup_platform deployed runs, and a flow definition can be uploaded and started: messages
produced to a Kafka topic come out as a .txt file."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from embedded import environment
from flightdelay import nifi_flow
from flightdelay.config import NIFI_CONN_ID
from flightdelay_provider.hooks.nifi import NifiHook


@pytest.fixture
def nifi(platform) -> NifiHook:
    return NifiHook(nifi_conn_id=NIFI_CONN_ID)


def test_rest_api_answers(nifi):
    assert nifi.about()["version"].startswith("2.")
    assert nifi.test_connection()[0]
    assert {"ExecuteProcess", "MergeContent", "PutFile", "ExecuteStreamCommand"} <= nifi.processor_types()


def test_platform_flow_is_deployed_and_running(nifi):
    group_id = nifi.find_group(nifi_flow.GROUP_NAME)
    assert group_id is not None, "setup_platform did not deploy the NiFi flow"
    states = nifi.processor_states(group_id)
    assert len(states) == 4 and set(states.values()) == {"RUNNING"}, states


def test_uploaded_flow_writes_kafka_messages_to_txt_files(platform, nifi, unique):
    bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
    topic = f"nifi-selftest-{unique}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    # A folder NiFi's account can write (pytest's tmp_path is private to root).
    out = platform.data / "nifi-out" / f"selftest-{unique}"
    out.mkdir()
    if platform.service_user:
        shutil.chown(out, platform.service_user, platform.service_user)
    parameters = dict(environment.nifi_flow_parameters(platform), **{
        "kafka.topic": topic, "kafka.group.id": f"nifi-test-{unique}", "output.directory": str(out),
        "bin.age": "3 sec",
    })
    flow = nifi_flow.prepare_flow(json.loads(nifi_flow.FLOW_FILE.read_text()), parameters,
                                  context_name=f"test-{unique}")
    group_id = nifi.deploy_flow(flow, group_name=f"test-{unique}")
    try:
        producer = Producer({"bootstrap.servers": bootstrap})
        sent = [json.dumps({"UUID": f"{unique}-{i}", "Prediction": i % 4}) for i in range(20)]
        for line in sent:
            producer.produce(topic, value=line.encode())
        assert producer.flush(10) == 0

        deadline = time.monotonic() + 90
        lines: list[str] = []
        while time.monotonic() < deadline and len(lines) < len(sent):
            time.sleep(1)
            lines = [line for f in sorted(out.glob("*.txt")) for line in f.read_text().splitlines()]
        assert sorted(lines) == sorted(sent)
        assert all(f.suffix == ".txt" for f in out.iterdir())
    finally:
        nifi.delete_group(group_id)
        admin.delete_topics([topic])[topic].result(30)
        shutil.rmtree(out, ignore_errors=True)
    assert nifi.find_group(f"test-{unique}") is None
