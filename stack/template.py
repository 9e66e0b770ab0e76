"""template.yaml read as data: its functions, routes and environments, with intrinsics resolved.

The local server, the operator CLI and the tests build their world from here, so none can drift
from the template: tables and secrets are created from its own definitions, and each function gets
exactly the environment variables the template gives it, with ``!Ref``, ``!Sub`` and ``!GetAtt``
resolved to the local names (or, for a deployed stack, to those its Outputs name).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"

_SUB_VARIABLE = re.compile(r"\$\{([A-Za-z0-9:._]+)\}")


@functools.cache
def template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def sub_names(text: str) -> list[str]:
    """The names a ``!Sub`` string refers to (``X`` or ``X.Attribute``), in order."""
    return _SUB_VARIABLE.findall(text)


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


def parameter_defaults() -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template().get("Parameters", {}).items()}


def environment_variables(function: str) -> dict[str, Any]:
    """The variables template.yaml declares for ``function`` (Globals, then its own), unresolved."""
    variables = dict(
        template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    variables.update(functions()[function]["Properties"].get("Environment", {}).get("Variables", {}))
    return variables


def layers(function: str) -> Any:
    """The Layers of ``function``, unresolved, merged with Globals' as the SAM transform merges them:
    two lists are joined; otherwise (an ``!If``, say) the function's own replace Globals'."""
    global_layers = template().get("Globals", {}).get("Function", {}).get("Layers")
    own = functions()[function]["Properties"].get("Layers")
    if own is None:
        return global_layers or []
    if isinstance(own, list) and isinstance(global_layers, list):
        return [*global_layers, *own]
    return own


def layer_ids(function: str, stack: Stack | None = None) -> list[str]:
    """The logical ids of the template's own layers of ``function``, in order, for ``stack``'s
    parameters (the template's defaults if none); a layer given by ARN (AWS's) is not among them."""
    chosen = (stack or Stack(name="", region="")).chosen(layers(function))
    return [layer["Ref"] for layer in chosen if isinstance(layer, Mapping) and "Ref" in layer]


def layer_python_dirs(function: str, stack: Stack | None = None) -> list[Path]:
    """The ``python/`` folders of ``function``'s layers, in order, as Lambda mounts them on
    ``/opt/python``, for ``stack``'s parameters (the template's defaults if none); a layer built
    entirely by ``sam build`` (pip) has none in the tree."""
    found = []
    for layer in layer_ids(function, stack):
        content = template()["Resources"][layer]["Properties"]["ContentUri"]
        if (ROOT / content / "python").is_dir():
            found.append(ROOT / content / "python")
    return found


def api_properties() -> dict[str, Any]:
    """The Properties of the template's one ``AWS::Serverless::Api`` (its Cors, Auth, GatewayResponses)."""
    (api,) = resources("AWS::Serverless::Api").values()
    return api["Properties"]


def _get_att_argument(argument: str | list[str]) -> tuple[str, str]:
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return logical_id, attribute


