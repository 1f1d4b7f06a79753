"""The streaming job in Spark's real-time mode (prediction_stream DAG, respond_mode=realtime):
requests answered through the Kafka sink by the SQL statement of the contract and the same
model, bad messages dead-lettered with the Python contract's reasons, every sink fed. Answers are
at-least-once in this mode: a request replayed after a restart gets a second, equal answer. No
restart happens within these tests, so every sink holds each request once."""
from __future__ import annotations

import json

import pytest

from flightdelay import contract
from flightdelay.config import NAMES
from tests.stream.conftest import flight, start_stream_run, stop_stream, varied_flights
from tests.stream.test_stream import cassandra, cassandra_counts, exactly_once, mongo, mongo_counts  # noqa: F401
from tests.stream.test_stream import parquet_counts, spark  # noqa: F401

N = 30


@pytest.fixture(scope="module")
def realtime(stream, airflow_api, kafka):
    """The stream restarted in real-time mode on the same checkpoint; back to micro-batch after."""
    stop_stream(airflow_api)
    try:
        yield start_stream_run(airflow_api, kafka, {**stream["conf"], "respond_mode": "realtime"})
    finally:
        stop_stream(airflow_api)
        stream["run_id"] = start_stream_run(airflow_api, kafka, stream["conf"])


def champion_version(name: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient().get_model_version_by_alias(name, "champion").version


def test_realtime_mode_answers_every_request_and_feeds_every_sink(realtime, stream, kafka, mongo, cassandra, spark):
    requests = varied_flights(N)
    uuids = [r["UUID"] for r in requests]
    kafka.send(requests)

    responses = kafka.responses(uuids)
    version = champion_version(stream["model_name"])
    for request in requests:
        answers = responses[request["UUID"]]
        first = answers[0]
        assert {k: first[k] for k in ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay", "FlightNum",
                                      "CRSDepTime")} == {k: request[k] for k in ("Origin", "Dest", "Carrier",
                                                                                 "FlightDate", "DepDelay",
                                                                                 "FlightNum", "CRSDepTime")}
        assert first["PredictionLabel"] and len(first["Probabilities"]) == 4
        assert first["ModelName"] == stream["model_name"] and first["ModelVersion"] == version
        assert first["ReceivedAt"] <= first["PredictedAt"]
        # a replayed request (at-least-once) gets the same answer
        assert {(a["Prediction"], tuple(a["Probabilities"])) for a in answers} == \
            {(first["Prediction"], tuple(first["Probabilities"]))}

    exactly_once(lambda u: mongo_counts(mongo, u), uuids, 120, "MongoDB")
    exactly_once(lambda u: cassandra_counts(cassandra, u), uuids, 120, "Cassandra")
    exactly_once(lambda u: parquet_counts(spark, u), uuids, 180, "HDFS parquet")
    stored = mongo.find_one({"UUID": uuids[0]}, {"_id": 0})
    assert {k: v for k, v in stored.items() if k != "PredictedAt"} == \
        {k: v for k, v in responses[uuids[0]][0].items() if k != "PredictedAt"}


def test_realtime_mode_dead_letters_with_the_contracts_reasons(realtime, kafka):
    before, after = flight(), flight()
    bad = [
        json.dumps({k: v for k, v in flight().items() if k != "Dest"}),
        json.dumps(flight(DepDelay="soon", Carrier="AAA")),
        json.dumps(flight(FlightDate="2013-02-30", CRSDepTime="25:00")),
        json.dumps({k: v for k, v in flight().items() if k != "UUID"}),
        json.dumps(flight(Origin=123)),
    ]
    kafka.send([before, *bad, after, "{not json"])

    letters = kafka.dead_letters([*bad, "{not json"])
    for original in bad:
        with pytest.raises(contract.InvalidRequest) as expected:
            contract.parse_request(original.encode())
        record = letters[original][0]
        assert record["errors"] == expected.value.errors and record["reason"] == str(expected.value)
        assert record["original"] == original and record["source"]["topic"] == NAMES.request_topic
    assert list(letters["{not json"][0]["errors"]) == ["message"]
    kafka.responses([before["UUID"], after["UUID"]])
