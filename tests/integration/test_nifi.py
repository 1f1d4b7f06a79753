"""NiFi: the REST API answers, the platform's flow runs, and a flow definition can be uploaded
and started: messages produced to a Kafka topic come out as a .txt file."""
from __future__ import annotations

import json
import time

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from embedded import platformctl
from flightdelay import nifi_flow


@pytest.fixture
def nifi_url(platform) -> str:
    return f"http://127.0.0.1:{platform.port('NIFI_PORT')}"


def test_rest_api_answers(nifi_url):
    about = requests.get(f"{nifi_url}/nifi-api/flow/about", timeout=30).json()["about"]
    assert about["version"].startswith("2.")
    types = requests.get(f"{nifi_url}/nifi-api/flow/processor-types", timeout=60).json()["processorTypes"]
    names = {t["type"].rsplit(".", 1)[-1] for t in types}
    assert {"ExecuteProcess", "MergeContent", "PutFile", "ExecuteStreamCommand"} <= names


def test_platform_flow_is_deployed_and_running(nifi_url):
    group_id = nifi_flow.find_group(nifi_url, nifi_flow.GROUP_NAME)
    assert group_id is not None, "make run did not deploy the NiFi flow"
    states = nifi_flow.processor_states(nifi_url, group_id)
    assert len(states) == 4 and set(states.values()) == {"RUNNING"}, states


def test_uploaded_flow_writes_kafka_messages_to_txt_files(platform, nifi_url, unique, tmp_path):
    bootstrap = f"127.0.0.1:{platform.port('KAFKA_PORT')}"
    topic = f"nifi-selftest-{unique}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    out = tmp_path / "nifi-out"
    parameters = dict(platformctl.nifi_flow_parameters(platform), **{
        "kafka.topic": topic, "kafka.group.id": f"nifi-test-{unique}", "output.directory": str(out),
        "bin.age": "3 sec",
    })
    flow = nifi_flow.prepare_flow(json.loads(nifi_flow.FLOW_FILE.read_text()), parameters,
                                  context_name=f"test-{unique}")
    group_id = nifi_flow.deploy_flow(nifi_url, flow, group_name=f"test-{unique}")
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
        nifi_flow.delete_group(nifi_url, group_id)
        admin.delete_topics([topic])[topic].result(30)
    assert nifi_flow.find_group(nifi_url, f"test-{unique}") is None
