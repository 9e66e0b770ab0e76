"""No alarm and no graph of the dashboard watches nothing: each one, in the template after the SAM
transform, watches a metric that something publishes under exactly its namespace, name and
dimensions:

- the functions, observed: every path that publishes a metric runs in the unit-test harness and
  the Embedded Metric Format lines Powertools prints are read back (tests/unit/emf.py);
- a metric filter of the template, on a log field the log really writes;
- an AWS service, as its documentation lists the metric and its dimensions (AWS_METRICS below),
  with dimension values that name this stack's own API stage, functions and tables.

The alarms the issue asks for are all there (each function's errors and throttles, each table's
throttles and system errors, the security signals), each notifies the topic, each threshold is a
parameter the runbook explains, and each alarm's description links to its runbook section. The
dashboard shows what the issue lists: every alarm; requests, errors and latency per route; logins
and lockouts; the authorizer's invocations against requests; each table's consumed capacity; and
the functions' cold starts.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from stack.template import ROOT, Stack
from tests.unit.conftest import REGION, FakeExtension, Functions, caller_context
from tests.unit.conftest import STACK as STACK_NAME
from tests.unit.emf import WRONG_PASSWORD, Metric, published
from tests.utils import PASSWORD
from tools.sam_transform import transformed

# What AWS publishes: (namespace, metric) -> the sets of dimensions it publishes that metric with.
_API_GATEWAY_DIMENSIONS = [{"ApiName"}, {"ApiName", "Stage"}, {"ApiName", "Method", "Resource", "Stage"}]
_LAMBDA_DIMENSIONS = [
    {"FunctionName"},
    {"FunctionName", "Resource"},
    {"FunctionName", "Resource", "ExecutedVersion"},
]
AWS_METRICS: dict[tuple[str, str], list[set[str]]] = {
    # REST APIs: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
    # ("Amazon API Gateway dimensions": ApiName; ApiName, Method, Resource, Stage; ApiName, Stage).
    **{
        ("AWS/ApiGateway", name): _API_GATEWAY_DIMENSIONS
        for name in (
            *("4XXError", "5XXError", "Count", "Latency", "IntegrationLatency"),
            *("CacheHitCount", "CacheMissCount"),
        )
    },
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html ("Invocation
    # metrics", "Performance metrics", "Concurrency metrics") and the dimensions on
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics.html (FunctionName;
    # Resource, for a version or alias; ExecutedVersion, for an alias's versions).
    **{
        ("AWS/Lambda", name): _LAMBDA_DIMENSIONS
        for name in ("Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions")
    },
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html:
    # ThrottledRequests and SystemErrors per TableName and Operation; consumed capacity and
    # throttle events per TableName (and GlobalSecondaryIndexName for an index).
    ("AWS/DynamoDB", "ThrottledRequests"): [{"TableName", "Operation"}],
    ("AWS/DynamoDB", "SystemErrors"): [{"TableName", "Operation"}],
    **{
        ("AWS/DynamoDB", name): [{"TableName"}, {"TableName", "GlobalSecondaryIndexName"}]
        for name in (
            *("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"),
            *("ReadThrottleEvents", "WriteThrottleEvents"),
        )
    },
}
# Alarms whose threshold is not a parameter: one failed rotation step is a failed rotation.
FIXED_THRESHOLDS = {"SigningKeyRotationFailedAlarm": 1}
OPERATIONS_MD = ROOT / "docs" / "OPERATIONS.md"


@dataclass(frozen=True)
class Ref:
    """A dimension value that names a resource of the stack (``!Ref LogicalId``)."""

    logical_id: str


@dataclass(frozen=True)
class Watched:
    """A metric something watches: ``where`` (an alarm), its namespace, name and dimensions."""

    where: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, Any], ...]

    @property
    def dimension_names(self) -> set[str]:
        return {name for name, _ in self.dimensions}


@functools.cache
def cloudformation() -> dict[str, Any]:
    return transformed()


def resources(kind: str, template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    template = template or cloudformation()
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


STACK = Stack(name=STACK_NAME, region=REGION)  # the harness's stack, so its EMF namespace matches


def resolve(value: Any) -> Any:
    """A dimension value or namespace as a string, or a ``Ref`` to one of the stack's resources."""
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in cloudformation()["Resources"]:
        return Ref(value["Ref"])
    return STACK.resolve(value)


_INSIGHTS = re.compile(
    r'SELECT (?P<stat>\w+)\((?P<metric>\w+)\) FROM SCHEMA\("(?P<namespace>[^"]+)", (?P<schema>[\w, ]+)\)'
    r"(?: WHERE (?P<where>.*))?"
)
_CONDITION = re.compile(r"(\w+) = '\$\{(\w+)\}'")


