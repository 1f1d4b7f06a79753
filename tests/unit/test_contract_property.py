"""Property: the Python and the Spark SQL validators give the same verdict on generated messages
(Hypothesis): JSON objects whose fields mix valid values, near misses and arbitrary JSON, and
raw bytes: a corpus of a few thousand, checked in one Spark job."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flightdelay import contract, contract_sql
from tests.unit.test_contract_sql import GOOD, python_verdict

TRICKY_TEXT = ["", " ", "\u00a0", "\t12\n", "\u0661\u0662", "\uff11\uff12", "1_0", "0x1p3", "1d", "NaN", "-inf",
               "1e400", "2024", "2024-1-1", "0000-01-01", "2013-02-29", "2012-02-29", "24:00", "23:59", "JFK ",
               "j\u0130k", "\u212a", "ǅ", "urn:uuid:" + GOOD["UUID"], "{" + GOOD["UUID"].upper() + "}",
               GOOD["UUID"].replace("-", ""), GOOD["UUID"][:-1] + "g", "2024-01-01T10:00:00Z",
               "2024-01-01T10:00:00.1234567Z", "2024-01-01T10:00:00+24:00", "2024-01-01t10:00:00z",
               "2024-01-01 10:00:00Z", "1900-01-01T00:00:00+01:00", "99", "0017", "-5", "+5", ".5", "5.",
               "1e3", "1E+3", "2000.0000001", "-120", "-120.5"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
                         st.integers(min_value=-10**400, max_value=10**400),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                         st.sampled_from(TRICKY_TEXT))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(st.text(max_size=4), inner,
                                                                                  max_size=3)), max_leaves=6)
field_value = st.one_of(json_scalars, json_values, st.sampled_from(TRICKY_TEXT))


@st.composite
def objects(draw) -> bytes:
    body = {}
    for name, good in GOOD.items():
        choice = draw(st.integers(0, 9))
        if choice < 5:
            body[name] = good
        elif choice < 9:
            body[name] = draw(field_value)
    for key in draw(st.lists(st.text(max_size=6), max_size=2)):
        body[key] = draw(field_value)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def mangled(draw) -> bytes:
    """A valid message with a few bytes replaced, inserted or cut off."""
    raw = bytearray(json.dumps(GOOD).encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(raw) - 1))
        raw[at:at + draw(st.integers(0, 2))] = draw(st.binary(max_size=3))
    return bytes(raw)


messages = st.one_of(objects(), objects(), objects(), mangled(), st.binary(max_size=64),
                     st.builds(lambda v: json.dumps(v).encode(), json_values))


def generated(strategy, count: int) -> list:
    """`count` examples of `strategy` drawn by Hypothesis's generator (no shrinking: the whole
    corpus is checked in one Spark job, and a failure prints the messages that differ)."""
    corpus: list = []

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example) -> None:
        corpus.append(example)

    collect()
    return corpus


def test_both_validators_give_one_verdict(local_spark):
    corpus = generated(messages, 3000)
    frame = local_spark.createDataFrame([(i, raw) for i, raw in enumerate(corpus)], "i int, value binary")
    verdicts = {row.i: row.r.asDict() for row in contract_sql.with_request(frame).select("i", "r").collect()}
    disagreements = []
    for i, raw in enumerate(corpus):
        request, errors = python_verdict(raw)
        sql = verdicts[i]
        sql_errors = json.loads(sql.pop("error")) if sql["error"] else None
        if errors is None:
            same = sql_errors is None and sql == {**{k: None for k in sql}, **request}
        elif "message" in errors:
            same = sql_errors is not None and list(sql_errors) == ["message"]
        else:
            same = sql_errors == errors
        if not same:
            disagreements.append((raw[:300], errors or request, sql_errors or sql))
    assert not disagreements, f"{len(disagreements)} of {len(corpus)} differ, e.g. {disagreements[:3]}"
    assert sum(python_verdict(raw)[1] is None for raw in corpus) > 50  # the corpus holds valid requests too


def test_python_validator_never_raises_anything_else():
    """The contract's own exception, whatever the bytes (deep nesting, huge numbers included)."""
    for raw in [b"[" * 3000, b'{"DepDelay": ' + b"9" * 3000 + b"}", b'{"a":' * 800 + b"1" + b"}" * 800,
                "{\"Origin\": \"\u0661\u0662\u0663\"}".encode(), b"\x00" * 4000]:
        try:
            contract.parse_request(raw)
        except contract.InvalidRequest:
            pass
