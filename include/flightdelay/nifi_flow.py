"""The NiFi flow definition of nifi/ and its parameters, ready for NifiHook.deploy_flow.

`prepare_flow` is pure: it sets parameter values, renames the context and stamps a digest of
the result into the group's comments, so a changed definition replaces the deployed group.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any


FLOW_FILE = Path(__file__).resolve().parents[2] / "nifi" / "flight_delay_responses.json"
GROUP_NAME = "flight-delay-responses-to-files"
DIGEST_PREFIX = "definition digest: "


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


def deploy_parameters() -> dict[str, str]:
    """The flow's parameters for this deployment: FLIGHTDELAY_NIFI_FLOW_PARAMETERS (JSON, set by
    the embedded runtime and by docker-compose: paths as NiFi sees them), plus the response topic."""
    from flightdelay.config import NAMES

    parameters = json.loads(os.environ.get("FLIGHTDELAY_NIFI_FLOW_PARAMETERS") or "{}")
    parameters.setdefault("kafka.topic", NAMES.response_topic)
    return parameters


def platform_flow(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """nifi/flight_delay_responses.json with this deployment's parameters."""
    return prepare_flow(json.loads(FLOW_FILE.read_text()), parameters or deploy_parameters())
