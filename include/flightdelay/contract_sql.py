"""The request contract (contract.parse_request) as Spark SQL expressions, for Spark's real-time
mode, which refuses Python UDFs. Same rule table (contract.RULES), same JSON reading; the unit
tests hold both validators to one verdict, field by field (docs/design-notes.md).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightdelay import contract
from flightdelay.features import LABEL_NAMES

ISO_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"  # contract.now_iso's format, for date_format
_INTEGER = ("BIGINT", "INT", "SMALLINT", "TINYINT")
_NUMERIC = (*_INTEGER, "DOUBLE", "FLOAT")


def _strip(text: Column) -> Column:
    """Java's \\s is contract.SPACES: the ASCII white space Python's side strips."""
    return F.regexp_replace(text, r"^\s+|\s+$", "")


def _matches(text: Column, field: str) -> Column:
    return text.rlike(f"^(?:{contract.RULES[field].pattern})$")


FIELDS = (*contract.REQUEST_FIELDS, "ReceivedAt")


class _Field:
    """One top-level field of the message: its variant value, JSON type and text if a string
    (columns computed once per row by with_request)."""

    def __init__(self, name: str) -> None:
        self.value, self.kind, text = F.col(f"__x_{name}"), F.col(f"__k_{name}"), F.col(f"__t_{name}")
        self.present = self.value.isNotNull() & (self.kind != F.lit("VOID"))
        self.is_string = self.present & (self.kind == F.lit("STRING"))
        self.text = F.when(self.is_string, text)
        self.numeric = self.present & (self.kind.isin(*_NUMERIC) | self.kind.startswith("DECIMAL"))

    def missing(self) -> Column:
        """None, or a blank string: `is required` for a required field."""
        return ~self.present | (self.is_string & (_strip(self.text) == F.lit("")))

    def absent(self) -> Column:
        """None or exactly "": an optional field left out."""
        return ~self.present | (self.is_string & (self.text == F.lit("")))

    def as_text(self) -> Column:
        """str(value) for a string or an integer (a JSON 12.0 is a float in Python, whose str never
        matches a digits-only pattern); None otherwise."""
        integer = self.present & self.kind.isin(*_INTEGER)
        return F.when(self.is_string, self.text).when(integer, F.try_variant_get(self.value, "$", "string"))


def with_request(frame: DataFrame, value: str = "value", into: str = "r") -> DataFrame:
    """`frame` + column `into`: the message in column `value` (binary) checked against the
    request contract, as a struct of the normalised request fields, UUID, ReceivedAt and `error`
    (the JSON object of the reasons by field, null when valid). The message is parsed once and
    each field looked up once, in projections of their own (no per-rule re-parsing)."""
    staged = frame.withColumn("__request", F.try_parse_json(F.col(value).cast("string")))
    staged = staged.select("*", F.schema_of_variant("__request").alias("__request_kind"),
                           *[F.try_variant_get("__request", f"$.{name}", "variant").alias(f"__x_{name}")
                             for name in FIELDS])
    staged = staged.select("*", *[F.schema_of_variant(f"__x_{name}").alias(f"__k_{name}") for name in FIELDS])
    staged = staged.select("*", *[F.when(F.col(f"__k_{name}") == "STRING",
                                         F.try_variant_get(f"__x_{name}", "$", "string")).alias(f"__t_{name}")
                                  for name in FIELDS])
    checked = staged.withColumn(into, _checked(F.col(value), F.col("__request"), F.col("__request_kind")))
    return checked.drop("__request", "__request_kind", *[f"__{part}_{name}" for part in "xkt" for name in FIELDS])


def _checked(value: Column, raw: Column, raw_kind: Column) -> Column:
    is_object = raw.isNotNull() & raw_kind.startswith("OBJECT")
    message_error = (F.when(value.isNull(), F.lit("is empty"))
                     .when(F.octet_length(value) > contract.MAX_MESSAGE_BYTES,
                           F.lit(f"is larger than {contract.MAX_MESSAGE_BYTES} bytes"))
                     .when(~F.is_valid_utf8(value.cast("string")) | raw.isNull(), F.lit("is not JSON"))
                     .when(~is_object, F.lit("must be a JSON object")))
    f = {name: _Field(name) for name in FIELDS}
    # The reasons in the order contract.validate_fields finds them: every missing required field
    # first, then each field's own check.
    required = {name: f[name].missing() for name in contract.REQUIRED}
    reasons_in_order: list[tuple[str, Column]] = [(name, F.when(missing, F.lit("is required")))
                                                  for name, missing in required.items()]
    errors: dict[str, Column] = {}
    out: dict[str, Column] = {}

    for name in ("Origin", "Dest", "Carrier"):
        code = _strip(f[name].text)
        ok = f[name].is_string & _matches(code, name)
        errors[name] = F.when(~required[name] & ~ok, F.lit(contract.RULES[name].reason))
        out[name] = F.when(ok, F.upper(code))
    errors["Dest differs"] = F.when(out["Origin"].isNotNull() & (out["Origin"] == out["Dest"]),
                                    F.lit("must differ from Origin"))

    day_text = _strip(f["FlightDate"].text)
    day = F.try_to_date(day_text, "yyyy-MM-dd")
    date_ok = f["FlightDate"].is_string & _matches(day_text, "FlightDate") & day.isNotNull()
    errors["FlightDate"] = F.when(~required["FlightDate"] & ~date_ok, F.lit(contract.RULES["FlightDate"].reason))
    out["FlightDate"] = F.when(date_ok, F.date_format(day, "yyyy-MM-dd"))

    delay_field = f["DepDelay"]
    delay_text = _strip(delay_field.text)
    delay = (F.when(delay_field.numeric, F.try_variant_get(delay_field.value, "$", "double"))
             .when(delay_field.is_string & _matches(delay_text, "DepDelay"), delay_text.try_cast("double")))
    low, high = contract.DEP_DELAY_RANGE
    finite = delay.isNotNull() & ~F.isnan(delay) & (F.abs(delay) != F.lit(float("inf")))
    errors["DepDelay"] = (F.when(required["DepDelay"], F.lit(None))
                          .when(~finite, F.lit(contract.RULES["DepDelay"].reason))
                          .when((delay < low) | (delay > high),
                                F.lit(f"must be between {low:g} and {high:g} minutes")))
    out["DepDelay"] = F.when(finite & delay.between(low, high), delay)

    number = f["FlightNum"]
    number_text = _strip(number.as_text())
    number_absent = number.absent()
    number_ok = _matches(number_text, "FlightNum")
    errors["FlightNum"] = F.when(~number_absent & ~F.coalesce(number_ok, F.lit(False)),
                                 F.lit(contract.RULES["FlightNum"].reason))
    out["FlightNum"] = F.when(~number_absent & number_ok, number_text.cast("int").cast("string"))

    dep_time = f["CRSDepTime"]
    time_absent = dep_time.absent()
    time_ok = dep_time.is_string & _matches(_strip(dep_time.text), "CRSDepTime")
    errors["CRSDepTime"] = F.when(~time_absent & ~time_ok, F.lit(contract.RULES["CRSDepTime"].reason))
    out["CRSDepTime"] = F.when(~time_absent & time_ok, _strip(dep_time.text))

    # contract.canonical_uuid: drop "urn:" and "uuid:", braces at the ends and hyphens; 32 hex
    # digits remain, written back lower-case in the 8-4-4-4-12 form.
    uuid_hex = F.lower(F.regexp_replace(F.regexp_replace(
        F.replace(F.replace(f["UUID"].text, F.lit("urn:"), F.lit("")), F.lit("uuid:"), F.lit("")),
        r"^[{}]+|[{}]+$", ""), "-", ""))
    uuid_ok = F.coalesce(f["UUID"].is_string & _matches(uuid_hex, "UUID"), F.lit(False))
    errors["UUID"] = F.when(~uuid_ok, F.lit(contract.RULES["UUID"].reason))
    out["UUID"] = F.when(uuid_ok, F.concat_ws("-", *[F.substring(uuid_hex, start, length) for start, length
                                                     in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]))
    # contract.canonical_timestamp: the pattern, a real calendar day, then UTC with milliseconds
    # (the session's time zone is UTC: prediction_stream.session).
    received_text = f["ReceivedAt"].text
    received = F.when(_matches(received_text, "ReceivedAt"), received_text.try_cast("timestamp"))
    received_ok = F.coalesce(received.isNotNull(), F.lit(False))
    errors["ReceivedAt"] = F.when(f["ReceivedAt"].present & ~received_ok, F.lit(contract.RULES["ReceivedAt"].reason))
    out["ReceivedAt"] = F.when(received_ok, F.date_format(received, ISO_FORMAT))

    reasons_in_order += [(name.split()[0], why) for name, why in errors.items()]
    reasons = F.map_from_entries(F.filter(
        F.array(*[F.struct(F.lit(name).alias("field"), why.cast("string").alias("why"))
                  for name, why in reasons_in_order]),
        lambda entry: entry["why"].isNotNull()))
    # The reasons map goes through a higher-order function, which Spark evaluates interpreted:
    # build it only for a bad request (the compiled test below keeps valid ones off that path).
    any_reason = F.coalesce(*[why for _, why in reasons_in_order]).isNotNull()
    error = (F.when(message_error.isNotNull(), F.to_json(F.create_map(F.lit("message"), message_error)))
             .when(any_reason, F.to_json(reasons)))
    return F.struct(*[out[name].alias(name) for name in FIELDS], error.alias("error"))


def now_iso() -> Column:
    """The wall clock per row as the contract's timestamp (current_timestamp() is fixed per batch,
    and a real-time batch lasts its whole checkpoint interval)."""
    millis = F.call_function("reflect", F.lit("java.lang.System"), F.lit("currentTimeMillis")).cast("bigint")
    return F.date_format(F.timestamp_millis(millis), ISO_FORMAT)


def prediction(request: Column, distance: Column, label: Column, probabilities: Column, model_name: str,
               model_version: str, predicted_at: Column) -> Column:
    """contract.prediction as a JSON string column (request: the struct parse_request made)."""
    labels = F.array(*[F.lit(name) for name in LABEL_NAMES])
    return F.to_json(F.struct(
        *[request[name].alias(name) for name in FIELDS],
        distance.alias("Distance"), label.cast("int").alias("Prediction"),
        F.element_at(labels, label.cast("int") + 1).alias("PredictionLabel"),
        F.transform(probabilities, lambda p: F.bround(p, 6)).alias("Probabilities"),
        F.lit(model_name).alias("ModelName"), F.lit(str(model_version)).alias("ModelVersion"),
        predicted_at.alias("PredictedAt")), {"ignoreNullFields": "false"})


def dead_letter(value: Column, error: Column, topic: Column, partition: Column, offset: Column,
                rejected_at: Column, stage: str = "respond") -> Column:
    """contract.dead_letter as a JSON string column (error: the JSON object parse_request made):
    the original cut to contract.ORIGINAL_CHARS, invalid UTF-8 replaced as Python's decoder does."""
    errors = F.from_json(error, "map<string,string>")
    reason = F.array_join(F.transform(F.map_entries(errors), lambda e: F.concat(e["key"], F.lit(": "), e["value"])),
                          "; ")
    text = F.make_valid_utf8(value.cast("string"))
    return F.to_json(F.struct(F.lit(stage).alias("stage"),
                              F.substring(text, 1, contract.ORIGINAL_CHARS).alias("original"),
                              F.when(value.isNotNull(), F.char_length(text) > contract.ORIGINAL_CHARS)
                              .otherwise(F.lit(False)).alias("original_truncated"),
                              F.octet_length(value).alias("original_bytes"),
                              reason.alias("reason"), errors.alias("errors"),
                              F.struct(topic.alias("topic"), partition.alias("partition"),
                                       offset.alias("offset")).alias("source"),
                              rejected_at.alias("rejected_at")), {"ignoreNullFields": "false"})
