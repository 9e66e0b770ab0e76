"""The delivery pipeline: the workflows in .github/workflows (actionlint lints them in `make scan`)
and the roles they deploy with (pipeline/deploy-roles.yaml).

- No long-lived keys: the deploy jobs get short-lived credentials from GitHub's OIDC token, and a
  stage's role trusts only the jobs of that stage's GitHub environment in the one repository.
- Prod runs only after dev deployed and passed its smoke test, in the `prod` environment (whose
  required reviewers are the manual approval).
- Every action is pinned by a full commit SHA.
- Least privilege: the pipeline role may only run change sets of its stack; CloudFormation's role
  grants exactly the actions CloudFormation's own resource schemas (shipped with cfn-lint) say the
  handlers of the stack's resource types call, less those of features the stack does not use.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import cfnlint
import pytest
from samcli.yamlhelper import yaml_parse

from stack.template import ROOT, resources, template
from tools.sam_transform import transformed

WORKFLOWS = ROOT / ".github" / "workflows"
ROLES = ROOT / "pipeline" / "deploy-roles.yaml"
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas" / "resources"
# The template with every option on: all its resource types.
OPTIONS_ON = {"WafEnabled": "true", "StrictRevocation": "true", "DeletionProtection": "true"}

# Actions the resource handlers may call that CloudFormation's role does not get, and why.
NOT_GRANTED = {
    "the web ACL is associated with API Gateway only, not with these other services": {
        *("amplify:AssociateWebACL", "amplify:DisassociateWebACL", "amplify:GetWebACLForResource"),
        *("apprunner:AssociateWebAcl", "apprunner:DescribeWebAclForService", "apprunner:DisassociateWebAcl"),
        *("appsync:AssociateWebACL", "appsync:DisassociateWebACL", "appsync:GetWebACLForResource"),
        "appsync:SetWebACL",
        "bedrock-agentcore:GatewayAssociateWebACL",
        "bedrock-agentcore:GatewayDisassociateWebACL",
        "bedrock-agentcore:GatewayGetWebACLForResource",
        *(
            "cognito-idp:AssociateWebACL",
            "cognito-idp:DisassociateWebACL",
            "cognito-idp:GetWebACLForResource",
        ),
        "ec2:AssociateVerifiedAccessInstanceWebAcl",
        "ec2:DescribeVerifiedAccessInstanceWebAclAssociations",
        "ec2:DisassociateVerifiedAccessInstanceWebAcl",
        "ec2:GetVerifiedAccessInstanceWebAcl",
        "elasticloadbalancing:CreateWebACLAssociation",
        "elasticloadbalancing:DeleteWebACLAssociation",
        "elasticloadbalancing:GetLoadBalancerWebACL",
        "elasticloadbalancing:SetWebACL",
    },
    "no function runs in a VPC or mounts a file system": {
        *("ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets"),
        *("ec2:DescribeVpcs", "elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"),
    },
    "no function uses a capacity provider (and AssociateRuntimeAlias is no IAM action cfn-lint knows)": {
        "lambda:PassCapacityProvider",
        "lambda:AssociateRuntimeAlias",
    },
    "tables, secrets, logs and environments use AWS-managed keys; the one customer-managed key "
    "(of the TOTP secrets) is used by the functions alone, and has no alias": {
        *("kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"),
        *("kms:ListAliases", "kms:RevokeGrant"),
    },
    "WAF logs to CloudWatch Logs, not to Firehose or S3; no table streams to Kinesis": {
        *("firehose:ListDeliveryStreams", "firehose:TagDeliveryStream", "kinesis:DescribeStream"),
        *("kinesis:PutRecords", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:REST.PUT.OBJECT"),
    },
    "no table is imported from S3 or replicated, so CloudFormation writes no item": {
        *("dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"),
        *("dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem", "dynamodb:ImportTable"),
        *("dynamodb:DescribeImport", "dynamodb:CreateTableReplica", "dynamodb:AssociateTableReplica"),
        *("s3:GetObjectMetadata", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
    },
    "no secret is replicated to other regions": {
        "secretsmanager:ReplicateSecretToRegions",
        "secretsmanager:RemoveRegionsFromReplication",
    },
    "no service-linked role is made, and no organisation is read": {
        "iam:CreateServiceLinkedRole",
        "iam:DescribeOrganization",
    },
    "nothing of CodeDeploy's on-premises instances, or of payments": {
        "codedeploy:RegisterOnPremisesInstance",
        "payments:GetConnectedAccount",
    },
}
# Actions that name no resource of their own (or one with a generated name), granted on "*".
ON_EVERY_RESOURCE = {
    "secretsmanager:GetRandomPassword",
    "kms:CreateKey",
    *("logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups"),
    *("logs:DescribeResourcePolicies", "logs:PutResourcePolicy", "logs:DeleteResourcePolicy"),
}


@functools.cache
def roles_template() -> dict[str, Any]:
    return yaml_parse(ROLES.read_text())


def workflow(name: str) -> dict[str, Any]:
    parsed = yaml_parse((WORKFLOWS / name).read_text())
    parsed["on"] = parsed.pop(True)  # YAML 1.1 reads the key `on` as true; GitHub does not
    return parsed


def statements(role: str) -> list[dict[str, Any]]:
    policies = roles_template()["Resources"][role]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(role: str) -> set[str]:
    return {action for statement in statements(role) for action in as_list(statement["Action"])}


@functools.cache
def handler_actions() -> frozenset[str]:
    """What CloudFormation's handlers may call to create, read, update and delete every resource
    type of the stack (the translated template, every option on)."""
    schemas = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        if "typeName" in schema:
            schemas[schema["typeName"]] = schema
    types = {res["Type"] for res in transformed(parameters=OPTIONS_ON)["Resources"].values()}
    return frozenset(
        action
        for kind in types
        for handler in ("create", "read", "update", "delete")
        for action in schemas[kind]["handlers"].get(handler, {}).get("permissions", [])
    )


# --- the workflows ----------------------------------------------------------------------------


def test_every_action_is_pinned_by_a_full_commit_sha_and_names_its_version() -> None:
    uses = [
        (path.name, line.strip())
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    remote = [(name, line) for name, line in uses if "./.github/" not in line]
    assert len(remote) >= 8
    for name, line in remote:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), (name, line)


def test_pull_requests_run_make_test_with_read_only_permissions() -> None:
    tests = workflow("test.yml")
    assert set(tests["on"]) == {"pull_request", "workflow_call"}
    assert tests["permissions"] == {"contents": "read"}
    runs = [step.get("run") for step in tests["jobs"]["test"]["steps"]]
    assert "make test" in runs


def test_main_is_tested_built_once_then_deployed_to_dev_and_only_then_to_prod() -> None:
    pipeline = workflow("pipeline.yml")
    assert pipeline["on"]["push"] == {"branches": ["main"]}
    assert pipeline["permissions"] == {"contents": "read"}
    assert pipeline["concurrency"]["cancel-in-progress"] is False
    jobs = pipeline["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    assert jobs["build"]["needs"] == "test"
    assert jobs["deploy-dev"] | {"needs": None} == jobs["deploy-prod"] | {
        "needs": None,
        "with": {"environment": "dev"},
    }
    assert (jobs["deploy-dev"]["needs"], jobs["deploy-dev"]["with"]) == ("build", {"environment": "dev"})
    assert (jobs["deploy-prod"]["needs"], jobs["deploy-prod"]["with"]) == (
        "deploy-dev",
        {"environment": "prod"},
    )
    # Only the deploy jobs may ask GitHub for an OIDC token.
    for name, job in jobs.items():
        assert ("id-token" in job.get("permissions", {})) == name.startswith("deploy-"), name


def test_a_stage_deploys_in_its_github_environment_with_its_oidc_role_and_no_stored_keys() -> None:
    deploy = workflow("deploy.yml")
    (job,) = deploy["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    steps = {step.get("name") or step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    credentials = steps["Assume the stage's pipeline role"]
    assert credentials["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert credentials["with"]["role-to-assume"] == "${{ vars.PIPELINE_EXECUTION_ROLE }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    for path in WORKFLOWS.glob("*.yml"):
        assert "secrets." not in path.read_text(), path.name
    command = " ".join(steps["sam deploy"]["run"].split())
    for part in (
        '--config-env "$CONFIG_ENV"',
        '--role-arn "$CLOUDFORMATION_EXECUTION_ROLE"',
        '--s3-bucket "$ARTIFACTS_BUCKET"',
        "--template-file .aws-sam/build/template.yaml",
        "--no-confirm-changeset",
    ):
        assert part in command
    assert "tools.smoke --config-env" in steps["Smoke test"]["run"]
    # The build the run made, not a new one.
    assert steps["actions/download-artifact"]["with"]["name"] == "sam-build"
    assert "sam build" not in json.dumps(job["steps"])


def test_the_stages_github_variables_are_the_outputs_of_the_roles_template() -> None:
    used = set(re.findall(r"vars\.(\w+)", (WORKFLOWS / "deploy.yml").read_text()))
    described = {
        match
        for output in roles_template()["Outputs"].values()
        for match in re.findall(r"The GitHub environment's (\w+) variable", output["Description"])
    }
    assert used == described | {"AWS_REGION"}


# --- the roles ----------------------------------------------------------------------------------


def test_a_stages_role_trusts_only_its_environments_jobs_in_the_one_repository() -> None:
    role = roles_template()["Resources"]["PipelineExecutionRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"]["Fn::Sub"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::Sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}"
            },
        }
    }
    provider = roles_template()["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_pipeline_role_may_only_run_change_sets_of_its_stack() -> None:
    by_sid = {statement["Sid"]: statement for statement in statements("PipelineExecutionRole")}
    stack = by_sid["ChangeSetsOfTheStack"]
    assert stack["Resource"]["Fn::Sub"].endswith(":stack/${AppStackName}/*")
    assert all(action.startswith("cloudformation:") for action in stack["Action"])
    assert by_sid["TheSamTransform"]["Resource"]["Fn::Sub"].endswith(":aws:transform/Serverless-2016-10-31")
    passing = by_sid["HandCloudFormationItsRole"]
    assert passing["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
    for statement in statements("PipelineExecutionRole"):
        assert statement["Effect"] == "Allow" and "*" not in json.dumps(statement["Resource"]).replace(
            "/*", ""
        )
    assert {action.split(":")[0] for action in granted("PipelineExecutionRole")} == {
        "cloudformation",
        "s3",
        "iam",
    }


def test_cloudformations_role_grants_what_the_resource_handlers_call_less_the_unused_features() -> None:
    not_granted = set().union(*NOT_GRANTED.values())
    assert not_granted <= handler_actions(), sorted(not_granted - handler_actions())  # none stale
    assert granted("CloudFormationExecutionRole") == handler_actions() - not_granted


def test_cloudformations_role_names_the_stacks_resources_wherever_their_names_allow() -> None:
    for statement in statements("CloudFormationExecutionRole"):
        actions = set(as_list(statement["Action"]))
        assert statement["Effect"] == "Allow"
        assert not any(action == "*" or action.endswith(":*") for action in actions)
        if statement["Resource"] == "*":
            assert actions <= ON_EVERY_RESOURCE, statement["Sid"]
        else:
            assert "${AppStackName}" in json.dumps(statement["Resource"]) or statement["Sid"] in {
                "CodeSigningConfigsAreOnlyRead",
                "Layers",
                "TheSecretsExtensionLayer",
                "FunctionCode",
                "FunctionCodeBucket",
                "Keys",
                "RestApis",
                "Secrets",
                "WebAcl",
            }, statement["Sid"]


def _sid(role: str, sid: str) -> dict[str, Any]:
    (statement,) = [s for s in statements(role) if s["Sid"] == sid]
    return statement


def test_cloudformations_role_covers_the_secrets_layers_and_managed_policies_of_the_template() -> None:
    secrets = {
        r["Fn::Sub"].rsplit(":secret:", 1)[1]
        for r in _sid("CloudFormationExecutionRole", "Secrets")["Resource"]
    }
    assert secrets == {f"{name}-*" for name in resources("AWS::SecretsManager::Secret")}
    layers = {
        r["Fn::Sub"].split(":layer:", 1)[1] for r in _sid("CloudFormationExecutionRole", "Layers")["Resource"]
    }
    assert layers == {
        f"{name}{suffix}" for name in resources("AWS::Serverless::LayerVersion") for suffix in ("", ":*")
    }
    extension = template()["Mappings"]["ParametersSecretsExtension"]["us-east-1"]["Arm64"]
    layer = _sid("CloudFormationExecutionRole", "TheSecretsExtensionLayer")["Resource"]["Fn::Sub"]
    assert re.fullmatch(
        layer.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1").replace("*", ".*"),
        extension,
    )
    attachable = {
        arn["Fn::Sub"].replace("${AWS::Partition}", "aws")
        for arn in _sid("CloudFormationExecutionRole", "OnlyTheManagedPoliciesTheStackUses")["Condition"][
            "ArnEquals"
        ]["iam:PolicyARN"]
    }
    used = {
        arn["Fn::Sub"].replace("${AWS::Partition}", "aws") if isinstance(arn, dict) else arn
        for res in transformed(parameters=OPTIONS_ON)["Resources"].values()
        if res["Type"] == "AWS::IAM::Role"
        for arn in res["Properties"].get("ManagedPolicyArns", [])
    }
    assert attachable == used


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_samconfigs_stacks_fit_the_roles_stack_name_parameter(environment: str) -> None:
    import tomllib

    stack = tomllib.loads((ROOT / "samconfig.toml").read_text())[environment]["global"]["parameters"][
        "stack_name"
    ]
    parameter = roles_template()["Parameters"]["AppStackName"]
    assert re.fullmatch(parameter["AllowedPattern"], stack)
    assert environment in roles_template()["Parameters"]["GitHubEnvironment"]["AllowedValues"]
