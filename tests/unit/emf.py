"""The metrics the functions publish, read back from what they print: Powertools writes each metric
as a line of CloudWatch's Embedded Metric Format (EMF) on stdout, which CloudWatch Logs turns into
metrics. Parsing those lines observes exactly what CloudWatch would receive.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

WRONG_PASSWORD = "wrong-password-1"


@dataclass(frozen=True)
class Metric:
    """One metric as CloudWatch files it: namespace, name and dimensions ((name, value), sorted)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


def emf_metrics(text: str) -> list[Metric]:
    """Every metric in the EMF lines of ``text``; other lines (the JSON logs) are skipped."""
    found = []
    for line in text.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, str(blob[name])) for name in dimension_set))
                for metric in directive["Metrics"]:
                    assert metric["Name"] in blob, f"an EMF line without a value for {metric['Name']}"
                    found.append(Metric(directive["Namespace"], metric["Name"], dimensions))
    return found


@contextlib.contextmanager
def published() -> Iterator[list[Metric]]:
    """The metrics printed while the block runs (filled in when it ends)."""
    metrics: list[Metric] = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield metrics
    metrics += emf_metrics(buffer.getvalue())
