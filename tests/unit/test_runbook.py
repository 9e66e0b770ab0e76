"""docs/OPERATIONS.md, the runbook, stays true to the stack: every link to one of its sections
(from itself, the template, the workflows, the pipeline's roles) lands on a heading, and every
log query asks for messages the code logs and fields the logs have."""

from __future__ import annotations

import json
import re

import pytest

from stack.template import ROOT, api_properties

RUNBOOK = ROOT / "docs" / "OPERATIONS.md"
LINKING = [
    ROOT / "template.yaml",
    ROOT / "pipeline" / "deploy-roles.yaml",
    ROOT / "checkov.yaml",
    ROOT / "README.md",
    *sorted((ROOT / ".github" / "workflows").glob("*.yml")),
    *sorted((ROOT / "docs").glob("*.md")),
]
CODE = [
    *sorted((ROOT / "functions").glob("*/app.py")),
    *sorted((ROOT / "layers/shared/python").rglob("*.py")),
]
# What Powertools' Logger writes on every line, with the Lambda context (and an exception's).
POWERTOOLS_KEYS = {
    *("level", "location", "message", "timestamp", "service", "xray_trace_id", "correlation_id"),
    *("cold_start", "function_name", "function_memory_size", "function_arn", "function_request_id"),
    *("exception", "exception_name"),
}
# Logs Insights' own words, and its fields (@timestamp, @message, @log, ...), are not log fields.
INSIGHTS_WORDS = {
    *("fields", "filter", "stats", "sort", "limit", "by", "as", "asc", "desc"),
    *("and", "or", "not", "in", "like", "count", "count_distinct", "latest"),
}


def anchors() -> set[str]:
    """The anchors GitHub gives the runbook's headings: lower case, punctuation dropped, spaces
    to hyphens."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_to_a_runbook_section_lands_on_a_heading() -> None:
    links = re.findall(r"\]\(#([a-z0-9-]+)\)", RUNBOOK.read_text())
    for path in LINKING:
        links += re.findall(r"OPERATIONS\.md#([a-z0-9-]+)", " ".join(path.read_text().split()))
    assert len(links) > 40
    assert sorted(set(links) - anchors()) == []


def queries() -> list[tuple[str, str]]:
    """(log group, query) for each Logs Insights query of the runbook."""
    blocks = re.findall(r"```\n# log group: ([^\n]+)\n(.*?)```", RUNBOOK.read_text(), re.DOTALL)
    assert len(blocks) >= 8
    return blocks


def access_log_fields() -> set[str]:
    log_format = api_properties()["AccessLogSetting"]["Format"]
    return set(json.loads(log_format))


def logged_fields() -> set[str]:
    """The keys the code adds to its log lines (``extra={...}``), and Powertools' own."""
    keys = set(POWERTOOLS_KEYS)
    for path in CODE:
        for extra in re.findall(r"extra=\{([^}]*)\}", path.read_text()):
            keys |= set(re.findall(r'"(\w+)"\s*:', extra))
    return keys


def logged_messages() -> set[str]:
    call = re.compile(r'\.(?:debug|info|warning|error|exception)\(\s*"([^"]+)"')
    return {message for path in CODE for message in call.findall(path.read_text())}


def fields_of(query: str) -> set[str]:
    text = re.sub(r'"[^"]*"|/[^/\n]*/|@\w+', " ", query)  # strings, regular expressions, @fields
    aliases = set(re.findall(r"\bas (\w+)", text))
    return {word for word in re.findall(r"\b[A-Za-z_]\w*\b", text)} - INSIGHTS_WORDS - aliases


@pytest.mark.parametrize(("group", "query"), queries(), ids=lambda value: value.split("\n")[0][:40])
def test_each_query_reads_messages_and_fields_the_stack_writes(group: str, query: str) -> None:
    available: set[str] = set()
    if "access log" in group:
        available |= access_log_fields()
    if "function" in group:
        available |= logged_fields()
    assert available, f"a log group the runbook does not know: {group}"
    assert sorted(fields_of(query) - available) == []
    messages = re.findall(r'message = "([^"]+)"', query)
    assert sorted(set(messages) - logged_messages()) == []


def test_the_checks_would_see_a_field_or_message_nobody_writes() -> None:
    assert fields_of('filter message = "x" | stats count(*) as n by sourceIp') == {"message", "sourceIp"}
    assert "sourceIp" not in access_log_fields() | logged_fields()
    assert "Login failed" in logged_messages() and "Login failure" not in logged_messages()
