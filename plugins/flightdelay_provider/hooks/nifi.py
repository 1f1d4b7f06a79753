"""NiFi REST API hook: deploys, starts, inspects and deletes process groups.

URL, credentials and TLS come from the Airflow connection (default `nifi_default`): host, port,
schema (http or https), login/password for NiFi's single-user login, extra `verify` (true,
false, or the path of a CA bundle). The same code serves plain HTTP and compose's HTTPS login.
"""
from __future__ import annotations

import http.cookiejar
import time
from typing import Any

import requests
from airflow.sdk import BaseHook


class NifiError(RuntimeError):
    """NiFi refused a request; the message has the method, URL, status and answer."""


class NifiHook(BaseHook):
    """A logged-in `requests.Session` to NiFi and the few flow operations the platform needs."""

    conn_name_attr = "nifi_conn_id"
    default_conn_name = "nifi_default"
    conn_type = "http"
    hook_name = "NiFi"
    client_id = "flightdelay-deploy"

    def __init__(self, nifi_conn_id: str = default_conn_name, timeout: float = 60) -> None:
        super().__init__()
        self.nifi_conn_id = nifi_conn_id
        self.timeout = timeout
        self._session: requests.Session | None = None
        self.base_url = ""
        self.verify: bool | str = True

    # --- connection ---------------------------------------------------------------------------

    def get_conn(self) -> requests.Session:
        """A session with TLS settings and, when the connection has a login, a bearer token."""
        if self._session is not None:
            return self._session
        conn = self.get_connection(self.nifi_conn_id)
        extra = conn.extra_dejson
        self.base_url = f"{conn.schema or 'http'}://{conn.host}:{conn.port}"
        session = requests.Session()
        # No cookies: NiFi's login also sets its token as a cookie, and a request that carries it
        # must carry a CSRF Request-Token too (403 otherwise); the bearer header needs none.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        verify = extra.get("verify", True)
        # Passed with each request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self.verify = verify if isinstance(verify, bool) else str(verify)
        if conn.login:
            response = session.post(f"{self.base_url}/nifi-api/access/token", timeout=self.timeout,
                                    verify=self.verify,
                                    data={"username": conn.login, "password": conn.password or ""})
            if response.status_code >= 400:
                raise NifiError(f"NiFi login as {conn.login} at {self.base_url} refused: {response.status_code}")
            session.headers["Authorization"] = f"Bearer {response.text.strip()}"
        self._session = session
        return session

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        session = self.get_conn()
        response = session.request(method, f"{self.base_url}/nifi-api{path}", timeout=self.timeout,
                                   verify=self.verify, **kwargs)
        if response.status_code >= 400:
            raise NifiError(f"{method} {response.url}: {response.status_code} {response.text[:500]}")
        return response

    def test_connection(self) -> tuple[bool, str]:
        try:
            return True, self.about()["version"]
        except (NifiError, requests.RequestException) as exc:
            return False, str(exc)

    # --- reads --------------------------------------------------------------------------------

    def about(self) -> dict[str, Any]:
        return self.request("GET", "/flow/about").json()["about"]

    def processor_types(self) -> set[str]:
        types = self.request("GET", "/flow/processor-types").json()["processorTypes"]
        return {t["type"].rsplit(".", 1)[-1] for t in types}

    def root_group_id(self) -> str:
        return self.request("GET", "/flow/process-groups/root").json()["processGroupFlow"]["id"]

    def find_group(self, name: str) -> str | None:
        flow = self.request("GET", f"/flow/process-groups/{self.root_group_id()}").json()
        for group in flow["processGroupFlow"]["flow"]["processGroups"]:
            if group["component"]["name"] == name:
                return group["id"]
        return None

    def processor_states(self, group_id: str) -> dict[str, str]:
        flow = self.request("GET", f"/flow/process-groups/{group_id}").json()
        return {p["component"]["name"]: p["component"]["state"] for p in flow["processGroupFlow"]["flow"]["processors"]}

    # --- changes ------------------------------------------------------------------------------

    def deploy_flow(self, flow: dict[str, Any], group_name: str) -> str:
        """Upload `flow` as process group `group_name` unless one with the same comments (the
        definition digest of flightdelay.nifi_flow.prepare_flow) exists; start it; return its id."""
        import json

        group_id = self.find_group(group_name)
        if group_id is not None:
            deployed = self.request("GET", f"/process-groups/{group_id}").json()
            if deployed["component"].get("comments") != flow["flowContents"].get("comments"):
                self.delete_group(group_id)
                group_id = None
        if group_id is None:
            response = self.request(
                "POST", f"/process-groups/{self.root_group_id()}/process-groups/upload",
                data={"groupName": group_name, "positionX": "0", "positionY": "0", "clientId": self.client_id},
                files={"file": ("flow.json", json.dumps(flow), "application/json")},
            )
            group_id = response.json()["id"]
        self.set_group_state(group_id, "RUNNING")
        return group_id

    def set_group_state(self, group_id: str, state: str) -> None:
        """RUNNING or STOPPED for every component of the group."""
        self.request("PUT", f"/flow/process-groups/{group_id}", json={"id": group_id, "state": state})

    def delete_group(self, group_id: str, timeout: float = 60) -> None:
        """Stop the group, drop what is queued in it, and delete it with its parameter context."""
        self.set_group_state(group_id, "STOPPED")
        deadline = time.monotonic() + timeout
        # Stopping is asynchronous: a processor whose task is still running cannot be deleted.
        while time.monotonic() < deadline:
            status = self.request("GET", f"/flow/process-groups/{group_id}/status").json()
            if status["processGroupStatus"]["aggregateSnapshot"]["activeThreadCount"] == 0:
                break
            time.sleep(0.5)
        drop = self.request("POST", f"/process-groups/{group_id}/empty-all-connections-requests").json()["dropRequest"]
        while not drop["finished"] and time.monotonic() < deadline:
            time.sleep(0.5)
            drop = self.request("GET", f"/process-groups/{group_id}/empty-all-connections-requests/{drop['id']}"
                                ).json()["dropRequest"]
        group = self.request("GET", f"/process-groups/{group_id}").json()
        context = (group["component"].get("parameterContext") or {}).get("id")
        self.request("DELETE", f"/process-groups/{group_id}",
                     params={"version": group["revision"]["version"], "clientId": self.client_id})
        if context:
            ctx = self.request("GET", f"/parameter-contexts/{context}").json()
            self.request("DELETE", f"/parameter-contexts/{context}",
                         params={"version": ctx["revision"]["version"], "clientId": self.client_id})
