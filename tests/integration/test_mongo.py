"""The MongoDB-compatible server: insert, upsert, find, unique index."""
from __future__ import annotations

import pytest
from pymongo import ASCENDING, MongoClient
from pymongo.errors import DuplicateKeyError


@pytest.fixture
def collection(platform, unique):
    client = MongoClient(f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}/", serverSelectionTimeoutMS=5000)
    coll = client["platform_test"][f"c_{unique}"]
    yield coll
    coll.drop()
    client.close()


def test_insert_upsert_find(collection):
    collection.insert_one({"UUID": "a", "Origin": "JFK", "Prediction": 1})
    result = collection.update_one({"UUID": "a"}, {"$set": {"Prediction": 3}}, upsert=True)
    assert result.matched_count == 1
    result = collection.update_one({"UUID": "b"}, {"$set": {"Origin": "EWR", "Prediction": 0}}, upsert=True)
    assert result.upserted_id is not None
    docs = {d["UUID"]: d for d in collection.find({}, {"_id": 0})}
    assert docs == {
        "a": {"UUID": "a", "Origin": "JFK", "Prediction": 3},
        "b": {"UUID": "b", "Origin": "EWR", "Prediction": 0},
    }
    assert collection.count_documents({"Prediction": {"$gte": 1}}) == 1


def test_unique_index_rejects_duplicates(collection):
    collection.create_index([("UUID", ASCENDING)], unique=True, name="uuid_unique")
    collection.insert_one({"UUID": "x"})
    with pytest.raises(DuplicateKeyError):
        collection.insert_one({"UUID": "x"})
    assert collection.count_documents({"UUID": "x"}) == 1
    assert collection.index_information()["uuid_unique"]["unique"] is True


def test_sink_writer_keeps_the_first_record_of_each_uuid(platform, collection):
    from flightdelay import sinks

    sinks.ensure_mongo_index(collection)
    uri = f"mongodb://127.0.0.1:{platform.port('MONGO_PORT')}/"
    first = [{"UUID": f"u{i}", "Prediction": i % 4, "PredictedAt": "2026-11-30T10:00:00.000Z"} for i in range(5)]
    assert sinks.write_mongo(first, uri, collection.database.name, collection.name) == 5
    # A replayed batch, plus a re-answer of u0 with another timestamp and one new record.
    replay = [*first, {**first[0], "PredictedAt": "2026-11-30T10:01:00.000Z"}, {"UUID": "u9", "Prediction": 1}]
    assert sinks.write_mongo(replay, uri, collection.database.name, collection.name) == 1
    stored = {d["UUID"]: d for d in collection.find({}, {"_id": 0})}
    assert sorted(stored) == ["u0", "u1", "u2", "u3", "u4", "u9"]
    assert stored["u0"]["PredictedAt"] == "2026-11-30T10:00:00.000Z"
    with pytest.raises(Exception):  # anything but a duplicate UUID still fails the batch
        sinks.write_mongo([{"UUID": "u10", "$bad": 1}], uri, collection.database.name, collection.name)
