"""template.yaml read as data, for tests that build resources or environments from it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


@functools.cache
def template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template()["Resources"].items() if res["Type"] == kind}


def functions() -> dict[str, dict[str, Any]]:
    return resources("AWS::Serverless::Function")


def api_events(function: str) -> dict[str, dict[str, Any]]:
    events = functions()[function]["Properties"].get("Events", {})
    return {name: event["Properties"] for name, event in events.items() if event["Type"] == "Api"}


def routes() -> list[tuple[str, str, str, bool]]:
    """(METHOD, path, function, protected) for every Api event in the template."""
    found = []
    for function in functions():
        for props in api_events(function).values():
            protected = props.get("Auth", {}).get("Authorizer") != "NONE"
            found.append((props["Method"].upper(), props["Path"], function, protected))
    return found