def insights_query(where: str, expression: Any) -> Watched:
    """The metric a Metrics Insights query reads: its SCHEMA's dimensions, and the values its
    WHERE fixes (``Name = '${LogicalId}'`` in a ``!Sub``)."""
    text = " ".join((expression["Fn::Sub"] if isinstance(expression, dict) else expression).split())
    match = _INSIGHTS.fullmatch(text)
    assert match, f"{where}: not a Metrics Insights query of the one shape this test reads: {text}"
    fixed = dict(_CONDITION.findall(match["where"] or ""))
    assert " AND ".join(f"{k} = '${{{v}}}'" for k, v in fixed.items()) == (match["where"] or ""), where
    dimensions = [name.strip() for name in match["schema"].split(",")]
    assert set(fixed) <= set(dimensions), f"{where}: WHERE names a dimension the SCHEMA does not"
    values = {name: Ref(fixed[name]) if name in fixed else "*" for name in dimensions}
    return Watched(where, match["namespace"], match["metric"], tuple(sorted(values.items())))


def watched_by(logical_id: str, alarm: dict[str, Any]) -> list[Watched]:
    props = alarm["Properties"]
    if "MetricName" in props:
        dimensions = tuple(sorted((d["Name"], resolve(d["Value"])) for d in props.get("Dimensions", [])))
        return [Watched(logical_id, resolve(props["Namespace"]), props["MetricName"], dimensions)]
    watched = []
    for query in props["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = tuple(sorted((d["Name"], resolve(d["Value"])) for d in metric.get("Dimensions", [])))
            watched.append(
                Watched(logical_id, resolve(metric["Namespace"]), metric["MetricName"], dimensions)
            )
        elif "SELECT" in json.dumps(query["Expression"]):
            watched.append(insights_query(logical_id, query["Expression"]))
    assert watched, f"{logical_id} reads no metric"
    return watched


def alarms(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return resources("AWS::CloudWatch::Alarm", template)


# --- what is published ----------------------------------------------------------------------


@pytest.fixture
def emitted(
    lambdas: Functions, secrets_extension: FakeExtension, monkeypatch: pytest.MonkeyPatch
) -> set[Metric]:
    """What the functions publish on every path that publishes a metric, cold starts included, in
    a process started with the template's environment (the Metrics object reads its namespace and
    service when it is made, so it is made again here, as a new process would)."""
    from books_api import observability  # made at its first import: not at collection, with no namespace

    environment = lambdas.stack.environment("LoginFunction")
    for name in ("POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
        monkeypatch.setenv(name, environment[name])
    monkeypatch.setattr(observability, "metrics", Metrics())

    def call(name: str, method: str, path: str, **kwargs: Any) -> Any:
        return lambdas.call(name, method, path, **kwargs)[1]

    with published() as metrics:
        signed_up = call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})
        pair = call("login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD})
        for _ in range(6):  # failures, then the lockout
            call("login", "POST", "/auth/login", body={"username": "bob", "password": WRONG_PASSWORD})
        call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})
        call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})  # reused
        call("books", "GET", "/books", authorizer=caller_context(signed_up))
        secrets_extension.outage = 503  # the authorizer cannot read its key: a failure of its own
        assert not lambdas.authorizes(pair["access_token"])
        secrets_extension.outage = None
    return set(metrics)


def _access_log_fields() -> set[str]:
    (stage,) = resources("AWS::ApiGateway::Stage").values()
    return set(json.loads(stage["Properties"]["AccessLogSetting"]["Format"]))


def problem(watched: Watched, emitted: set[Metric]) -> str | None:
    """Why nothing publishes ``watched``, or None if something does."""
    key = (watched.namespace, watched.name)
    if key in AWS_METRICS:
        if watched.dimension_names not in AWS_METRICS[key]:
            return f"{key} is not published with the dimensions {sorted(watched.dimension_names)}"
        return _aws_dimension_values_problem(watched)
    filters = [
        transformation
        for metric_filter in resources("AWS::Logs::MetricFilter").values()
        for transformation in metric_filter["Properties"]["MetricTransformations"]
        if (resolve(transformation["MetricNamespace"]), transformation["MetricName"]) == key
    ]
    if filters:
        (transformation,) = filters
        names = {d["Key"] for d in transformation.get("Dimensions", [])}
        return None if names == watched.dimension_names else f"{key}: the filter's dimensions are {names}"
    published_here = [metric for metric in emitted if (metric.namespace, metric.name) == key]
    if not published_here:
        return f"nothing publishes {key}"
    for metric in published_here:
        if {name for name, _ in metric.dimensions} == watched.dimension_names and all(
            _matches_emitted(name, value, dict(metric.dimensions)[name]) for name, value in watched.dimensions
        ):
            return None
    return f"{key} is published with {[m.dimensions for m in published_here]}, not {watched.dimensions}"


