"""Safe deployments, read in the template after the SAM transform: every integration and the
authorizer call a function's live alias (never $LATEST), API Gateway may invoke exactly those
aliases, CodeDeploy moves each alias as DeploymentType says and rolls back on the rollback alarms,
and those alarms can go off inside the shortest canary window."""

from __future__ import annotations

import functools
import re
import shlex
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from stack.template import ROOT, routes, template
from tools.sam_transform import transformed

ALIAS = template()["Globals"]["Function"]["AutoPublishAlias"]
# The functions API Gateway invokes; the rotation function is Secrets Manager's.
API_FUNCTIONS = {"AuthorizerFunction", "SignupFunction", "LoginFunction", "BooksFunction", "UsersFunction"}
INVOKE = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
ROLLBACK_EVENTS = {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"}


@functools.cache
def cloudformation(**parameters: str) -> dict[str, Any]:
    return transformed(parameters=parameters)


def resources(kind: str, **parameters: str) -> dict[str, dict[str, Any]]:
    return {
        name: res for name, res in cloudformation(**parameters)["Resources"].items() if res["Type"] == kind
    }


def alias_of(function: str) -> str:
    """The logical id of ``function``'s live alias, checked to be one."""
    logical_id = f"{function}Alias{ALIAS}"
    alias = resources("AWS::Lambda::Alias")[logical_id]["Properties"]
    assert alias["Name"] == ALIAS
    assert alias["FunctionName"] == {"Ref": function}
    assert "Fn::GetAtt" in alias["FunctionVersion"]  # a published version, never $LATEST
    return logical_id


def alias_arn(function: str) -> list[Any]:
    """The ways the template may name ``function``'s live alias ARN."""
    return [
        {"Ref": alias_of(function)},
        {"Fn::Sub": f"${{{alias_of(function)}}}"},
        {"Fn::Sub": f"${{{function}.Arn}}:{ALIAS}"},
    ]


def api_body() -> dict[str, Any]:
    return resources("AWS::ApiGateway::RestApi")["Api"]["Properties"]["Body"]


def test_every_route_integration_calls_its_functions_live_alias() -> None:
    integrations = {
        (method.upper(), path): operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path, operations in api_body()["paths"].items()
        for method, operation in operations.items()
        if "x-amazon-apigateway-integration" in operation
        and operation["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    }
    expected = {(method, path): function for method, path, function, _ in routes()}
    assert set(integrations) == set(expected)
    for route, uri in integrations.items():
        assert uri == f"{INVOKE}${{{alias_of(expected[route])}}}/invocations", route


def test_the_authorizer_is_called_through_its_live_alias() -> None:
    scheme = api_body()["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    uri, arguments = scheme["authorizerUri"]["Fn::Sub"]
    assert uri.endswith("/functions/${__FunctionArn__}/invocations")
    assert arguments["__FunctionArn__"] in alias_arn("AuthorizerFunction")
    # The alias is made before the API, and so before the permission SAM derives from it.
    assert "AuthorizerFunctionAlias" + ALIAS in resources("AWS::ApiGateway::RestApi")["Api"]["DependsOn"]


def test_api_gateway_may_invoke_the_aliases_and_nothing_else() -> None:
    permissions = [
        p["Properties"]
        for p in resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    targets = [p["FunctionName"] for p in permissions]
    assert all(any(t in alias_arn(f) for f in API_FUNCTIONS) for t in targets), targets
    for function in API_FUNCTIONS:
        assert any(t in alias_arn(function) for t in targets), (
            f"API Gateway may not invoke {function}'s alias"
        )
    # One permission per route, on the route's own method and path.
    for method, path, function, _ in routes():
        arns = [
            p["SourceArn"]["Fn::Sub"][0]
            for p in permissions
            if p["FunctionName"] in alias_arn(function) and "Fn::Sub" in p["SourceArn"]
        ]
        assert any(arn.endswith(f"/{method}{re.sub(r'{[^}]+}', '*', path)}") for arn in arns), (method, path)


def deployment_groups(**parameters: str) -> dict[str, dict[str, Any]]:
    return resources("AWS::CodeDeploy::DeploymentGroup", **parameters)


def rollback_alarms() -> list[str]:
    return [alarm["Ref"] for alarm in template()["Globals"]["Function"]["DeploymentPreference"]["Alarms"]]


def test_codedeploy_moves_each_api_function_alias_and_rolls_back_on_the_alarms() -> None:
    groups = deployment_groups()
    assert set(groups) == {f"{function}DeploymentGroup" for function in API_FUNCTIONS}
    for function in API_FUNCTIONS:
        group = groups[f"{function}DeploymentGroup"]["Properties"]
        assert group["DeploymentStyle"] == {
            "DeploymentType": "BLUE_GREEN",
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        }
        assert set(group["AutoRollbackConfiguration"]["Events"]) == ROLLBACK_EVENTS
        assert group["AlarmConfiguration"] == {
            "Enabled": True,
            "Alarms": [{"Name": {"Ref": a}} for a in rollback_alarms()],
        }
        update = resources("AWS::Lambda::Alias")[alias_of(function)]["UpdatePolicy"][
            "CodeDeployLambdaAliasUpdate"
        ]
        assert update["DeploymentGroupName"] == {"Ref": f"{function}DeploymentGroup"}
    # The rotation function's alias is not shifted gradually: Secrets Manager calls the function
    # for each of a rotation's four steps, which a canary could split across two versions.
    assert "UpdatePolicy" not in resources("AWS::Lambda::Alias")[alias_of("SigningKeyRotationFunction")]


@pytest.mark.parametrize(
    "deployment_type", ["Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce"]
)
def test_the_deployment_type_is_the_parameter(deployment_type: str) -> None:
    for group in deployment_groups(DeploymentType=deployment_type).values():
        assert group["Properties"]["DeploymentConfigName"] == {
            "Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": deployment_type}]
        }


def test_dev_deploys_all_at_once_and_prod_by_canary() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())

    def deployment_type(environment: str) -> str:
        overrides = dict(
            pair.split("=", 1)
            for pair in shlex.split(config[environment]["deploy"]["parameters"]["parameter_overrides"])
        )
        return overrides.get("DeploymentType", template()["Parameters"]["DeploymentType"]["Default"])

    assert deployment_type("dev") == deployment_type("default") == "AllAtOnce"
    assert deployment_type("prod").startswith(("Canary", "Linear"))
    assert template()["Parameters"]["DeploymentType"]["Default"].startswith("Canary")


def test_every_rollback_alarm_can_go_off_inside_the_shortest_canary() -> None:
    """Canary10Percent5Minutes moves everything after 5 minutes; an alarm that needs longer to go
    off would roll nothing back."""
    alarms = resources("AWS::CloudWatch::Alarm")
    assert {"Api5xxAlarm", "AuthorizerErrorsAlarm", "AuthorizerFailuresAlarm"} <= set(rollback_alarms())
    assert {f"{f}ErrorsAlarm" for f in API_FUNCTIONS - {"AuthorizerFunction"}} <= set(rollback_alarms())
    for name in rollback_alarms():
        props = alarms[name]["Properties"]
        assert props["Period"] * props["DatapointsToAlarm"] <= 5 * 60, name


# --- SnapStart (the SnapStart parameter; docs/PERFORMANCE.md) -------------------------------
SNAPSTART_FUNCTIONS = {"SignupFunction", "LoginFunction", "BooksFunction", "UsersFunction"}


@functools.cache
def created_functions(**parameters: str) -> dict[str, dict[str, Any]]:
    from tools.sam_transform import created

    return {
        name: res["Properties"]
        for name, res in created(parameters).items()
        if res["Type"] == "AWS::Lambda::Function"
    }


@pytest.mark.parametrize("on", ["true", "false"])
def test_snapstart_applies_to_the_api_functions_versions_only_when_on(on: str) -> None:
    functions = created_functions(SnapStart=on)
    assert set(functions) >= SNAPSTART_FUNCTIONS | {"AuthorizerFunction", "SigningKeyRotationFunction"}
    for name, properties in functions.items():
        wanted = "PublishedVersions" if on == "true" and name in SNAPSTART_FUNCTIONS else "None"
        assert properties["SnapStart"] == {"ApplyOn": wanted}, name
        # SnapStart and provisioned concurrency exclude each other; the template has none.
        assert "ProvisionedConcurrencyConfig" not in properties, name
        # No EFS and no ephemeral storage above 512 MB, which SnapStart does not support.
        assert "FileSystemConfigs" not in properties, name
        assert properties.get("EphemeralStorage", {"Size": 512})["Size"] <= 512, name
    for alias in resources("AWS::Lambda::Alias", SnapStart=on).values():
        assert "ProvisionedConcurrencyConfig" not in alias["Properties"]


def test_snapstart_functions_read_secrets_without_the_extension() -> None:
    """The extension needs AWS_SESSION_TOKEN, which SnapStart's restored functions do not get."""
    on, off = created_functions(SnapStart="true"), created_functions(SnapStart="false")
    for name in SNAPSTART_FUNCTIONS:
        assert on[name]["Environment"]["Variables"]["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == ""
        assert not any("Parameters-and-Secrets" in str(layer) for layer in on[name]["Layers"])
        assert off[name]["Environment"]["Variables"]["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == "2773"
    # The authorizer keeps its extension either way.
    for functions in (on, off):
        authorizer = functions["AuthorizerFunction"]
        assert authorizer["Environment"]["Variables"]["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == "2773"
        assert any("Parameters-and-Secrets" in str(layer) for layer in authorizer["Layers"])


def _another_value(spec: dict[str, Any]) -> str:
    """A valid value of a parameter other than its default."""
    default = str(spec.get("Default", ""))
    if "AllowedValues" in spec:
        return next(str(value) for value in spec["AllowedValues"] if str(value) != default)
    if spec["Type"] == "Number":
        return str(int(spec.get("MinValue", 0)) + (1 if str(spec.get("MinValue", 0)) == default else 0))
    return "https://books.example.com" if default == "*" else default + "x"


def test_a_new_value_of_any_parameter_a_function_reads_publishes_a_version_of_it() -> None:
    """API Gateway calls the live alias: a published version, whose configuration is frozen. SAM
    publishes one when the code changes, not when a parameter does (its version id is the same:
    checked here). So a new value of any parameter must change each alias-called function's
    version description exactly when it changes that function's configuration: a changed
    description replaces the version, publishing the function as now configured, and a changed
    description over an unchanged configuration would fail the update (Lambda publishes no
    version of it)."""
    template = cloudformation()
    functions = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Lambda::Function"
    }
    versions = {
        res["Properties"]["FunctionName"]["Ref"]: (name, res["Properties"])
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Lambda::Version"
    }
    published: dict[str, set[str]] = {function: set() for function in API_FUNCTIONS}
    for parameter, spec in template["Parameters"].items():
        changed = {parameter: _another_value(spec)}
        for function in API_FUNCTIONS:
            configuration = {key: value for key, value in functions[function].items() if key != "Tags"}
            version_id, version = versions[function]
            reconfigured = _as_created(configuration, {}) != _as_created(configuration, changed)
            described = _as_created(version["Description"], {}) != _as_created(
                version["Description"], changed
            )
            assert reconfigured == described, (function, parameter, reconfigured)
            if described:
                published[function].add(parameter)
                # The reason the description must: SAM's version id does not follow the value.
                assert version_id in resources("AWS::Lambda::Version", **changed), (function, parameter)
    assert {"LogLevel", "KeyCacheSeconds", "Architecture"} <= set.intersection(*published.values())
    assert {"BcryptCost", "SnapStart", "SecretsExtension"} <= published["LoginFunction"]
    assert "BcryptCost" not in published["BooksFunction"]
    longest = {
        "CorsAllowOrigin": "https://" + "a" * (template["Parameters"]["CorsAllowOrigin"]["MaxLength"] - 8)
    }
    for _, version in versions.values():
        assert len(_as_created(version.get("Description", ""), longest)) <= 256


def test_scans_cover_snapstart_and_the_catalogue_cache_on() -> None:
    makefile = (ROOT / "Makefile").read_text()
    options = re.search(r"^OPTIONS_ON := (.*)$", makefile, re.MULTILINE)
    assert options
    assert {"SnapStart=true", "CatalogueCacheSeconds=30"} <= set(shlex.split(options.group(1)))


# --- the catalogue's cache (the CatalogueCacheSeconds parameter; docs/PERFORMANCE.md) ---------


def _as_created(value: Any, parameters: dict[str, str]) -> Any:
    """``value`` with the template's conditions and parameters as CloudFormation resolves them for
    ``parameters`` (and the defaults): Fn::If, Fn::Not, Fn::Equals, Ref, AWS::NoValue."""
    declared = cloudformation()["Parameters"]
    values = {name: str(parameters.get(name, spec.get("Default", ""))) for name, spec in declared.items()}

    def condition(name: str) -> bool:
        return bool(resolve(cloudformation()["Conditions"][name]))

    intrinsics: dict[str, Any] = {
        "Ref": lambda name: _NO_VALUE if name == "AWS::NoValue" else values.get(name, {"Ref": name}),
        "Fn::If": lambda args: resolve(args[1] if condition(args[0]) else args[2]),
        "Fn::Not": lambda args: not resolve(args[0]),
        "Fn::And": lambda args: all(resolve(arg) for arg in args),
        "Fn::Or": lambda args: any(resolve(arg) for arg in args),
        "Fn::Equals": lambda args: str(resolve(args[0])) == str(resolve(args[1])),
        "Condition": condition,
        "Fn::Sub": lambda args: _substituted(args, values, resolve),
    }

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in intrinsics:
            ((name, argument),) = node.items()
            return intrinsics[name](argument)
        resolved = {key: resolve(item) for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    return resolve(value)


_NO_VALUE = object()


def _substituted(args: Any, values: dict[str, str], resolve: Callable[[Any], Any]) -> Any:
    """A Fn::Sub's text with the names it is given and the parameters' values put in (others,
    such as ``${AWS::StackName}`` or a resource's, are left as they are)."""
    text, names = (args, {}) if isinstance(args, str) else (args[0], resolve(args[1]))
    given = {**values, **{name: str(value) for name, value in names.items()}}
    return re.sub(r"\$\{([^}.!]+)\}", lambda name: given.get(name[1], name[0]), text)


def _stage(**parameters: str) -> dict[str, Any]:
    stage = resources("AWS::ApiGateway::Stage")["ApiStage"]["Properties"]
    return dict(_as_created(stage, parameters))


def test_by_default_the_api_has_no_cache() -> None:
    stage = _stage()
    assert stage["CacheClusterEnabled"] is False
    assert "CacheClusterSize" not in stage
    assert [setting["ResourcePath"] for setting in stage["MethodSettings"]] == ["/*"]
    assert not any(setting.get("CachingEnabled") for setting in stage["MethodSettings"])


def test_the_catalogue_cache_holds_get_books_alone_encrypted_for_its_seconds() -> None:
    stage = _stage(CatalogueCacheSeconds="30")
    assert stage["CacheClusterEnabled"] is True and stage["CacheClusterSize"] == "0.5"
    every, books = stage["MethodSettings"]
    assert every["ResourcePath"] == "/*" and not every.get("CachingEnabled")
    assert (books["ResourcePath"], books["HttpMethod"]) == ("/~1books", "GET")
    assert books["CachingEnabled"] is True and books["CacheDataEncrypted"] is True
    assert str(books["CacheTtlInSeconds"]) == "30"
    # A method's own settings replace the stage's: the throttling is repeated, not lost.
    for name in ("ThrottlingRateLimit", "ThrottlingBurstLimit", "MetricsEnabled"):
        assert books[name] == every[name], name


def test_a_cached_page_is_keyed_by_its_query_and_no_other_route_is_cached() -> None:
    """The cache key is what makes one page differ from another: a page of 5 is no page of 20,
    and each next_token is its own page. Every other route keeps no cache key (and no cache)."""
    paths = api_body()["paths"]
    assert sorted(paths["/books"]["get"]["x-amazon-apigateway-integration"]["cacheKeyParameters"]) == [
        "method.request.querystring.limit",
        "method.request.querystring.next_token",
    ]
    assert not any(p["required"] for p in paths["/books"]["get"]["parameters"])
    for path, methods in paths.items():
        for method, operation in methods.items():
            if (path, method) != ("/books", "get") and isinstance(operation, dict):
                integration = operation.get("x-amazon-apigateway-integration", {})
                assert not integration.get("cacheKeyParameters"), (path, method)