@dataclass
class Stack:
    """The template's resources as created somewhere (moto, or a test's mock): logical id -> name/ARN.

    ``resolve`` turns the intrinsics the template uses in function environments into strings, as
    CloudFormation would for a stack called ``name`` in ``region``.
    """

    name: str
    region: str
    physical: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_outputs(
        cls, name: str, region: str, outputs: Mapping[str, str], parameters: Mapping[str, str]
    ) -> Stack:
        """A deployed stack, known by its Outputs: each output that is a ``!Ref`` or ``!GetAtt X.Arn``
        of a resource names that resource."""
        stack = cls(name=name, region=region, parameters=dict(parameters))
        for output, spec in template().get("Outputs", {}).items():
            value = spec["Value"]
            if output not in outputs or not isinstance(value, Mapping):
                continue
            if "Ref" in value:
                stack.physical[value["Ref"]] = outputs[output]
            elif "Fn::GetAtt" in value:
                logical_id, attribute = _get_att_argument(value["Fn::GetAtt"])
                if attribute == "Arn":
                    stack.arns[logical_id] = outputs[output]
        return stack

    def ref(self, logical_id: str) -> str:
        return self.physical[logical_id]

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def _ref(self, name: str) -> str:
        if name in self.physical:
            return self.physical[name]
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        defaults = parameter_defaults()
        if name in defaults:
            return defaults[name]
        raise KeyError(f"template.yaml refers to {name}, which is not created locally")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn" and logical_id in self.arns:
            return self.arns[logical_id]
        raise KeyError(f"!GetAtt {logical_id}.{attribute} has no local value")

    def _sub(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(*name.split(".", 1))
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text)

    def resolve(self, value: Any) -> str:
        if isinstance(value, Mapping) and len(value) == 1:
            ((intrinsic, argument),) = value.items()
            if intrinsic == "Ref":
                return self._ref(argument)
            if intrinsic == "Fn::Sub" and isinstance(argument, str):
                return self._sub(argument)
            if intrinsic == "Fn::GetAtt":
                return self._get_att(*_get_att_argument(argument))
            if intrinsic == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
        if isinstance(value, Mapping | list):
            raise ValueError(f"unsupported value in a function environment: {value!r}")
        return str(value)

    def chosen(self, value: Any) -> list[Any]:
        """A list property with each ``!If`` (of the list, or of an item) replaced by its branch for
        this stack's parameters; an item that is ``AWS::NoValue`` is left out."""
        while isinstance(value, Mapping) and "Fn::If" in value:
            condition, if_true, if_false = value["Fn::If"]
            value = if_true if self.condition(condition) else if_false
        items = []
        for item in value:
            if isinstance(item, Mapping) and "Fn::If" in item:
                items.extend(self.chosen([item["Fn::If"][1 if self.condition(item["Fn::If"][0]) else 2]]))
            elif item != {"Ref": "AWS::NoValue"}:
                items.append(item)
        return items

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name`` for this stack's parameters."""
        return self._evaluate(template().get("Conditions", {})[name])

    def _evaluate(self, expression: Any) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = argument
            return self.resolve(left) == self.resolve(right)
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(part) for part in argument)
        if function == "Fn::Or":
            return any(self._evaluate(part) for part in argument)
        raise ValueError(f"unsupported condition: {expression!r}")

    def environment(self, function: str) -> dict[str, str]:
        """The environment variables template.yaml gives ``function`` (Globals, then its own)."""
        return {name: self.resolve(value) for name, value in environment_variables(function).items()}


def physical_name(stack_name: str, logical_id: str) -> str:
    """The name ``create_resources`` gives a table or secret of the stack called ``stack_name``."""
    return f"{stack_name}-{logical_id}"


def key_alias(stack_name: str, logical_id: str) -> str:
    """The alias ``create_resources`` gives a KMS key of the stack called ``stack_name``: KMS takes
    it wherever it takes the key's id or ARN, which moto makes up."""
    return f"alias/{physical_name(stack_name, logical_id)}"


def create_resources(stack: Stack, dynamodb: Any, secretsmanager: Any, kms: Any) -> Stack:
    """Create the template's tables, secrets and KMS keys through the given clients (moto's),
    named after ``stack``.

    Tables get the template's own key schema, indexes and TTL; secrets a random value of the
    template's length, as ``GenerateSecretString`` would; keys are symmetric, as the template's,
    each with an alias (``key_alias``).
    """
    for logical_id, res in resources("AWS::DynamoDB::Table").items():
        props = res["Properties"]
        name = physical_name(stack.name, logical_id)
        request = {
            key: props[key]
            for key in ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
            if key in props
        }
        description = dynamodb.create_table(TableName=name, **request)["TableDescription"]
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )
        stack.physical[logical_id] = name
        stack.arns[logical_id] = description["TableArn"]
    for logical_id, res in resources("AWS::SecretsManager::Secret").items():
        generate = res["Properties"]["GenerateSecretString"]
        value = secretsmanager.get_random_password(
            PasswordLength=generate["PasswordLength"],
            ExcludePunctuation=generate.get("ExcludePunctuation", False),
        )["RandomPassword"]
        name = physical_name(stack.name, logical_id)
        arn = secretsmanager.create_secret(Name=name, SecretString=value)["ARN"]
        stack.physical[logical_id] = arn
        stack.arns[logical_id] = arn
    for logical_id, res in resources("AWS::KMS::Key").items():
        metadata = kms.create_key(Description=res["Properties"].get("Description", logical_id))["KeyMetadata"]
        kms.create_alias(AliasName=key_alias(stack.name, logical_id), TargetKeyId=metadata["KeyId"])
        stack.physical[logical_id] = metadata["KeyId"]
        stack.arns[logical_id] = metadata["Arn"]
    return stack
