"""Flask web app of the flight-delay platform (flaskr shape: `create_app` + blueprints).

Served by gunicorn (threads; WebSockets through flask-sock) on 127.0.0.1:5001 under `make run`.
Config: defaults here, then FLIGHTDELAY_* environment variables (FLIGHTDELAY_KAFKA_BOOTSTRAP_SERVERS
-> KAFKA_BOOTSTRAP_SERVERS, ...), then `test_config`.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping

from flask import Flask, jsonify, render_template, request
from flask_sock import Sock
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from flightdelay.config import NAMES


class Services:
    """Kafka, MongoDB and the reference tables, created on first use (one of each per process)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._router = self._producer = self._mongo = self._reference = None
        self._status = None

    def router(self):
        with self._lock:
            if self._router is None:
                from webapp.kafka_bridge import ResponseRouter

                secret = self.config["SECRET_KEY"]
                secret = secret.encode() if isinstance(secret, str) else secret
                lifetime = float(self.config["RESERVATION_SECONDS"])
                claims = None
                if self.config["SHARED_CLAIMS"]:
                    from webapp.claims import COLLECTION, MongoClaims

                    claims = MongoClaims(self._mongo_client()[NAMES.mongo_database][COLLECTION], lifetime)
                self._router = ResponseRouter(self.config["KAFKA_BOOTSTRAP_SERVERS"], NAMES.response_topic,
                                              secret, reservation_s=lifetime, claims=claims).start()
            return self._router

    def _mongo_client(self):
        if self._mongo is None:
            from pymongo import MongoClient

            self._mongo = MongoClient(self.config["MONGO_URI"], serverSelectionTimeoutMS=5000)
        return self._mongo

    def producer(self):
        with self._lock:
            if self._producer is None:
                from webapp.kafka_bridge import RequestProducer

                self._producer = RequestProducer(self.config["KAFKA_BOOTSTRAP_SERVERS"], NAMES.request_topic)
            return self._producer

    def mongo_collection(self):
        with self._lock:
            return self._mongo_client()[NAMES.mongo_database][NAMES.mongo_collection]

    def status(self) -> dict[str, Any]:
        """The platform's serving status (flightdelay.serving_status), at most STATUS_CACHE_SECONDS old."""
        import time

        with self._lock:
            cached = self._status
            if cached and time.monotonic() - cached[0] < float(self.config["STATUS_CACHE_SECONDS"]):
                return cached[1]
        from hdfs import InsecureClient

        from flightdelay.serving_status import Registry, read_status

        status = read_status(InsecureClient(self.config["WEBHDFS_URL"], user="spark", timeout=10),
                             Registry(), NAMES.model_name)
        with self._lock:
            self._status = (time.monotonic(), status)
        return status

    def reference(self):
        if self.config.get("KNOWN_AIRPORTS") is not None:  # given in config (tests, air-gapped demos)
            from types import SimpleNamespace

            return SimpleNamespace(airports=dict(self.config["KNOWN_AIRPORTS"]),
                                   carriers=dict(self.config["KNOWN_CARRIERS"]))
        with self._lock:
            if self._reference is None:
                from webapp.reference import Reference

                self._reference = Reference(self.config["WEBHDFS_URL"])
        return self._reference.load()


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from defaults, then environment (FLIGHTDELAY_*), then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("FLIGHTDELAY_WEBAPP_SECRET_KEY") or os.urandom(32),
        MAX_CONTENT_LENGTH=16 * 1024,
        SESSION_COOKIE_SAMESITE="Lax",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}",
        MONGO_URI=f"mongodb://127.0.0.1:{os.environ.get('MONGO_PORT', '27017')}",
        WEBHDFS_URL=f"http://127.0.0.1:{os.environ.get('HDFS_HTTP_PORT', '9870')}",
        PREDICTION_TIMEOUT_SECONDS=15,
        STATUS_CACHE_SECONDS=2,
        # Abuse limits (webapp.limits), per client (peer address + session cookie) and per process:
        # generous by default; lower them for a public deployment.
        RESERVATION_SECONDS=3600,  # a UUID reserved on a socket is accepted for this long, once
        SHARED_CLAIMS=True,  # that once checked in MongoDB, across processes and restarts
        WEBSOCKET_IDLE_SECONDS=120,  # a socket not waiting for an answer closes after this long
        WEBSOCKET_PING_SECONDS=25,
        WEBSOCKET_MAX_MESSAGE_BYTES=4096,
        WEBSOCKETS_PER_CLIENT=16,
        PREDICTIONS_PER_MINUTE=6000,
        PREDICTIONS_BURST=600,
        START_ROUTER=True,  # start the response consumer with the app (so it is ready before a page)
        KNOWN_AIRPORTS=None,
        KNOWN_CARRIERS=None,
    )
    app.config.from_prefixed_env("FLIGHTDELAY")
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.extensions["flightdelay"] = Services(app.config)
    app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": float(app.config["WEBSOCKET_PING_SECONDS"]),
                                         "max_message_size": int(app.config["WEBSOCKET_MAX_MESSAGE_BYTES"])}
    from webapp.limits import RateLimiter, SocketCounter

    app.extensions["flightdelay.limits"] = (
        RateLimiter(float(app.config["PREDICTIONS_PER_MINUTE"]), float(app.config["PREDICTIONS_BURST"])),
        SocketCounter(int(app.config["WEBSOCKETS_PER_CLIENT"])))

    from webapp import api, health, pages

    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    Sock(app).route("/ws/predictions")(api.websocket_predictions)
    register_error_handlers(app)
    if app.config["START_ROUTER"] and not app.testing:
        app.extensions["flightdelay"].router()
    return app


def register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        return jsonify(errors={"body": f"is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"}), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return jsonify(error=exc.name, status=exc.code), exc.code
        return render_template("error.html", code=exc.code, name=exc.name), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error="internal error"), 500
        return render_template("error.html", code=500, name="Internal error"), 500