def _matches_emitted(name: str, value: Any, emitted_value: str) -> bool:
    if name == "function_name":
        # Powertools names the function of the context: the function's physical name on AWS.
        return isinstance(value, Ref) and value.logical_id in resources("AWS::Lambda::Function")
    return value == emitted_value


def _aws_dimension_values_problem(watched: Watched) -> str | None:
    (api,) = resources("AWS::ApiGateway::RestApi").values()
    (stage,) = resources("AWS::ApiGateway::Stage").values()
    expected = {
        # A REST API defined by an OpenAPI body is named by the body's title.
        "ApiName": lambda v: v == resolve(api["Properties"]["Body"]["info"]["title"]),
        "Stage": lambda v: v == resolve(stage["Properties"]["StageName"]),
        "FunctionName": lambda v: isinstance(v, Ref) and v.logical_id in resources("AWS::Lambda::Function"),
        "TableName": lambda v: isinstance(v, Ref) and v.logical_id in resources("AWS::DynamoDB::Table"),
    }
    for name, value in watched.dimensions:
        if name in expected and not expected[name](value):
            return f"{watched.namespace} {watched.name}: {name}={value!r} names nothing of this stack"
    return None


# --- the tests ------------------------------------------------------------------------------


def test_every_alarm_watches_a_metric_that_is_published(emitted: set[Metric]) -> None:
    watched = [w for logical_id, alarm in alarms().items() for w in watched_by(logical_id, alarm)]
    assert len(watched) >= 20
    problems = {w.where: problem(w, emitted) for w in watched}
    assert {where: why for where, why in problems.items() if why} == {}


def test_the_checks_would_see_an_alarm_that_watches_nothing(emitted: set[Metric]) -> None:
    """Each kind of mistake, made to a copy of the template, is reported."""

    def mistaken(logical_id: str, change: Any) -> str | None:
        alarm = copy.deepcopy(alarms()[logical_id])
        change(alarm["Properties"])
        return problem(watched_by(logical_id, alarm)[0], emitted)

    def rename(name: str) -> Any:
        return lambda props: props.update(MetricName=name)

    assert mistaken("LoginFailuresAlarm", rename("LoginFailure")) == (
        f"nothing publishes {(f'BooksApi/{STACK_NAME}', 'LoginFailure')}"
    )
    assert mistaken("LoginFailuresAlarm", lambda props: props.update(Namespace="BooksApi"))
    assert mistaken("LoginFailuresAlarm", lambda props: props.update(Dimensions=[]))
    assert mistaken("RefreshReuseAlarm", lambda props: props["Dimensions"][0].update(Value="books"))
    assert mistaken(
        "LoginFunctionErrorsAlarm", lambda props: props["Dimensions"][0].update(Value={"Ref": "UsersTable"})
    )
    assert mistaken("LoginFunctionErrorsAlarm", lambda props: props["Dimensions"][0].update(Name="Function"))
    assert mistaken("Api5xxAlarm", lambda props: props["Dimensions"][1].update(Value="prod"))
    assert mistaken("Api5xxAlarm", lambda props: props.update(MetricName="5xxError"))
    assert mistaken(
        "AuthorizerErrorsAlarm",
        lambda props: props.update(Dimensions=[{"Name": "service", "Value": "books-api"}]),
    )

    def query(schema: str, where: str) -> Any:
        text = f'SELECT SUM(ThrottledRequests) FROM SCHEMA("AWS/DynamoDB", {schema}) WHERE {where}'  # noqa: S608
        return lambda props: props["Metrics"][0].update(Expression={"Fn::Sub": text})

    assert mistaken("UsersTableThrottlesAlarm", query("TableName", "TableName = '${UsersTable}'"))
    assert mistaken("UsersTableThrottlesAlarm", query("Operation, TableName", "TableName = '${Api}'"))
    with pytest.raises(AssertionError, match="WHERE names a dimension"):
        mistaken("UsersTableThrottlesAlarm", query("Operation", "TableName = '${UsersTable}'"))


