"""The streaming job in micro-batch mode (prediction_stream DAG, respond_mode=microbatch; the other
tests of this package run the default, real-time mode): requests checked by the Python contract
and answered in Kafka transactions, bad messages dead-lettered with the contract's reasons, every
sink fed once; switching modes on the shared checkpoint answers no request twice."""
from __future__ import annotations

import json

import pytest

from flightdelay import contract
from flightdelay.config import NAMES
from tests.stream.conftest import flight, start_stream_run, stop_stream, stream_in_mode, varied_flights
from tests.stream.test_stream import cassandra, cassandra_counts, exactly_once, mongo, mongo_counts  # noqa: F401
from tests.stream.test_stream import parquet_counts, spark  # noqa: F401

N = 30


@pytest.fixture(scope="module")
def microbatch(stream, airflow_api, kafka):
    """The stream restarted in micro-batch mode on the same checkpoint; back to real-time after."""
    with stream_in_mode(stream, airflow_api, kafka, "microbatch") as run_id:
        yield run_id


def champion_version(name: str) -> str:
    from mlflow import MlflowClient

    return MlflowClient().get_model_version_by_alias(name, "champion").version


def test_microbatch_mode_answers_every_request_once_and_feeds_every_sink(microbatch, stream, kafka, mongo, cassandra,
                                                                         spark):
    requests = varied_flights(N)
    uuids = [r["UUID"] for r in requests]
    kafka.send(requests)

    responses = kafka.responses(uuids)
    version = champion_version(stream["model_name"])
    for request in requests:
        answers = responses[request["UUID"]]
        assert len(answers) == 1, f"answered {len(answers)} times"
        first = answers[0]
        assert {k: first[k] for k in ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay", "FlightNum",
                                      "CRSDepTime")} == {k: request[k] for k in ("Origin", "Dest", "Carrier",
                                                                                 "FlightDate", "DepDelay",
                                                                                 "FlightNum", "CRSDepTime")}
        assert first["PredictionLabel"] and len(first["Probabilities"]) == 4
        assert first["ModelName"] == stream["model_name"] and first["ModelVersion"] == version
        assert first["ReceivedAt"] <= first["PredictedAt"]

    exactly_once(lambda u: mongo_counts(mongo, u), uuids, 120, "MongoDB")
    exactly_once(lambda u: cassandra_counts(cassandra, u), uuids, 120, "Cassandra")
    exactly_once(lambda u: parquet_counts(spark, u), uuids, 180, "HDFS parquet")
    stored = mongo.find_one({"UUID": uuids[0]}, {"_id": 0})
    assert {k: v for k, v in stored.items() if k != "PredictedAt"} == \
        {k: v for k, v in responses[uuids[0]][0].items() if k != "PredictedAt"}


def test_microbatch_mode_dead_letters_with_the_contracts_reasons(microbatch, kafka):
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


def test_switching_modes_answers_no_request_twice(microbatch, stream, airflow_api, kafka):
    before = [flight(DepDelay=float(i)) for i in range(10)]
    kafka.send(before)
    kafka.responses([r["UUID"] for r in before])
    stop_stream(airflow_api)  # the module's fixture switches back to real-time mode at its end
    stream["run_id"] = start_stream_run(airflow_api, kafka, stream["conf"])
    after = [flight(DepDelay=float(i)) for i in range(10)]
    kafka.send(after)

    responses = kafka.responses([r["UUID"] for r in before + after])
    kafka.drain(5)  # a second answer would come right after the restart
    twice = {u: len(kafka.seen["responses"][u]) for u in responses if len(kafka.seen["responses"][u]) != 1}
    assert twice == {}, "answered more than once"
    assert {responses[r["UUID"]][0]["ModelVersion"] for r in after} == {champion_version(stream["model_name"])}
