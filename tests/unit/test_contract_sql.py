"""The SQL statement of the request contract gives the same verdict as the Python one, message by
message: the same normalised fields for a valid request, the same fields named (and the same
reasons) for a bad one."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from flightdelay import contract, contract_sql

GOOD = {"UUID": "6f1c5a52-3d7e-4d0c-9a8e-2c6b7f0e9d11", "Origin": "jfk", "Dest": "LAX", "Carrier": "aa",
        "FlightDate": "2013-03-14", "DepDelay": 12, "FlightNum": 17, "CRSDepTime": "08:30",
        "ReceivedAt": "2026-11-29T10:00:00.123Z"}


def message(**change) -> bytes:
    body = {**GOOD, **change}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode("utf-8", "surrogatepass")


MESSAGES = {
    "valid": message(),
    "valid, strings and spaces": message(DepDelay=" -7.5 ", FlightNum="0042", Origin=" ewr ", CRSDepTime=""),
    "valid, optional fields absent": message(FlightNum=..., CRSDepTime=..., ReceivedAt=...),
    "valid, exponent delay and braced uuid": message(DepDelay="1e2", UUID="{" + str(uuid.UUID(int=7)) + "}"),
    "valid, delay at the bounds": message(DepDelay=contract.DEP_DELAY_RANGE[1]),
    "valid, uuid without hyphens": message(UUID=uuid.UUID(int=99).hex),
    "empty": None,
    "not JSON": b"{not json",
    "a JSON array": b"[1, 2]",
    "a JSON string": b'"hello"',
    "too large": message(Padding="x" * contract.MAX_MESSAGE_BYTES),
    "required missing": message(Origin=..., DepDelay=...),
    "required blank": message(Carrier="  ", FlightDate=""),
    "required null": message(Dest=None),
    "numeric airport": message(Origin=123),
    "numeric carrier": message(Carrier=12),
    "long airport": message(Dest="LAXX"),
    "same airports": message(Dest="JFK"),
    "same airports, different case": message(Origin="lax", Dest=" LAX"),
    "impossible date": message(FlightDate="2013-02-30"),
    "date in another format": message(FlightDate="14/03/2013"),
    "date as a number": message(FlightDate=20130314),
    "delay as words": message(DepDelay="soon"),
    "delay as a boolean": message(DepDelay=True),
    "delay as NaN string": message(DepDelay="NaN"),
    "delay as infinity string": message(DepDelay="inf"),
    "delay as an object": message(DepDelay={"minutes": 5}),
    "delay too large": message(DepDelay=5000),
    "delay too early": message(DepDelay="-121"),
    "flight number too long": message(FlightNum="12345"),
    "flight number fractional": message(FlightNum=12.0),
    "flight number boolean": message(FlightNum=False),
    "flight number blank": message(FlightNum=" "),
    "time out of range": message(CRSDepTime="25:00"),
    "time as a number": message(CRSDepTime=830),
    "uuid missing": message(UUID=...),
    "uuid not a uuid": message(UUID="abc"),
    "uuid as a number": message(UUID=12345),
    "received not a timestamp": message(ReceivedAt="yesterday"),
    "received a boolean": message(ReceivedAt=True),
    "valid, urn uuid in upper case": message(UUID="urn:uuid:" + str(uuid.UUID(int=5)).upper()),
    "valid, received with an offset": message(ReceivedAt="2024-01-01T10:00:00.5+05:30"),
    "valid, text after the object": message() + b" trailing words",
    "valid, nested 1000 deep": message(Extra=json.loads("[" * 999 + "]" * 999)),
    "received only a year": message(ReceivedAt="2024"),
    "received without zero padding": message(ReceivedAt="2024-1-1T10:00:00Z"),
    "received with a zone name": message(ReceivedAt="2024-01-01T10:00:00 Europe/Paris"),
    "received without a zone": message(ReceivedAt="2024-01-01T10:00:00"),
    "received on February 30": message(ReceivedAt="2024-02-30T10:00:00Z"),
    "received as a number": message(ReceivedAt=2024),
    "flight date in year 0": message(FlightDate="0000-01-01"),
    "arabic-indic digits": message(CRSDepTime="\u0660\u0668:\u0663\u0660", DepDelay="\u0661\u0662",
                                   FlightNum="\u0661\u0662"),
    "no-break space around a code": message(Origin="\u00a0JFK"),
    "delay of hundreds of digits": message(DepDelay=int("9" * 300)),
    "delay of 400 digits": message(DepDelay=int("9" * 400)),
    "delay of 1001 digits": message().replace(b'"DepDelay": 12', b'"DepDelay": ' + b"1" * 1001),
    "delay as a hex float": message(DepDelay="0x1p3"),
    "delay with a type suffix": message(DepDelay="1d"),
    "delay with underscores": message(DepDelay="1_0"),
    "nested 1001 deep": message(Extra=json.loads("[" * 1000 + "]" * 1000)),
    "duplicate key": message().replace(b'{"UUID"', b'{"Origin": "EWR", "UUID"'),
    "NaN literal": message().replace(b'"DepDelay": 12', b'"DepDelay": NaN'),
    "lone surrogate": message(Extra="\ud800"),
    "invalid UTF-8": message(Extra="x").replace(b'"x"', b'"\xff"'),
    "a UTF-8 byte order mark": b"\xef\xbb\xbf" + message(),
    "control bytes, 200 KB": bytes(range(32)) * 6400,
    "everything wrong": json.dumps({"Origin": 1, "Dest": "", "Carrier": "A", "FlightDate": "x", "DepDelay": "y",
                                    "FlightNum": "z", "CRSDepTime": "w", "UUID": 5}).encode(),
}


def python_verdict(raw):
    try:
        request = contract.parse_request(raw)
    except contract.InvalidRequest as exc:
        return None, exc.errors
    return request, None


@pytest.fixture(scope="module")
def sql_verdicts(local_spark):
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("case", T.StringType()), T.StructField("value", T.BinaryType())])
    frame = local_spark.createDataFrame([(name, raw) for name, raw in MESSAGES.items()], schema)
    rows = contract_sql.with_request(frame).select("case", "r").collect()
    return {row.case: row.r.asDict() for row in rows}


@pytest.mark.parametrize("case", list(MESSAGES))
def test_sql_contract_agrees_with_python(case, sql_verdicts):
    request, errors = python_verdict(MESSAGES[case])
    verdict = sql_verdicts[case]
    sql_errors = json.loads(verdict.pop("error")) if verdict["error"] else None
    if errors is None:
        assert sql_errors is None, f"{case}: SQL rejects a request Python accepts: {sql_errors}"
        assert verdict == {**{k: None for k in verdict}, **request}
    else:
        assert sql_errors is not None, f"{case}: SQL accepts a message Python rejects: {errors}"
        if "message" in errors:  # the parser's own words differ; the verdict is the same
            assert list(sql_errors) == ["message"]
        else:
            assert sql_errors == errors


def test_the_cases_cover_both_verdicts():
    verdicts = [python_verdict(raw)[1] is None for raw in MESSAGES.values()]
    assert verdicts.count(True) >= 5 and verdicts.count(False) >= 30


def test_sql_prediction_and_dead_letter_records_match_python(local_spark):
    from pyspark.sql import functions as F

    bad = MESSAGES["everything wrong"]
    frame = local_spark.createDataFrame([(MESSAGES["valid, strings and spaces"], 811.0, 2.0, [0.1, 0.2, 0.6, 0.1]),
                                         (bad, None, 0.0, [1.0, 0.0, 0.0, 0.0])],
                                        "value binary, Distance double, prediction double, probability array<double>")
    parsed = contract_sql.with_request(frame)
    stamp = F.lit("2026-11-29T10:00:01.000Z")
    rows = parsed.select(
        contract_sql.prediction(F.col("r"), F.col("Distance"), F.col("prediction"), F.col("probability"),
                                "flight_delay_rf", "7", stamp).alias("prediction"),
        contract_sql.dead_letter(F.col("value"), F.col("r.error"), F.lit("flight-delay-ml-request"), F.lit(1),
                                 F.lit(42).cast("bigint"), stamp).alias("dead_letter"),
        contract_sql.now_iso().alias("now")).collect()

    request = contract.parse_request(MESSAGES["valid, strings and spaces"])
    assert json.loads(rows[0].prediction) == contract.prediction(request, 2, [0.1, 0.2, 0.6, 0.1], 811.0,
                                                                 "flight_delay_rf", "7", "2026-11-29T10:00:01.000Z")
    with pytest.raises(contract.InvalidRequest) as rejected:
        contract.parse_request(bad)
    expected = contract.dead_letter(bad, rejected.value, "flight-delay-ml-request", 1, 42)
    assert json.loads(rows[1].dead_letter) == {**expected, "rejected_at": "2026-11-29T10:00:01.000Z"}
    clock = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (rows[0].now, contract.now_iso())]
    assert abs((clock[1] - clock[0]).total_seconds()) < 60  # the per-row clock is the UTC wall clock
