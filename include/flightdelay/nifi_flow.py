"""Deploy the NiFi flow definition of nifi/ through the NiFi REST API (no UI step).

`prepare_flow` is pure (set parameter values, rename, stamp a digest of the result into the
group's comments); `deploy_flow` uploads the definition into the root process group unless a
group of that name with the same digest exists (a changed definition replaces the old group),
then starts it.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import requests

FLOW_FILE = Path(__file__).resolve().parents[2] / "nifi" / "flight_delay_responses.json"
GROUP_NAME = "flight-delay-responses-to-files"
DIGEST_PREFIX = "definition digest: "


class NifiError(RuntimeError):
    """NiFi refused a request; the message has its status and answer."""


def prepare_flow(flow: dict[str, Any], parameters: dict[str, str], context_name: str | None = None) -> dict[str, Any]:
    """A copy of `flow` with parameter values replaced (unknown names are an error)."""
    flow = copy.deepcopy(flow)
    contexts = flow["parameterContexts"]
    old_name = flow["flowContents"]["parameterContextName"]
    context = contexts.pop(old_name)
    known = {p["name"]: p for p in context["parameters"]}
    unknown = set(parameters) - set(known)
    if unknown:
        raise ValueError(f"the flow has no parameters {sorted(unknown)}")
    for name, value in parameters.items():
        known[name]["value"] = value
    new_name = context_name or old_name
    context["name"] = new_name
    contexts[new_name] = context
    flow["flowContents"]["parameterContextName"] = new_name
    digest = hashlib.sha256(json.dumps(flow, sort_keys=True).encode()).hexdigest()[:16]
    flow["flowContents"]["comments"] = f"{flow['flowContents'].get('comments', '')}\n{DIGEST_PREFIX}{digest}".strip()
    return flow


def _check(response: requests.Response) -> requests.Response:
    if response.status_code >= 400:
        raise NifiError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}")
    return response


def root_group_id(base_url: str) -> str:
    return _check(requests.get(f"{base_url}/nifi-api/flow/process-groups/root", timeout=30)).json()[
        "processGroupFlow"]["id"]


def find_group(base_url: str, name: str) -> str | None:
    flow = _check(requests.get(f"{base_url}/nifi-api/flow/process-groups/{root_group_id(base_url)}", timeout=30))
    for group in flow.json()["processGroupFlow"]["flow"]["processGroups"]:
        if group["component"]["name"] == name:
            return group["id"]
    return None


def deploy_flow(base_url: str, flow: dict[str, Any], group_name: str = GROUP_NAME) -> str:
    """Upload `flow` as process group `group_name` (unless present with the same definition
    digest) and start it; returns its id."""
    group_id = find_group(base_url, group_name)
    if group_id is not None:
        deployed = _check(requests.get(f"{base_url}/nifi-api/process-groups/{group_id}", timeout=30)).json()
        if deployed["component"].get("comments") != flow["flowContents"].get("comments"):
            delete_group(base_url, group_id)
            group_id = None
    if group_id is None:
        root = root_group_id(base_url)
        response = _check(requests.post(
            f"{base_url}/nifi-api/process-groups/{root}/process-groups/upload",
            data={"groupName": group_name, "positionX": "0", "positionY": "0", "clientId": "flightdelay-deploy"},
            files={"file": ("flow.json", json.dumps(flow), "application/json")},
            timeout=120,
        ))
        group_id = response.json()["id"]
    set_group_state(base_url, group_id, "RUNNING")
    return group_id


def set_group_state(base_url: str, group_id: str, state: str) -> None:
    """RUNNING or STOPPED for every component of the group."""
    _check(requests.put(f"{base_url}/nifi-api/flow/process-groups/{group_id}",
                        json={"id": group_id, "state": state}, timeout=60))


def processor_states(base_url: str, group_id: str) -> dict[str, str]:
    flow = _check(requests.get(f"{base_url}/nifi-api/flow/process-groups/{group_id}", timeout=30)).json()
    return {p["component"]["name"]: p["component"]["state"] for p in flow["processGroupFlow"]["flow"]["processors"]}


def delete_group(base_url: str, group_id: str, timeout: float = 60) -> None:
    """Stop the group, drop what is queued in it, and delete it with its parameter context."""
    set_group_state(base_url, group_id, "STOPPED")
    deadline = time.monotonic() + timeout
    # Stopping is asynchronous: a processor whose task is still running cannot be deleted.
    while time.monotonic() < deadline:
        status = _check(requests.get(f"{base_url}/nifi-api/flow/process-groups/{group_id}/status", timeout=30))
        if status.json()["processGroupStatus"]["aggregateSnapshot"]["activeThreadCount"] == 0:
            break
        time.sleep(0.5)
    drop = _check(requests.post(f"{base_url}/nifi-api/process-groups/{group_id}/empty-all-connections-requests",
                                timeout=30)).json()["dropRequest"]
    while not drop["finished"] and time.monotonic() < deadline:
        time.sleep(0.5)
        drop = _check(requests.get(drop["uri"], timeout=30)).json()["dropRequest"]
    group = _check(requests.get(f"{base_url}/nifi-api/process-groups/{group_id}", timeout=30)).json()
    context = (group["component"].get("parameterContext") or {}).get("id")
    _check(requests.delete(f"{base_url}/nifi-api/process-groups/{group_id}",
                           params={"version": group["revision"]["version"], "clientId": "flightdelay-deploy"},
                           timeout=60))
    if context:
        ctx = _check(requests.get(f"{base_url}/nifi-api/parameter-contexts/{context}", timeout=30)).json()
        _check(requests.delete(f"{base_url}/nifi-api/parameter-contexts/{context}",
                               params={"version": ctx["revision"]["version"], "clientId": "flightdelay-deploy"},
                               timeout=60))
