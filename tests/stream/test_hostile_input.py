"""Hostile input against the running stream, in both respond modes: the messages that once stopped
serving, plus a Hypothesis corpus of JSON and raw bytes, then valid requests. Every message gets
exactly one outcome (a prediction, or a dead letter with its reason that fits in Kafka), every
valid request reaches every sink, and the stream's task never fails. Then: records the store
refuses, forged replay headers at a restart, and a champion whose artifact is broken."""
from __future__ import annotations

import json
import uuid

import pytest

from flightdelay import contract, replay
from flightdelay.config import NAMES
from tests.stream.conftest import Kafka, flight, stream_in_mode, task_tries, wait_until
from tests.stream.test_stream import cassandra, cassandra_counts, exactly_once, mongo, mongo_counts  # noqa: F401
from tests.stream.test_stream import parquet_counts, spark  # noqa: F401
from tests.unit.test_contract_property import generated, messages

CORPUS_SIZE = 1500  # generated messages per mode, beside the named ones
DEAD_LETTER_LIMIT = 64 * 1024  # a dead letter is a few KB whatever the message


def named_messages() -> dict[str, bytes]:
    """The messages of the issue that stopped serving or disagreed between the two validators."""
    good = flight()
    body = json.dumps(good)
    return {
        "200 KB of control bytes": bytes(range(32)) * 6400,
        "900 KB of text": b"x" * 900_000,
        "ReceivedAt is a year": json.dumps(flight(ReceivedAt="2024")).encode(),
        "ReceivedAt without padding": json.dumps(flight(ReceivedAt="2024-1-1")).encode(),
        "ReceivedAt with a zone name": json.dumps(flight(ReceivedAt="2024-01-01T10:00:00 Europe/Paris")).encode(),
        "FlightDate in year 0": json.dumps(flight(FlightDate="0000-01-01")).encode(),
        "nested 1001 deep": json.dumps(flight(Extra=json.loads("[" * 1000 + "]" * 1000))).encode(),
        "DepDelay of 300 digits": body.replace('"DepDelay": 12.0', '"DepDelay": ' + "9" * 300).encode(),
        "DepDelay of 1001 digits": body.replace('"DepDelay": 12.0', '"DepDelay": ' + "9" * 1001).encode(),
        "Arabic-Indic digits": json.dumps(flight(CRSDepTime="\u0660\u0668:\u0663\u0660")).encode(),
        "duplicate key": body.replace('{"UUID"', '{"Origin": "EWR", "UUID"').encode(),
        "NaN literal": body.replace('"DepDelay": 12.0', '"DepDelay": NaN').encode(),
        "invalid UTF-8": body.replace('"Carrier": "AA"', '"Carrier": "A\udcff"').encode("utf-8", "surrogateescape"),
        "upper-case braced UUID": json.dumps(flight(UUID="{" + str(uuid.uuid4()).upper() + "}")).encode(),
        "empty": b"",
    }