def test_the_authorizer_error_filter_reads_a_field_the_access_log_writes() -> None:
    (metric_filter,) = resources("AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}
    fields = set(re.findall(r"\$\.(\w+)", props["FilterPattern"]))
    assert fields == {"errorType"}
    assert fields <= _access_log_fields()
    (stage,) = resources("AWS::ApiGateway::Stage").values()
    assert '"errorType":"$context.error.responseType"' in stage["Properties"]["AccessLogSetting"]["Format"]
    # The gateway responses API Gateway answers 500 with when it gets no policy from the authorizer.
    assert set(re.findall(r'"([A-Z_]+)"', props["FilterPattern"])) == {
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
    }


def _watching(namespace: str, name: str) -> dict[str, list[Watched]]:
    found: dict[str, list[Watched]] = {}
    for logical_id, alarm in alarms().items():
        for watched in watched_by(logical_id, alarm):
            if (watched.namespace, watched.name) == (namespace, name):
                found.setdefault(logical_id, []).append(watched)
    return found


def _dimension(watched: list[Watched], name: str) -> set[Any]:
    return {dict(w.dimensions)[name] for w in watched}


def test_the_alarms_cover_what_the_issue_asks() -> None:
    functions = set(resources("AWS::Lambda::Function"))
    tables = set(resources("AWS::DynamoDB::Table"))
    namespace = STACK.resolve(
        cloudformation()["Resources"]["LoginFunction"]["Properties"]["Environment"]["Variables"][
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
    )

    def covered(namespace: str, name: str, dimension: str) -> set[str]:
        return {
            ref.logical_id for w in _watching(namespace, name).values() for ref in _dimension(w, dimension)
        }

    assert _watching("AWS/ApiGateway", "5XXError") and _watching("AWS/ApiGateway", "Latency")
    assert covered("AWS/Lambda", "Throttles", "FunctionName") == functions
    # The authorizer's Errors count every refused token: its own failures and the gateway's 500s
    # for it are watched instead.
    assert covered("AWS/Lambda", "Errors", "FunctionName") == functions - {"AuthorizerFunction"}
    assert _watching(namespace, "AuthorizerFailures") and _watching(namespace, "AuthorizerErrors")
    assert covered("AWS/DynamoDB", "ThrottledRequests", "TableName") == tables
    assert covered("AWS/DynamoDB", "SystemErrors", "TableName") == tables
    for signal in ("LoginFailures", "LoginsLockedOut", "RefreshReuseDetected"):
        assert _watching(namespace, signal), signal
    rotation = _watching("AWS/Lambda", "Errors")["SigningKeyRotationFailedAlarm"]
    assert _dimension(rotation, "FunctionName") == {Ref("SigningKeyRotationFunction")}


def test_the_latency_alarm_watches_p99_and_the_error_alarm_a_rate() -> None:
    latency = alarms()["ApiLatencyAlarm"]["Properties"]
    assert latency["ExtendedStatistic"] == "p99"
    # 5XXError is 1 for a request answered 5XX and 0 otherwise: its average is the error rate.
    assert alarms()["Api5xxAlarm"]["Properties"]["Statistic"] == "Average"


def test_every_alarm_notifies_the_topic_and_its_recovery_too() -> None:
    topic = {"Ref": "AlarmTopic"}
    for logical_id, alarm in alarms().items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic] and props["OKActions"] == [topic], logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id
    subscription = resources("AWS::SNS::Subscription")["AlarmEmailSubscription"]
    assert subscription["Condition"] == "AlarmEmailGiven"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_only_this_accounts_alarms_may_publish_to_the_topic() -> None:
    (policy,) = resources("AWS::SNS::TopicPolicy").values()
    allow, deny = policy["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_every_threshold_is_a_parameter_the_runbook_explains() -> None:
    """Each alarm's description links to its section (tests/unit/test_runbook.py checks every link
    to docs/OPERATIONS.md lands on a heading), which explains its threshold parameter."""
    runbook = OPERATIONS_MD.read_text()
    parameters = cloudformation()["Parameters"]
    for logical_id, alarm in alarms().items():
        props = alarm["Properties"]
        threshold = props["Threshold"]
        if logical_id in FIXED_THRESHOLDS:
            assert threshold == FIXED_THRESHOLDS[logical_id]
        else:
            assert list(threshold) == ["Ref"] and threshold["Ref"] in parameters, logical_id
            assert f"`{threshold['Ref']}`" in runbook, (
                f"docs/OPERATIONS.md does not explain {threshold['Ref']}"
            )
        assert len(re.findall(r"docs/OPERATIONS\.md#[a-z0-9-]+", props["AlarmDescription"])) == 1, logical_id


# --- the dashboard --------------------------------------------------------------------------

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9:]+)\}")
_SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]+)\} (?P<terms>[^']*)', '(?P<stat>\w+)', \d+\)")
_TERM = re.compile(r'(\w+)="([^"]*)"')


def dashboard() -> dict[str, Any]:
    """The dashboard's body, with parameters and pseudo parameters resolved; ``${LogicalId}`` of a
    resource stays, to be read as a ``Ref``."""
    (resource,) = resources("AWS::CloudWatch::Dashboard").values()
    text = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    names = cloudformation()["Resources"]

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0) if name in names else STACK.resolve({"Ref": name})

    return json.loads(_SUB_NAME.sub(substitute, text))


