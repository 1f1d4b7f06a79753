"""The request and prediction contracts (ARCHITECTURE.md, "Contracts"), as pure functions.

One validator serves the web app (400 with each bad field named) and the streaming job (a bad
Kafka message goes to the dead-letter topic with the same reasons), so the two cannot disagree
on what a valid request is. Unknown airports and carriers are checked by the web app against
the feature data; the stream predicts any well-formed code (the model has an unknown bucket).
"""
from __future__ import annotations

import json
import re
import uuid as uuidlib
from datetime import date, datetime, timezone
from typing import Any

from flightdelay.features import LABEL_NAMES

REQUIRED = ("Origin", "Dest", "Carrier", "FlightDate", "DepDelay")
OPTIONAL = ("FlightNum", "CRSDepTime")
DEP_DELAY_RANGE = (-120.0, 2000.0)  # minutes: an hour or two early up to a day and a half late
MAX_MESSAGE_BYTES = 4096

_AIRPORT = re.compile(r"^[A-Za-z0-9]{3}$")
_CARRIER = re.compile(r"^[A-Za-z0-9]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_FLIGHT_NUM = re.compile(r"^\d{1,4}$")


class InvalidRequest(ValueError):
    """A request that breaks the contract; `errors` maps each bad field to why."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {why}" for field, why in errors.items()))
        self.errors = errors


def now_iso() -> str:
    """UTC now as ISO 8601 with milliseconds and a Z, the contract's timestamp format."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate_fields(data: Any) -> dict[str, Any]:
    """The flight fields of a request -> their normalised values; raises InvalidRequest naming
    every bad field. Codes are upper-cased, DepDelay becomes a float, empty optionals None."""
    if not isinstance(data, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for field in REQUIRED:
        value = data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[field] = "is required"
    for field, pattern, what in (("Origin", _AIRPORT, "a 3-letter airport code"),
                                 ("Dest", _AIRPORT, "a 3-letter airport code"),
                                 ("Carrier", _CARRIER, "a 2-character carrier code")):
        value = data.get(field)
        if field in errors:
            continue
        if not isinstance(value, str) or not pattern.match(value.strip()):
            errors[field] = f"must be {what}"
        else:
            out[field] = value.strip().upper()
    if "Origin" in out and out.get("Origin") == out.get("Dest"):
        errors["Dest"] = "must differ from Origin"
    if "FlightDate" not in errors:
        value = data["FlightDate"]
        try:
            if not isinstance(value, str) or not _DATE.match(value.strip()):
                raise ValueError
            out["FlightDate"] = date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            errors["FlightDate"] = "must be a date YYYY-MM-DD"
    if "DepDelay" not in errors:
        value = data["DepDelay"]
        delay = None
        if not isinstance(value, bool):
            try:
                delay = float(value)
            except (TypeError, ValueError):
                delay = None
        if delay is None or delay != delay or delay in (float("inf"), float("-inf")):
            errors["DepDelay"] = "must be a number of minutes"
        elif not DEP_DELAY_RANGE[0] <= delay <= DEP_DELAY_RANGE[1]:
            errors["DepDelay"] = f"must be between {DEP_DELAY_RANGE[0]:g} and {DEP_DELAY_RANGE[1]:g} minutes"
        else:
            out["DepDelay"] = delay
    flight_num = data.get("FlightNum")
    if flight_num in (None, ""):
        out["FlightNum"] = None
    elif isinstance(flight_num, bool) or not _FLIGHT_NUM.match(str(flight_num).strip()):
        errors["FlightNum"] = "must be a flight number of 1 to 4 digits"
    else:
        out["FlightNum"] = str(int(str(flight_num).strip()))
    dep_time = data.get("CRSDepTime")
    if dep_time in (None, ""):
        out["CRSDepTime"] = None
    elif not isinstance(dep_time, str) or not _TIME.match(dep_time.strip()):
        errors["CRSDepTime"] = "must be a time HH:MM (24 h)"
    else:
        out["CRSDepTime"] = dep_time.strip()
    if errors:
        raise InvalidRequest(errors)
    return out


def new_request(fields: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    """A request message: validated fields + UUID + ReceivedAt."""
    return {**validate_fields(fields), "UUID": request_id or str(uuidlib.uuid4()), "ReceivedAt": now_iso()}


def parse_request(raw: bytes | str | None) -> dict[str, Any]:
    """A Kafka request message -> the request dict; raises InvalidRequest with the reasons."""
    if raw is None:
        raise InvalidRequest({"message": "is empty"})
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidRequest({"message": f"is larger than {MAX_MESSAGE_BYTES} bytes"})
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest({"message": f"is not JSON ({exc})"}) from None
    if not isinstance(data, dict):
        raise InvalidRequest({"message": "must be a JSON object"})
    errors: dict[str, str] = {}
    try:
        fields = validate_fields(data)
    except InvalidRequest as exc:
        errors.update(exc.errors)
        fields = {}
    request_id = data.get("UUID")
    try:
        if not isinstance(request_id, str):
            raise ValueError
        uuidlib.UUID(request_id)
    except ValueError:
        errors["UUID"] = "must be a UUID string"
    received = data.get("ReceivedAt")
    if received is not None:
        try:
            datetime.fromisoformat(str(received).replace("Z", "+00:00"))
        except ValueError:
            errors["ReceivedAt"] = "must be an ISO 8601 timestamp"
    if errors:
        raise InvalidRequest(errors)
    return {**fields, "UUID": request_id, "ReceivedAt": received}


def dead_letter(raw: bytes | None, error: InvalidRequest, topic: str, partition: int, offset: int) -> dict[str, Any]:
    """The dead-letter record of a bad message: the original text, the reasons and where it came from."""
    text = None if raw is None else raw.decode("utf-8", errors="replace")
    return {"original": text, "reason": str(error), "errors": error.errors,
            "source": {"topic": topic, "partition": partition, "offset": offset}, "rejected_at": now_iso()}


def prediction(request: dict[str, Any], label: int, probabilities: list[float], distance: float | None,
               model_name: str, model_version: str, predicted_at: str | None = None) -> dict[str, Any]:
    """A prediction record: the request fields + Prediction, its label, probabilities, model, timestamps."""
    return {
        **{k: request.get(k) for k in (*REQUIRED, *OPTIONAL, "UUID", "ReceivedAt")},
        "Distance": distance,
        "Prediction": int(label),
        "PredictionLabel": LABEL_NAMES[int(label)],
        "Probabilities": [round(float(p), 6) for p in probabilities],
        "ModelName": model_name,
        "ModelVersion": str(model_version),
        "PredictedAt": predicted_at or now_iso(),
    }