class Outcomes(Kafka):
    """Produces raw messages, remembering each one's offset, and collects the outcome records
    (responses and dead letters) by the request offset their header names."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(bootstrap)
        self.sent: dict[tuple[int, int], bytes] = {}
        self.outcomes: dict[tuple[int, int], list[tuple[str, dict, int]]] = {}
        self.store_letters: list[dict] = []

    def send_raw(self, raws: list[bytes], topic: str = NAMES.request_topic, headers=None) -> list[tuple[int, int]]:
        offsets: list[tuple[int, int]] = []

        def delivered(error, message, raw=None):
            assert error is None, error
            offsets.append((message.partition(), message.offset()))
            self.sent[(message.partition(), message.offset())] = raw

        for raw in raws:
            self.producer.produce(topic, value=raw, headers=headers,
                                  on_delivery=lambda e, m, raw=raw: delivered(e, m, raw))
            self.producer.poll(0)
        assert self.producer.flush(60) == 0
        return offsets

    def take(self, message, record: dict) -> None:
        if record.get("stage") == "store":
            self.store_letters.append(record)
            return
        named = [replay.parse_header(v) for k, v in message.headers() or () if k == replay.REQUEST_HEADER]
        if named and named[0] is not None:
            self.outcomes.setdefault(named[0], []).append((message.topic(), record, len(message.value())))

    def wait_for(self, offsets: list[tuple[int, int]], timeout: float) -> None:
        def all_in() -> bool:
            self.drain()
            return all(o in self.outcomes for o in offsets)

        wait_until(all_in, timeout, f"an outcome for each of {len(offsets)} messages", interval=0)
        self.drain(3)  # a second outcome of any of them would come now


@pytest.fixture(scope="module")
def outcomes(platform):
    client = Outcomes(f"127.0.0.1:{platform.port('KAFKA_PORT')}")
    yield client
    client.close()


def check_one_outcome_each(outcomes: Outcomes, offsets: list[tuple[int, int]]) -> int:
    """Each message: one outcome; a prediction iff the Python contract accepts it; a dead letter
    with reasons, its source and a bounded original. Returns how many were answered."""
    answered = 0
    problems = []
    for offset in offsets:
        raw, found = outcomes.sent[offset], outcomes.outcomes[offset]
        if len(found) != 1:
            problems.append((offset, raw[:120], f"{len(found)} outcomes"))
            continue
        topic, record, size = found[0]
        try:
            request = contract.parse_request(raw)
        except contract.InvalidRequest as exc:
            request, errors = None, exc.errors
        if request is not None:
            answered += 1
            if topic != NAMES.response_topic or record["UUID"] != request["UUID"]:
                problems.append((offset, raw[:120], f"valid, but {topic}: {record}"))
        elif topic != NAMES.dlq_topic or not record.get("reason") or set(record["errors"]) != set(errors) \
                or record["source"]["offset"] != offset[1] or record["source"]["partition"] != offset[0] \
                or size > DEAD_LETTER_LIMIT or record["stage"] != "respond":
            problems.append((offset, raw[:120], f"expected a dead letter for {errors}, got {topic}: "
                                                f"{json.dumps(record)[:300]} ({size} bytes)"))
    assert not problems, f"{len(problems)} of {len(offsets)} messages: {problems[:5]}"
    return answered


def hostile_round(outcomes: Outcomes, airflow_api, run_id: str, mongo, cassandra, spark) -> None:
    corpus = list(named_messages().values()) + generated(messages, CORPUS_SIZE)
    offsets = outcomes.send_raw(corpus)
    valid = [flight(DepDelay=float(i)) for i in range(10)]
    valid_offsets = outcomes.send_raw([json.dumps(v).encode() for v in valid])
    outcomes.wait_for(offsets + valid_offsets, 300)

    answered = check_one_outcome_each(outcomes, offsets + valid_offsets)
    assert answered >= len(valid) + 20  # the corpus held valid requests too
    uuids = [v["UUID"] for v in valid]
    exactly_once(lambda u: mongo_counts(mongo, u), uuids, 120, "MongoDB")
    exactly_once(lambda u: cassandra_counts(cassandra, u), uuids, 120, "Cassandra")
    exactly_once(lambda u: parquet_counts(spark, u), uuids, 180, "HDFS parquet")
    assert task_tries(airflow_api, run_id) == 1, "the stream's task failed an attempt"


def test_realtime_mode_gives_every_hostile_message_one_outcome(stream, outcomes, airflow_api, mongo, cassandra,
                                                               spark):
    hostile_round(outcomes, airflow_api, stream["run_id"], mongo, cassandra, spark)


def test_records_the_store_refuses_are_dead_lettered_and_the_batch_goes_on(stream, outcomes, airflow_api, mongo,
                                                                          cassandra, spark):
    """Foreign records on the response topic (a ReceivedAt Python cannot read, an upper-case UUID,
    not JSON): each a dead letter of stage store; the predictions beside them are stored."""
    valid = flight()
    answer = {**valid, "Distance": 100.0, "Prediction": 1, "PredictionLabel": "x", "Probabilities": [1, 0, 0, 0],
              "ModelName": "m", "ModelVersion": "1", "PredictedAt": "2026-01-01T00:00:00.000Z",
              "ReceivedAt": "2026-01-01T00:00:00.000Z", "DepDelay": 1.0}
    forged = [{**answer, "UUID": str(uuid.uuid4()), "ReceivedAt": "2024"},
              {**answer, "UUID": str(uuid.uuid4()).upper()}]
    outcomes.send_raw([json.dumps(f).encode() for f in forged] + [b"not json"], topic=NAMES.response_topic)
    good = [flight() for _ in range(5)]
    offsets = outcomes.send_raw([json.dumps(g).encode() for g in good])
    outcomes.wait_for(offsets, 120)

    def letters():
        outcomes.drain()
        uuids = {letter.get("UUID") for letter in outcomes.store_letters}
        return all(f["UUID"] in uuids for f in forged) and any(
            letter["original"] == "not json" for letter in outcomes.store_letters)

    wait_until(letters, 120, "the store stage's dead letters", interval=0)
    for letter in outcomes.store_letters:
        assert letter["sink"] and letter["error"] and letter["source"]["topic"] == NAMES.response_topic
    exactly_once(lambda u: mongo_counts(mongo, u), [g["UUID"] for g in good], 120, "MongoDB")
    exactly_once(lambda u: cassandra_counts(cassandra, u), [g["UUID"] for g in good], 120, "Cassandra")
    assert not mongo_counts(mongo, [f["UUID"] for f in forged])
    assert task_tries(airflow_api, stream["run_id"]) == 1


@pytest.fixture(scope="module")
def microbatch_after_forged_headers(stream, airflow_api, kafka, outcomes):
    """Forged request-offset headers on the response topic, then a restart in micro-batch mode.
    While the stream is down, a request is sent and a record claims to answer it (a header naming
    its offset, the wrong key): the replay guard must not trust it, so the request is answered
    after the restart. Yields (run id, that request's offset). Back to real-time after."""
    for value in (b"abc", b"0:not-a-number", b"\xff\xfe", b"1:2:3"):
        outcomes.send_raw([b'{"forged": true}'], topic=NAMES.response_topic, headers=[(replay.REQUEST_HEADER, value)])
    target = {}

    def send_and_forge_its_answer() -> None:
        request = flight()
        (offset,) = outcomes.send_raw([json.dumps(request).encode()])
        target["offset"], target["UUID"] = offset, request["UUID"]
        outcomes.send_raw([json.dumps({"UUID": str(uuid.uuid4()), "Prediction": 1}).encode()],
                          topic=NAMES.response_topic,
                          headers=[(replay.REQUEST_HEADER, "{}:{}".format(*offset).encode())])

    with stream_in_mode(stream, airflow_api, kafka, "microbatch", while_stopped=send_and_forge_its_answer) as run_id:
        yield run_id, target


def test_a_forged_answer_does_not_skip_its_request(microbatch_after_forged_headers, outcomes):
    _, target = microbatch_after_forged_headers

    def answered() -> bool:
        outcomes.drain()
        return any(record.get("UUID") == target["UUID"] for _, record, _ in outcomes.outcomes.get(target["offset"], []))

    wait_until(answered, 120, "the answer to the request a forged record claimed", interval=0)


def test_microbatch_mode_after_forged_headers_gives_every_hostile_message_one_outcome(
        microbatch_after_forged_headers, outcomes, airflow_api, mongo, cassandra, spark):
    hostile_round(outcomes, airflow_api, microbatch_after_forged_headers[0], mongo, cassandra, spark)


def test_a_champion_with_a_broken_artifact_leaves_the_old_version_serving(stream, outcomes):
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    name = stream["model_name"]
    serving = client.get_model_version_by_alias(name, "champion").version
    with mlflow.start_run(run_name="broken-artifact") as run:
        mlflow.log_text("flavors:\n  spark:\n    model_data: missing\n", "model/MLmodel")
    broken = client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id).version
    client.set_registered_model_alias(name, "champion", broken)
    try:
        wait_until(lambda: "rejected_reason" in client.get_model_version(name, broken).tags, 120,
                   f"version {broken} to be tagged rejected_reason", interval=2)
        requests = [flight() for _ in range(5)]
        offsets = outcomes.send_raw([json.dumps(r).encode() for r in requests])
        outcomes.wait_for(offsets, 120)
        versions = {outcomes.outcomes[o][0][1]["ModelVersion"] for o in offsets}
        assert versions == {serving}
    finally:
        client.set_registered_model_alias(name, "champion", serving)