def _value(value: str) -> Any:
    match = re.fullmatch(r"\$\{(\w+)\}", value)
    return Ref(match.group(1)) if match else value


def graphed(title: str, entry: list[Any]) -> Watched | None:
    """The metric one line of a graph reads, or None for a math expression over other lines."""
    if isinstance(entry[0], dict):
        expression = entry[0]["expression"]
        if expression.startswith("SELECT"):
            return insights_query(title, expression)
        search = _SEARCH.fullmatch(expression)
        if not search:
            return None
        namespace, *dimensions = search["schema"].split(",")
        terms = dict(_TERM.findall(search["terms"]))
        values = {name: _value(terms.get(name, "*")) for name in dimensions}
        return Watched(title, namespace, terms["MetricName"], tuple(sorted(values.items())))
    namespace, name, *rest = [part for part in entry if not isinstance(part, dict)]
    dimensions = tuple(sorted((rest[i], _value(rest[i + 1])) for i in range(0, len(rest), 2)))
    return Watched(title, namespace, name, dimensions)


def graphs() -> dict[str, list[Watched]]:
    found = {}
    for widget in dashboard()["widgets"]:
        if widget["type"] == "metric":
            title = widget["properties"]["title"]
            lines = [graphed(title, entry) for entry in widget["properties"]["metrics"]]
            found[title] = [line for line in lines if line]
    return found


def test_every_graph_of_the_dashboard_reads_a_metric_that_is_published(emitted: set[Metric]) -> None:
    watched = [line for lines in graphs().values() for line in lines]
    assert len(watched) > 30
    problems = {f"{w.where}: {w.name}": problem(w, emitted) for w in watched}
    assert {where: why for where, why in problems.items() if why} == {}


def test_the_dashboard_shows_what_the_issue_lists() -> None:
    shown = graphs()
    every = [line for lines in shown.values() for line in lines]

    def names(namespace: str, dimension: str) -> dict[str, set[Any]]:
        found: dict[str, set[Any]] = {}
        for line in every:
            if line.namespace == namespace and dimension in line.dimension_names:
                found.setdefault(line.name, set()).add(dict(line.dimensions)[dimension])
        return found

    # Requests, errors and latency per route: every method and resource of the stage.
    per_route = {
        line.name
        for line in every
        if line.namespace == "AWS/ApiGateway"
        and line.dimension_names == {"ApiName", "Method", "Resource", "Stage"}
        and dict(line.dimensions)["Method"] == dict(line.dimensions)["Resource"] == "*"
    }
    assert {"Count", "5XXError", "Latency"} <= per_route
    namespace = STACK.resolve(
        cloudformation()["Resources"]["LoginFunction"]["Properties"]["Environment"]["Variables"][
            "POWERTOOLS_METRICS_NAMESPACE"
        ]
    )
    assert {"Logins", "LoginFailures", "LoginsLockedOut"} <= set(names(namespace, "service"))
    # The authorizer's cache: its invocations and the stage's requests on one graph.
    assert any(
        {(w.namespace, w.name) for w in lines} >= {("AWS/Lambda", "Invocations"), ("AWS/ApiGateway", "Count")}
        and Ref("AuthorizerFunction") in {dict(w.dimensions).get("FunctionName") for w in lines}
        for lines in shown.values()
    )
    tables = {Ref(name) for name in resources("AWS::DynamoDB::Table")}
    capacity = names("AWS/DynamoDB", "TableName")
    assert capacity["ConsumedReadCapacityUnits"] == capacity["ConsumedWriteCapacityUnits"] == tables
    api_functions = {
        Ref(name)
        for name in (
            "AuthorizerFunction",
            "SignupFunction",
            "LoginFunction",
            "BooksFunction",
            "UsersFunction",
        )
    }
    assert names(namespace, "function_name")["ColdStart"] == api_functions


def test_the_dashboard_shows_every_alarm() -> None:
    (widget,) = [w for w in dashboard()["widgets"] if w["type"] == "alarm"]
    shown = {re.fullmatch(r"\$\{(\w+)\.Arn\}", arn).group(1) for arn in widget["properties"]["alarms"]}
    assert shown == set(alarms())
