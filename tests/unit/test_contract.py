"""The request/prediction contract, the CQL splitter and the canary matcher (pure functions)."""
from __future__ import annotations

import json
import uuid

import pytest

from flightdelay import canary, contract, sinks

VALID = {"Origin": "jfk", "Dest": "LAX", "Carrier": "aa", "FlightDate": "2013-03-14", "DepDelay": "12",
         "FlightNum": "0017", "CRSDepTime": "08:30"}


def test_valid_fields_are_normalised():
    assert contract.validate_fields(VALID) == {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA",
                                               "FlightDate": "2013-03-14", "DepDelay": 12.0, "FlightNum": "17",
                                               "CRSDepTime": "08:30"}


def test_optional_fields_may_be_missing_or_empty():
    fields = contract.validate_fields({**VALID, "FlightNum": "", "CRSDepTime": None})
    assert fields["FlightNum"] is None and fields["CRSDepTime"] is None


@pytest.mark.parametrize("change, field, why", [
    ({"Origin": None}, "Origin", "is required"),
    ({"Origin": "JFKX"}, "Origin", "3-letter airport code"),
    ({"Dest": "JFK"}, "Dest", "must differ from Origin"),
    ({"Carrier": "AAA"}, "Carrier", "2-character carrier code"),
    ({"FlightDate": "2013-02-30"}, "FlightDate", "must be a date"),
    ({"FlightDate": "14/03/2013"}, "FlightDate", "must be a date"),
    ({"DepDelay": "soon"}, "DepDelay", "must be a number"),
    ({"DepDelay": True}, "DepDelay", "must be a number"),
    ({"DepDelay": float("nan")}, "DepDelay", "must be a number"),
    ({"DepDelay": 5000}, "DepDelay", "between -120 and 1800"),
    ({"FlightNum": "12345"}, "FlightNum", "1 to 4 digits"),
    ({"CRSDepTime": "25:00"}, "CRSDepTime", "HH:MM"),
])
def test_each_bad_field_is_named_with_why(change, field, why):
    with pytest.raises(contract.InvalidRequest) as caught:
        contract.validate_fields({**VALID, **change})
    assert why in caught.value.errors[field]


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(contract.InvalidRequest) as caught:
        contract.validate_fields({"Origin": "X", "Carrier": "", "DepDelay": "x"})
    assert set(caught.value.errors) == {"Origin", "Dest", "Carrier", "FlightDate", "DepDelay"}


def test_parse_request_accepts_a_request_message():
    message = contract.new_request(VALID)
    parsed = contract.parse_request(json.dumps(message).encode())
    assert parsed["UUID"] == message["UUID"] and parsed["Origin"] == "JFK"


@pytest.mark.parametrize("raw, field", [
    (b"{not json", "message"), (b"[1, 2]", "message"), (None, "message"), (b"x" * 5000, "message"),
    (json.dumps({**VALID, "UUID": "nope"}).encode(), "UUID"),
    (json.dumps({**VALID, "UUID": str(uuid.uuid4()), "ReceivedAt": "yesterday"}).encode(), "ReceivedAt"),
])
def test_parse_request_rejects_bad_messages(raw, field):
    with pytest.raises(contract.InvalidRequest) as caught:
        contract.parse_request(raw)
    assert field in caught.value.errors


def test_dead_letter_keeps_the_original_and_the_reasons():
    error = contract.InvalidRequest({"Dest": "is required"})
    letter = contract.dead_letter(b'{"a": 1}', error, "flight-delay-ml-request", 1, 42)
    assert letter["original"] == '{"a": 1}' and letter["reason"] == "Dest: is required"
    assert letter["source"] == {"topic": "flight-delay-ml-request", "partition": 1, "offset": 42}


def test_prediction_record_carries_label_model_and_timestamps():
    request = contract.new_request(VALID)
    record = contract.prediction(request, 3, [0.1, 0.2, 0.3, 0.4], 2475.0, "flight_delay_rf", 7)
    assert record["PredictionLabel"] == "very late (30+ min)" and record["ModelVersion"] == "7"
    assert record["UUID"] == request["UUID"] and record["ReceivedAt"] <= record["PredictedAt"]


def test_cql_statements_split_and_rename_the_keyspace():
    statements = sinks.cql_statements(sinks.CQL_FILE.read_text(), "other_ks")
    assert len(statements) == 3 and all("other_ks." in s or "KEYSPACE IF NOT EXISTS other_ks" in s
                                        for s in statements)
    assert not any("--" in s for s in statements)
    with pytest.raises(ValueError):
        sinks.cql_statements("", "bad; DROP")


def test_cassandra_row_types():
    record = contract.prediction(contract.new_request(VALID), 1, [0.1, 0.6, 0.2, 0.1], None, "m", "2")
    row = sinks.cassandra_row(record)
    assert str(row[4]) == "2013-03-14" and row[9] == 1 and row[14].tzinfo is not None


class _Message:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value


def test_canary_matches_only_its_own_prediction():
    record = {"UUID": "u1", "Prediction": 2}
    assert canary.matching_response(_Message(json.dumps(record).encode()), "u1") == record
    assert canary.matching_response(_Message(json.dumps(record).encode()), "u2") is None
    assert canary.matching_response(_Message(b"not json"), "u1") is None


def test_dead_letter_of_a_huge_message_is_bounded():
    raw = bytes(range(32)) * 6400  # 200 KB of control bytes: their JSON escapes are 6 bytes each
    letter = contract.dead_letter(raw, contract.InvalidRequest({"message": "is larger than 4096 bytes"}), "t", 0, 1)
    assert letter["original_truncated"] and letter["original_bytes"] == len(raw)
    assert len(json.dumps(letter)) < 10 * contract.ORIGINAL_CHARS


def test_uuids_and_timestamps_leave_in_one_form():
    canonical = "6f1c5a52-3d7e-4d0c-9a8e-2c6b7f0e9d11"
    for spelling in (canonical.upper(), "{" + canonical + "}", "urn:uuid:" + canonical, canonical.replace("-", "")):
        assert contract.canonical_uuid(spelling) == canonical
    assert contract.canonical_uuid("\u0661" * 32) is None
    assert contract.canonical_timestamp("2024-01-01T10:00:00.5+05:30") == "2024-01-01T04:30:00.500Z"
    for bad in ("2024", "2024-1-1T10:00:00Z", "2024-01-01T10:00:00", "2024-02-30T10:00:00Z", 2024):
        assert contract.canonical_timestamp(bad) is None


def test_sinks_refuse_what_is_not_a_prediction_in_normal_form():
    record = contract.prediction(contract.parse_request(json.dumps(
        {**VALID, "UUID": str(uuid.uuid4()), "ReceivedAt": "2026-01-01T00:00:00.000Z"}).encode()),
        1, [0.1, 0.6, 0.2, 0.1], 100.0, "m", "2")
    assert sinks.refusal(record) is None
    assert "ReceivedAt" in sinks.refusal({**record, "ReceivedAt": "2024"})
    assert "UUID" in sinks.refusal({**record, "UUID": record["UUID"].upper()})
    assert "not a prediction record" in sinks.refusal({**record, "FlightDate": "0000-01-01"})
    assert sinks.refusal([1, 2]) == "is not a JSON object"
