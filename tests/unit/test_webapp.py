"""The web app's validation and error handling with the Flask test client (no Kafka involved:
every request here is refused before anything is produced)."""
from __future__ import annotations

import pytest

from webapp import create_app

VALID = {"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 10}


@pytest.fixture()
def client():
    app = create_app({"TESTING": True, "KNOWN_AIRPORTS": {"JFK": "John F Kennedy Intl", "LAX": "Los Angeles Intl",
                                                          "EWR": "Newark Liberty Intl"},
                      "KNOWN_CARRIERS": {"AA": "American Airlines Inc.", "UA": "United Air Lines Inc."}})
    return app.test_client()


@pytest.mark.parametrize("change, field, why", [
    ({"Origin": "ZZZ"}, "Origin", "unknown airport ZZZ"),
    ({"Dest": "QQQ"}, "Dest", "unknown airport QQQ"),
    ({"Dest": "JFK"}, "Dest", "must differ from Origin"),
    ({"Carrier": "ZZ"}, "Carrier", "unknown carrier ZZ"),
    ({"Carrier": None}, "Carrier", "is required"),
    ({"FlightDate": "2013-13-01"}, "FlightDate", "must be a date"),
    ({"DepDelay": "ten"}, "DepDelay", "must be a number"),
    ({"DepDelay": -500}, "DepDelay", "between -120 and 1800"),
    ({"CRSDepTime": "8h30"}, "CRSDepTime", "HH:MM"),
])
def test_bad_field_is_a_400_naming_it(client, change, field, why):
    response = client.post("/api/predictions", json={**VALID, **change})
    assert response.status_code == 400
    assert why in response.json["errors"][field]


def test_several_bad_fields_are_all_named(client):
    response = client.post("/api/predictions", json={"Origin": "ZZZ", "Dest": "ZZZ", "DepDelay": "x"})
    assert response.status_code == 400
    assert set(response.json["errors"]) == {"Origin", "Dest", "Carrier", "FlightDate", "DepDelay"}


def test_body_must_be_a_json_object_of_bounded_size(client):
    assert client.post("/api/predictions", data="Origin=JFK").json["errors"]["body"].startswith("must be JSON")
    assert client.post("/api/predictions", json=[1, 2]).json["errors"]["body"] == "must be a JSON object"
    response = client.post("/api/predictions", data="{" + " " * 20000 + "}", content_type="application/json")
    assert response.status_code == 400 and "larger than" in response.json["errors"]["body"]


@pytest.mark.parametrize("body, field, why", [
    ('{"a":' * 10 + "[" * 1000 + "]" * 1000 + "}" * 10, "body", "is not JSON"),
    ("[" * 1500 + "]" * 1500, "body", "is not JSON"),
    ('{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": ' + "9" * 400 + "}",
     "DepDelay", "must be a number"),
    ('{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": ' + "9" * 1200 + "}",
     "body", "is not JSON"),
    ('{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 5, '
     '"CRSDepTime": "\u0660\u0668:\u0663\u0660"}', "CRSDepTime", "HH:MM"),
    ('{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": "\u0661\u0662"}',
     "DepDelay", "must be a number"),
    ('{"Origin": "JFK", "Dest": "LAX", "Carrier": "AA", "FlightDate": "2013-03-14", "DepDelay": 5, "Dest": "EWR"}',
     "Dest", "more than once"),
    ('{"Origin": "JFK", "DepDelay": NaN}', "body", "is not JSON"),
    (r'{"Origin": "\ud800"}', "body", "is not JSON"),
])
def test_any_body_is_a_400_never_a_500(client, body, field, why):
    response = client.post("/api/predictions", data=body.encode(), content_type="application/json")
    assert response.status_code == 400, response.data[:300]
    assert why in response.json["errors"][field]


def test_unissued_uuid_is_refused(client):
    response = client.post("/api/predictions", json={**VALID, "UUID": "5f0c8f3e-8a59-4b43-9d7e-2b8f5a1f7c11"})
    assert response.status_code == 400 and "not issued" in response.json["errors"]["UUID"]


def test_cross_site_post_is_refused(client):
    response = client.post("/api/predictions", json=VALID, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_lookup_by_malformed_uuid_is_a_400(client):
    assert client.get("/api/predictions/not-a-uuid").status_code == 400


def test_unknown_routes_are_404_not_500(client):
    assert client.get("/api/nothing").status_code == 404 and client.get("/api/nothing").json["status"] == 404
    page = client.get("/nothing")
    assert page.status_code == 404 and b"Back to the prediction form" in page.data
    assert client.get("/shutdown").status_code == 404 and client.post("/").status_code == 405


def test_form_offers_known_codes_and_escapes_them(client):
    page = client.get("/")
    assert page.status_code == 200
    assert b'<option value="EWR">Newark Liberty Intl</option>' in page.data
    assert b'id="DepDelay"' in page.data and b"app.js" in page.data
    assert b"cdn" not in page.data.lower() and b"https://" not in page.data


def test_user_text_is_escaped_in_pages():
    app = create_app({"TESTING": True, "KNOWN_AIRPORTS": {"<S>": "<script>alert(1)</script>"}, "KNOWN_CARRIERS": {}})
    page = app.test_client().get("/").data
    assert b"<script>alert(1)</script>" not in page and b"&lt;script&gt;" in page


def test_debug_is_off_by_default():
    assert create_app({"START_ROUTER": False}).debug is False


def test_reserved_uuids_are_signed_and_accepted_once_per_process():
    import uuid

    from webapp.kafka_bridge import ResponseRouter, has_valid_signature, signed_uuid

    issued = signed_uuid(b"key one")
    assert uuid.UUID(issued).version == 4 and has_valid_signature(issued, b"key one")
    assert not has_valid_signature(issued, b"key two")  # another deployment's key
    tampered = issued[:-1] + ("0" if issued[-1] != "0" else "1")
    assert not has_valid_signature(tampered, b"key one")
    assert not has_valid_signature("not a uuid", b"key one") and not has_valid_signature(None, b"key one")
    # Two server processes share the key: a UUID reserved on one is claimed on the other, once.
    socket_process = ResponseRouter("127.0.0.1:1", "t", b"shared")
    post_process = ResponseRouter("127.0.0.1:1", "t", b"shared")
    reserved = socket_process.reserve()
    assert post_process.claim(reserved) and not post_process.claim(reserved)
    assert not post_process.claim(str(uuid.uuid4()))  # a UUID the client made up


def test_a_reserved_uuid_expires():
    from webapp.kafka_bridge import has_valid_signature, signed_uuid

    issued = signed_uuid(b"key", now=1_800_000_000)
    assert has_valid_signature(issued, b"key", max_age_s=3600, now=1_800_000_000 + 3000)
    assert not has_valid_signature(issued, b"key", max_age_s=3600, now=1_800_000_000 + 3 * 3600)
    assert not has_valid_signature(issued, b"key", max_age_s=3600, now=1_800_000_000 - 600)  # from the future
    assert has_valid_signature(issued, b"key")  # the MAC alone


def test_a_client_over_its_rate_gets_429_and_another_client_does_not():
    app = create_app({"TESTING": True, "PREDICTIONS_PER_MINUTE": 60, "PREDICTIONS_BURST": 2,
                      "KNOWN_AIRPORTS": {}, "KNOWN_CARRIERS": {}})
    first, second = app.test_client(), app.test_client()
    codes = [first.post("/api/predictions", json={"Origin": "x"}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert first.post("/api/predictions", json={"Origin": "x"}).headers.get("Retry-After") == "1"
    assert second.post("/api/predictions", json={"Origin": "x"}).status_code == 400  # its own session


def test_the_address_limit_holds_when_a_client_drops_its_cookie():
    app = create_app({"TESTING": True, "PREDICTIONS_PER_MINUTE": 60, "PREDICTIONS_BURST": 1,
                      "KNOWN_AIRPORTS": {}, "KNOWN_CARRIERS": {}})
    codes = [app.test_client().post("/api/predictions", json={"Origin": "x"}).status_code for _ in range(12)]
    assert codes.count(400) == 10 and codes[-2:] == [429, 429]  # ADDRESS_FACTOR (10) fresh sessions
