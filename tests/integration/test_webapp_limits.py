"""The web app's abuse limits on a real server (werkzeug, the app with lowered limits, the
platform's Kafka and MongoDB): sockets per client, message size, idle close; a reserved UUID
accepted once across two app instances (two server processes, or a restart)."""
from __future__ import annotations

import json
import socket
import threading

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from werkzeug.serving import make_server

from webapp import create_app


@pytest.fixture(scope="module")
def server(platform):
    app = create_app({"WEBSOCKETS_PER_CLIENT": 2, "WEBSOCKET_MAX_MESSAGE_BYTES": 512, "WEBSOCKET_IDLE_SECONDS": 3,
                      "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{platform.port('KAFKA_PORT')}",
                      "KNOWN_AIRPORTS": {"JFK": "JFK"}, "KNOWN_CARRIERS": {"AA": "AA"}})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{port}"
    httpd.shutdown()


def page_socket(server: str, cookies: dict | None = None):
    """A WebSocket as the page opens it, with the session cookie the page got."""
    cookies = cookies if cookies is not None else requests.get(f"http://{server}/", timeout=30).cookies.get_dict()
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return connect(f"ws://{server}/ws/predictions", open_timeout=30, additional_headers={"Cookie": header})


def ready(ws) -> dict:
    message = json.loads(ws.recv(timeout=30))
    assert message["type"] == "ready"
    return message


def test_a_client_gets_at_most_its_sockets(server):
    cookies = requests.get(f"http://{server}/", timeout=30).cookies.get_dict()
    assert "session" in cookies
    with page_socket(server, cookies) as one, page_socket(server, cookies) as two:
        ready(one), ready(two)
        with page_socket(server, cookies) as three:
            with pytest.raises(ConnectionClosed) as closed:
                three.recv(timeout=30)
            assert closed.value.rcvd.code == 1008
        with page_socket(server) as other_client:  # another session is another client
            ready(other_client)
    with page_socket(server, cookies) as again:  # the slots are free again
        ready(again)


def test_an_oversized_message_closes_the_socket(server):
    with page_socket(server) as ws:
        ready(ws)
        ws.send("x" * 2048)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)


def test_an_idle_socket_is_closed(server):
    with page_socket(server) as ws:
        ready(ws)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)


def test_a_reserved_uuid_is_accepted_once_across_app_instances(platform):
    """Two instances share the secret and MongoDB, as gunicorn's workers do: the UUID one reserved
    is accepted by the other once; the second POST, on either, is refused with the field named."""
    config = {"SECRET_KEY": "shared-secret-of-this-test", "START_ROUTER": False,
              "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{platform.port('KAFKA_PORT')}",
              "MONGO_URI": f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}",
              "KNOWN_AIRPORTS": {"JFK": "JFK", "LAX": "LAX"}, "KNOWN_CARRIERS": {"AA": "AA"}}
    first, second = create_app(config), create_app(config)
    request_id = first.extensions["flightdelay"].router().reserve()
    flight = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 5,
              "UUID": request_id.upper()}  # any spelling: claimed in canonical form
    assert second.test_client().post("/api/predictions", json=flight).status_code == 202
    for app in (first, second):
        refused = app.test_client().post("/api/predictions", json=flight)
        assert refused.status_code == 400 and "used already" in refused.json["errors"]["UUID"]
