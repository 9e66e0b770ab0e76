"""template.yaml as CloudFormation sees it after the SAM transform, for scanners (checkov).

The raw SAM template hides what the transform generates (each function's role and policies, the
API's stage and methods, the layer versions), so a scanner that reads it checks too little.
``sam package`` would upload the code and put S3 URIs in place of the local folders; here the
folders become placeholder S3 URIs instead, so the transform runs offline. ``created`` goes one
step further, for the tests: the functions and layers a stack gets for given parameter values.

    python -m tools.sam_transform [OUTPUT.json [NAME=VALUE ...]]

Each NAME=VALUE becomes that parameter's default in the output: checkov evaluates conditions
with the defaults, so resources behind an option off by default (the WAF web ACL, strict
revocation's policy) are scanned only in an output with the option on.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

import boto3
from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
from samcli.lib.providers.sam_base_provider import SamBaseProvider
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
_CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
_CODE_TYPES = ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion")


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` with each local code folder replaced by an S3 URI, as ``sam package`` leaves it."""
    result = copy.deepcopy(template)
    for name, resource in result["Resources"].items():
        prop = _CODE_PROPERTIES.get(resource["Type"])
        if prop and isinstance(resource["Properties"].get(prop), str):
            resource["Properties"][prop] = f"s3://books-api-artifacts/{name}.zip"
    return result


def transformed(template_path: Path = TEMPLATE, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of ``template_path``, with no AWS call:
    the region is fixed and the template names no managed policy that would need an IAM lookup.

    ``parameters`` are the stack's parameter values, as CloudFormation hands them to the transform
    (the rest take their defaults): SAM resolves some properties with them, such as a
    DeploymentPreference's Type."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its feature-toggle chatter
    template = packaged(yaml_parse(template_path.read_text()))
    parameters = dict(parameters or {})
    to_py27_compatible_template(template, parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    result = translator.translate(template, parameter_values=parameters, get_managed_policy_map=dict)
    return undo_mark_unicode_str_in_template(result)


def with_defaults(template: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``template`` with the parameter defaults ``overrides`` (NAME=VALUE) give."""
    result = copy.deepcopy(template)
    for override in overrides:
        name, separator, value = override.partition("=")
        if not separator or name not in result.get("Parameters", {}):
            raise SystemExit(f"not a parameter of the template: {override!r} (NAME=VALUE)")
        result["Parameters"][name]["Default"] = value
    return result


def created(
    parameters: dict[str, str], region: str = REGION, *, template_path: Path = TEMPLATE
) -> dict[str, dict[str, Any]]:
    """The Lambda functions and layer versions of the transformed template that CloudFormation
    creates for these parameter values (and defaults) in ``region``: those whose condition holds,
    with their intrinsics resolved by SAM CLI's resolver (as ``sam local`` resolves them). Only
    these: the resolver cannot take the ``!If`` with ``AWS::NoValue`` some IAM policies use."""
    cloudformation = transformed(template_path)
    values = SamBaseProvider._get_parameter_values(cloudformation, parameters)
    values["AWS::Region"] = region
    resolver = IntrinsicResolver(
        template=cloudformation,
        symbol_resolver=IntrinsicsSymbolTable(logical_id_translator=values, template=cloudformation),
    )
    holds = {
        name: resolver.intrinsic_property_resolver(condition, ignore_errors=False)
        for name, condition in cloudformation.get("Conditions", {}).items()
    }
    kept = {
        name: resource
        for name, resource in cloudformation["Resources"].items()
        if resource["Type"] in _CODE_TYPES and holds.get(resource.get("Condition"), True)
    }
    return dict(resolver.resolve_attribute(kept, ignore_errors=False))


def main(argv: list[str]) -> int:
    text = json.dumps(with_defaults(transformed(), argv[2:]), indent=1, sort_keys=True) + "\n"
    if len(argv) > 1:
        Path(argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
