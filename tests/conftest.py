"""Shared fixtures: the platform's environment, and the running platform (started once).

The environment of the services (AIRFLOW_HOME, connections, Spark jars) is set before any
test module imports Airflow, so tests see exactly what the services see.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "include"), str(REPO / "plugins")]

from embedded import environment, platformctl, settings as platform_settings  # noqa: E402

SETTINGS = platform_settings.load()
os.environ.update(environment.environment(SETTINGS))

OUTPUT = REPO / "test-output"


@pytest.fixture(scope="session")
def settings() -> platform_settings.Settings:
    return SETTINGS


@pytest.fixture(scope="session")
def platform(settings):
    """The running platform; started here if `make test` was called without it."""
    if platformctl.start(settings) != 0:
        pytest.fail("the platform did not start; see the output above")
    return settings


@pytest.fixture(scope="session")
def webhdfs(platform):
    """WebHDFS client of the running NameNode (user spark)."""
    from hdfs import InsecureClient

    return InsecureClient(f"http://127.0.0.1:{platform.port('HDFS_HTTP_PORT')}", user="spark")


@pytest.fixture(scope="session")
def airflow_api(platform):
    """A requests session authenticated to the Airflow API as admin; `.base` is its URL."""
    import json

    import requests

    base = f"http://127.0.0.1:{platform.port('AIRFLOW_PORT')}"
    password = json.loads((platform.airflow_home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    response = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    assert response.status_code in (200, 201), response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    session.base = base
    return session


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


def pytest_collection_modifyitems(items):
    """Tests marked `first` (the state `make run` left) run before all the others, tests marked
    `last` (stop/restart of the platform) after them."""
    def order(item) -> int:
        return 0 if item.get_closest_marker("first") else 2 if item.get_closest_marker("last") else 1

    items.sort(key=order)
