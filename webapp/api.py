"""The prediction API and the WebSocket that pushes each page its own prediction.

    POST /api/predictions         JSON flight -> 400 {"errors": {field: why}} or 202 {"UUID": ...}
    GET  /api/predictions/<uuid>  the stored prediction (MongoDB), or 404 while pending/unknown
    GET  /api/status              {"champion", "stream", "bootstrap", "serving", "message"}
    WS   /ws/predictions          {"type": "ready", "UUID"} -> the page POSTs with that UUID and
                                  sends {"type": "submitted"} -> {"type": "prediction"} or
                                  {"type": "timeout"}; then the next "ready".

The socket subscribes to the UUID before the page can submit it, so the answer cannot arrive
before anyone listens; each socket gets only the prediction of its own UUID.
"""
from __future__ import annotations

import json
import queue
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request, url_for

from flightdelay import contract
from webapp.limits import ADDRESS_FACTOR, client_keys

bp = Blueprint("api", __name__)


def services():
    return current_app.extensions["flightdelay"]


def same_origin() -> bool:
    """CSRF guard: a browser request from another site carries its Origin; refuse it."""
    origin = request.headers.get("Origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == request.host


def errors_response(errors: dict[str, str], status: int = 400):
    return jsonify(errors=errors), status


def limits():
    return current_app.extensions["flightdelay.limits"]


def check_known(fields: dict[str, Any], errors: dict[str, str]) -> None:
    """Codes the model knows (the feature data's reference tables), when those are available."""
    reference = services().reference()
    if reference is None or not reference.airports:
        return
    for field in ("Origin", "Dest"):
        if field in fields and field not in errors and fields[field] not in reference.airports:
            errors[field] = f"unknown airport {fields[field]}"
    if "Carrier" in fields and "Carrier" not in errors and fields["Carrier"] not in reference.carriers:
        errors["Carrier"] = f"unknown carrier {fields['Carrier']}"


def validate(data: Any) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    try:
        fields = contract.validate_fields(data)
    except contract.InvalidRequest as exc:
        errors.update(exc.errors)
        if isinstance(data, dict):  # still check the codes that are well-formed
            fields = {k: str(data[k]).strip().upper() for k in ("Origin", "Dest", "Carrier")
                      if isinstance(data.get(k), str) and k not in errors}
    check_known(fields, errors)
    return fields, errors


@bp.post("/api/predictions")
def create_prediction():
    if not same_origin():
        return errors_response({"Origin": "cross-site requests are not accepted"}, 403)
    client, address = client_keys()
    rate = limits()[0]
    if not (rate.allow(client) and rate.allow(address, ADDRESS_FACTOR)):
        return jsonify(error="too many requests from this client; try again shortly"), 429, {"Retry-After": "1"}
    if not request.is_json:
        return errors_response({"body": "must be JSON (Content-Type: application/json)"})
    body = request.get_data(cache=False)
    if len(body) > contract.MAX_MESSAGE_BYTES:
        return errors_response({"body": f"is larger than {contract.MAX_MESSAGE_BYTES} bytes"})
    try:
        data = contract.loads(body)
    except contract.DuplicateKey as exc:
        return errors_response({exc.key: "is given more than once"})
    except ValueError as exc:  # any parse failure, deep nesting and huge numbers included
        return errors_response({"body": f"is not JSON ({str(exc)[:200]})"})
    if not isinstance(data, dict):
        return errors_response({"body": "must be a JSON object"})
    fields, errors = validate(data)
    request_id = data.get("UUID")
    if request_id is not None and not errors:
        request_id = contract.canonical_uuid(request_id)
        try:
            claimed = request_id is not None and services().router().claim(request_id)
        except Exception as exc:  # the claims store (MongoDB) down: nothing was accepted
            current_app.logger.error("UUID claim not checked: %s", exc)
            return jsonify(error="the prediction service is unavailable, try again shortly"), 503
        if not claimed:
            errors["UUID"] = "was not issued by this server, has expired or was used already (leave it out)"
    if errors:
        return errors_response(errors)
    message = contract.new_request(fields, request_id)
    try:
        services().producer().send(message)
    except Exception as exc:  # Kafka down: say so, nothing was accepted
        current_app.logger.error("request %s not produced: %s", message["UUID"], exc)
        return jsonify(error="the prediction service is unavailable, try again shortly"), 503
    location = url_for("api.get_prediction", request_id=message["UUID"])
    return jsonify(UUID=message["UUID"], status="pending", ReceivedAt=message["ReceivedAt"], href=location), 202, {
        "Location": location}


@bp.get("/api/predictions/<request_id>")
def get_prediction(request_id: str):
    request_id = contract.canonical_uuid(request_id)
    if request_id is None:
        return errors_response({"UUID": "must be a UUID"})
    stored = services().mongo_collection().find_one({"UUID": request_id}, {"_id": 0})
    if stored is None:
        stored = services().router().recent(request_id)
    if stored is None:
        return jsonify(UUID=request_id, status="pending",
                       message="no prediction stored for this UUID yet; try again in a moment"), 404
    return jsonify(stored)


@bp.get("/api/status")
def platform_status():
    """Whether the platform serves: the champion, the stream's heartbeat, the first start's step."""
    try:
        return jsonify(services().status())
    except Exception as exc:  # noqa: BLE001 - HDFS or MLflow down: say so, do not 500
        current_app.logger.warning("status not readable: %s", exc)
        return jsonify(error="the platform's status cannot be read right now", detail=type(exc).__name__), 503


def websocket_predictions(ws) -> None:
    """One page's socket: reserve a UUID, wait for the page to submit it, push its prediction."""
    if not same_origin():
        ws.close(reason=1008, message="cross-site")
        return
    client, address = client_keys()
    sockets = limits()[1]
    if not sockets.acquire(client):
        ws.close(reason=1008, message="too many sockets from this client")
        return
    if not sockets.acquire(address, ADDRESS_FACTOR):
        sockets.release(client)
        ws.close(reason=1008, message="too many sockets from this address")
        return
    try:
        serve_socket(ws)
    finally:
        sockets.release(client)
        sockets.release(address)


def serve_socket(ws) -> None:
    router = services().router()
    timeout = float(current_app.config["PREDICTION_TIMEOUT_SECONDS"])
    idle = float(current_app.config["WEBSOCKET_IDLE_SECONDS"])
    while True:
        request_id = router.reserve()
        waiter = router.subscribe(request_id)
        try:
            ws.send(json.dumps({"type": "ready", "UUID": request_id}))
            while True:
                text = ws.receive(timeout=idle)
                if text is None:
                    return  # idle page: close; it reconnects when used again
                try:
                    message = contract.loads(text[:contract.MAX_MESSAGE_BYTES])
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("type") == "submitted" \
                        and message.get("UUID") == request_id:
                    break
            try:
                record = waiter.get(timeout=timeout)
                ws.send(json.dumps({"type": "prediction", "prediction": record}))
            except queue.Empty:
                ws.send(json.dumps({"type": "timeout", "UUID": request_id, "message": (
                    f"No prediction within {timeout:g} s. It is still being worked on; "
                    f"fetch it later from /api/predictions/{request_id}.")}))
        finally:
            router.unsubscribe(request_id, waiter)
