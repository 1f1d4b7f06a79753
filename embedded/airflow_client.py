"""A small client of the Airflow REST API (v2) for the start script and the tests: log in as the
generated admin, trigger runs, read run and task states, and fetch a task's log."""
from __future__ import annotations

import json
from typing import Any

import requests

from embedded.settings import Settings


class AirflowClient:
    def __init__(self, s: Settings, timeout: float = 30) -> None:
        self.base = f"http://127.0.0.1:{s.port('AIRFLOW_PORT')}"
        self.password_file = s.airflow_home / "simple_auth_manager_passwords.json.generated"
        self.timeout = timeout
        self.session = requests.Session()

    def login(self) -> "AirflowClient":
        password = json.loads(self.password_file.read_text())["admin"]
        response = requests.post(f"{self.base}/auth/token", json={"username": "admin", "password": password},
                                 timeout=self.timeout)
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return self

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.base}/api/v2{path}", timeout=self.timeout, **kwargs)
        if response.status_code == 401:  # the token expired: log in again once
            self.login()
            response = self.session.request(method, f"{self.base}/api/v2{path}", timeout=self.timeout, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def dag(self, dag_id: str) -> dict | None:
        response = self.session.get(f"{self.base}/api/v2/dags/{dag_id}", timeout=self.timeout)
        return response.json() if response.status_code == 200 else None

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def runs(self, dag_id: str, **params: Any) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        self.call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", json={"new_state": state})

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, lines: int = 40) -> str:
        """The last `lines` lines of a task attempt's log."""
        response = self.session.get(
            f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{max(try_number, 1)}",
            params={"full_content": "true"}, headers={"Accept": "application/json"}, timeout=self.timeout)
        if response.status_code != 200:
            return f"(log not readable: {response.status_code})"
        content = response.json().get("content", "")
        if isinstance(content, list):  # structured log lines
            text = [entry.get("event", "") if isinstance(entry, dict) else str(entry) for entry in content]
        else:
            text = str(content).splitlines()
        return "\n".join(line for line in text[-lines:])
