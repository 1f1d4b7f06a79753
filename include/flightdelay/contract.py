"""The request and prediction contracts (ARCHITECTURE.md, "Contracts"), as pure functions.

One validator serves the web app (400 with each bad field named) and the streaming job (a bad
Kafka message goes to the dead-letter topic with the same reasons), so the two cannot disagree
on what a valid request is. Unknown airports and carriers are checked by the web app against
the feature data; the stream predicts any well-formed code (the model has an unknown bucket).
"""
from __future__ import annotations

import json
import re
import sys
import uuid as uuidlib
from datetime import date, datetime, timezone
from typing import Any, NamedTuple

from flightdelay.features import LABEL_NAMES

REQUIRED = ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay")
OPTIONAL = ("FlightNum", "CRSDepTime")
REQUEST_FIELDS = ("UUID", *REQUIRED, *OPTIONAL)  # a checked request, besides ReceivedAt
# The record fields that are not strings, by Spark SQL type (the stream's schemas derive from it).
FIELD_TYPES = {"DepDelay": "double", "Distance": "double", "Prediction": "int", "Probabilities": "array<double>"}
DEP_DELAY_RANGE = (-120.0, 1800.0)  # minutes; training keeps the same range, so no request lies beyond it
MAX_MESSAGE_BYTES = 4096
MAX_DEPTH = 1000  # nesting of arrays and objects, and digits of a number: Jackson's limits
MAX_NUMBER_DIGITS = 1000
ORIGINAL_CHARS = 1000  # a dead letter keeps this much of the message (a 1 MB message fits nowhere)
SPACES = " \t\n\r\x0b\x0c"  # the ASCII white space, what Java's \s strips too


class Rule(NamedTuple):
    """A field's rule: the stripped text must match `pattern` (ASCII, the same in Python and Java)."""
    pattern: str
    reason: str

    def matches(self, text: str) -> bool:
        return re.fullmatch(self.pattern, text, re.ASCII) is not None


