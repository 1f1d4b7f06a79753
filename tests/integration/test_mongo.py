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