# The rule table, read by this validator and by contract_sql's: written once, so they agree.
_YEAR = "(19|20)[0-9]{2}"
RULES = {
    "Origin": Rule("[A-Za-z0-9]{3}", "must be a 3-letter airport code"),
    "Dest": Rule("[A-Za-z0-9]{3}", "must be a 3-letter airport code"),
    "Carrier": Rule("[A-Za-z0-9]{2}", "must be a 2-character carrier code"),
    "FlightDate": Rule(f"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}", "must be a date YYYY-MM-DD"),
    "DepDelay": Rule(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", "must be a number of minutes"),
    "FlightNum": Rule("[0-9]{1,4}", "must be a flight number of 1 to 4 digits"),
    "CRSDepTime": Rule("([01][0-9]|2[0-3]):[0-5][0-9]", "must be a time HH:MM (24 h)"),
    # the 32 hex digits left once "urn:", "uuid:", outer braces and hyphens are dropped
    "UUID": Rule("[0-9a-fA-F]{32}", "must be a UUID string"),
    "ReceivedAt": Rule(f"{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                       r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])", "must be an ISO 8601 timestamp"),
}


class InvalidRequest(ValueError):
    """A request that breaks the contract; `errors` maps each bad field to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {why}" for field, why in errors.items()))
        self.errors = errors


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds and a Z, the contract's timestamp format."""
    return iso(datetime.now(timezone.utc))


def iso(moment: datetime) -> str:
    """A timestamp in the contract's one form: UTC, milliseconds, Z."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strip(value: str) -> str:
    return value.strip(SPACES)


# What canonical_uuid and canonical_timestamp return: the normal form every sink can rely on.
CANONICAL_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CANONICAL_TIMESTAMP = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"


def canonical_uuid(value: Any) -> str | None:
    """A UUID in any spelling uuid.UUID reads (braces, urn:uuid:, no hyphens, upper case) ->
    its canonical lower-case form; None if it is not one. ASCII hex only."""
    if not isinstance(value, str):
        return None
    digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    if not RULES["UUID"].matches(digits):
        return None
    digits = digits.lower()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def canonical_timestamp(value: Any) -> str | None:
    """An ISO 8601 timestamp with a zone (RULES["ReceivedAt"]) -> the contract's form; else None."""
    if not isinstance(value, str) or not RULES["ReceivedAt"].matches(value):
        return None
    try:
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:  # a day the calendar has not (February 30)
        return None


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(parse):
    def checked(text: str):
        if sum(c.isdigit() for c in text) > MAX_NUMBER_DIGITS:
            raise ValueError(f"a number of more than {MAX_NUMBER_DIGITS} digits")
        return parse(text)
    return checked


def depth(data: Any) -> int:
    """How deeply the lists and dicts of a parsed JSON value nest (0 for a scalar); iterative."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            todo.extend((item, level + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


# A message of MAX_MESSAGE_BYTES nests at most half that deep: room for the C parser's recursion.
sys.setrecursionlimit(max(sys.getrecursionlimit(), MAX_MESSAGE_BYTES + 1000))
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                            parse_int=_number(int), parse_float=_number(float))


def loads(raw: bytes | str) -> Any:
    """JSON as Spark's parser (Jackson) reads it, so that both validators see the same messages:
    UTF-8 only; no NaN/Infinity, duplicate key (DuplicateKey names it), lone surrogate, number
    of more than MAX_NUMBER_DIGITS digits or nesting deeper than MAX_DEPTH; text after the first
    value is ignored. Any failure is a ValueError."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    start = len(text) - len(text.lstrip(" \t\n\r"))
    data, _ = _DECODER.raw_decode(text, start)
    if depth(data) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError: a lone surrogate
    return data


def _delay(value: Any) -> float | None:
    """DepDelay as a float (inf for a number too large), None if it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = _strip(value)
        if not RULES["DepDelay"].matches(value):
            return None
    elif not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        return float("inf")


def validate_fields(data: Any) -> dict[str, Any]:
    """The flight fields of a request -> their normalised values; raises InvalidRequest naming
    every bad field. Codes are upper-cased, DepDelay becomes a float, empty optionals None."""
    if not isinstance(data, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for field in REQUIRED:
        value = data.get(field)
        if value is None or (isinstance(value, str) and not _strip(value)):
            errors[field] = "is required"
    for field in ("Origin", "Dest", "Carrier"):
        value = data.get(field)
        if field in errors:
            continue
        if not isinstance(value, str) or not RULES[field].matches(_strip(value)):
            errors[field] = RULES[field].reason
        else:
            out[field] = _strip(value).upper()
    if "Origin" in out and out.get("Origin") == out.get("Dest"):
        errors["Dest"] = "must differ from Origin"
    if "FlightDate" not in errors:
        value = data["FlightDate"]
        try:
            if not isinstance(value, str) or not RULES["FlightDate"].matches(_strip(value)):
                raise ValueError
            out["FlightDate"] = date.fromisoformat(_strip(value)).isoformat()
        except ValueError:
            errors["FlightDate"] = RULES["FlightDate"].reason
    if "DepDelay" not in errors:
        delay = _delay(data["DepDelay"])
        if delay is None or delay != delay or delay in (float("inf"), float("-inf")):
            errors["DepDelay"] = RULES["DepDelay"].reason
        elif not DEP_DELAY_RANGE[0] <= delay <= DEP_DELAY_RANGE[1]:
            errors["DepDelay"] = f"must be between {DEP_DELAY_RANGE[0]:g} and {DEP_DELAY_RANGE[1]:g} minutes"
        else:
            out["DepDelay"] = delay
    flight_num = data.get("FlightNum")
    if flight_num in (None, ""):
        out["FlightNum"] = None
    elif isinstance(flight_num, bool) or not isinstance(flight_num, (str, int)) \
            or not RULES["FlightNum"].matches(_strip(str(flight_num))):
        errors["FlightNum"] = RULES["FlightNum"].reason
    else:
        out["FlightNum"] = str(int(_strip(str(flight_num))))
    dep_time = data.get("CRSDepTime")
    if dep_time in (None, ""):
        out["CRSDepTime"] = None
    elif not isinstance(dep_time, str) or not RULES["CRSDepTime"].matches(_strip(dep_time)):
        errors["CRSDepTime"] = RULES["CRSDepTime"].reason
    else:
        out["CRSDepTime"] = _strip(dep_time)
    if errors:
        raise InvalidRequest(errors)
    return out


def new_request(fields: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    """A request message: validated fields + canonical UUID + ReceivedAt."""
    return {**validate_fields(fields), "UUID": canonical_uuid(request_id) if request_id else str(uuidlib.uuid4()),
            "ReceivedAt": now_iso()}


def parse_request(raw: bytes | str | None) -> dict[str, Any]:
    """A Kafka request message -> the request dict in normal form (canonical UUID, UTC
    ReceivedAt); raises InvalidRequest with the reasons. Never raises anything else."""
    if raw is None:
        raise InvalidRequest({"message": "is empty"})
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidRequest({"message": f"is larger than {MAX_MESSAGE_BYTES} bytes"})
    try:
        data = loads(raw)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidRequest({"message": f"is not JSON ({exc})"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest({"message": "must be a JSON object"})
    errors: dict[str, str] = {}
    try:
        fields = validate_fields(data)
    except InvalidRequest as exc:
        errors.update(exc.errors)
        fields = {}
    request_id = canonical_uuid(data.get("UUID"))
    if request_id is None:
        errors["UUID"] = RULES["UUID"].reason
    received = data.get("ReceivedAt")
    if received is not None:
        received = canonical_timestamp(received)
        if received is None:
            errors["ReceivedAt"] = RULES["ReceivedAt"].reason
    if errors:
        raise InvalidRequest(errors)
    return {**fields, "UUID": request_id, "ReceivedAt": received}


def dead_letter(raw: bytes | None, error: InvalidRequest, topic: str, partition: int, offset: int,
                stage: str = "respond") -> dict[str, Any]:
    """The dead-letter record of a bad message: the reasons, where it came from and the start of
    the original text (ORIGINAL_CHARS, `original_truncated` says if it was cut)."""
    text = None if raw is None else raw.decode("utf-8", errors="replace")
    return {"stage": stage, "original": None if text is None else text[:ORIGINAL_CHARS],
            "original_truncated": text is not None and len(text) > ORIGINAL_CHARS,
            "original_bytes": None if raw is None else len(raw), "reason": str(error), "errors": error.errors,
            "source": {"topic": topic, "partition": partition, "offset": offset}, "rejected_at": now_iso()}


PREDICTION_FIELDS = (*REQUEST_FIELDS, "ReceivedAt", "Distance", "Prediction", "PredictionLabel", "Probabilities",
                     "ModelName", "ModelVersion", "PredictedAt")


def prediction(request: dict[str, Any], label: int, probabilities: list[float], distance: float | None,
               model_name: str, model_version: str, predicted_at: str | None = None) -> dict[str, Any]:
    """A prediction record: the request fields + Prediction, its label, probabilities, model, timestamps."""
    return {
        **{k: request.get(k) for k in (*REQUEST_FIELDS, "ReceivedAt")},
        "Distance": distance,
        "Prediction": int(label),
        "PredictionLabel": LABEL_NAMES[int(label)],
        "Probabilities": [round(float(p), 6) for p in probabilities],
        "ModelName": model_name,
        "ModelVersion": str(model_version),
        "PredictedAt": predicted_at or now_iso(),
    }
