#!/usr/bin/env python3
"""Checks template.yaml with tools the project did not write: cfn-lint, then AWS SAM's own translator.

Usage: python3 check_template.py TEMPLATE OUT.json
1. cfn-lint (1.x) on TEMPLATE: any error (E...) fails; warnings are printed.
2. aws-sam-translator transforms TEMPLATE into plain CloudFormation, as `sam deploy` would, and writes it to OUT.json
   for the tests to assert on (e.g. the Architectures each AWS::Lambda::Function really gets after Globals merge).
Exit codes: 0 clean, 1 lint errors or translation failure, 3 a module is missing (the caller skips, naming it).
"""
import json
import os
import sys

try:
    import cfnlint.api
    import cfnlint.runner  # noqa: F401  (cfn-lint 1.x)
    import samtranslator
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as error:
    print(f"{sys.executable} lacks cfn-lint or aws-sam-translator ({error}): pip install cfn-lint aws-sam-translator", file=sys.stderr)
    sys.exit(3)

# The translator needs a region for ARNs of pseudo parameters; nothing is called on AWS.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")

# Values for the parameters without defaults (the translator resolves only what SAM needs).
PARAMETERS = {"ThingGroupArn": "arn:aws:iot:us-east-1:123456789012:thinggroup/dinoflow-jetsons"}


class NoManagedPolicies:
    """The template names no AWS managed policy by name, so the translator needs no IAM lookup."""

    def load(self):
        return {}


def lint(path: str) -> int:
    from importlib.metadata import version
    cfnlint_version = version("cfn-lint")
    from pathlib import Path
    matches = cfnlint.api.lint_file(Path(path))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    for m in matches:
        print(f"{m.rule.id} {m.message} ({path}:{m.linenumber})")
    print(f"cfn-lint {cfnlint_version}: {len(errors)} errors, {len(matches) - len(errors)} warnings or notes")
    return len(errors)


def package(template: dict, root: str) -> None:
    """What `sam build && sam package` do to local paths: code becomes an S3 object (a stand-in URI here, keeping the
    local path visible), and a state machine's DefinitionUri becomes its definition (inlined, so the tests can read it)."""
    functions = template.get("Globals", {}).get("Function", {})
    if isinstance(functions.get("CodeUri"), str) and not functions["CodeUri"].startswith("s3://"):
        functions["CodeUri"] = "s3://sam-package/" + functions["CodeUri"].strip("/")
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str) and not properties["CodeUri"].startswith("s3://"):
            properties["CodeUri"] = "s3://sam-package/" + properties["CodeUri"].strip("/")
        if resource.get("Type") == "AWS::Serverless::Function" and properties.get("PackageType") == "Image" and "ImageUri" not in properties:
            # `sam build` builds the image from Metadata.Dockerfile and `sam deploy` pushes it to ECR.
            properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sam-package:" + resource.get("Metadata", {}).get("DockerTag", "latest")
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            with open(os.path.join(root, properties.pop("DefinitionUri")), encoding="utf-8") as f:
                properties["Definition"] = json.load(f)


def translate(path: str, out: str) -> None:
    import boto3
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    package(template, os.path.dirname(os.path.abspath(path)))
    session = boto3.session.Session(region_name=os.environ["AWS_DEFAULT_REGION"])
    translated = transform(template, PARAMETERS, NoManagedPolicies(), session)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(translated, f, indent=1, sort_keys=True, default=str)
    print(f"aws-sam-translator {samtranslator.__version__}: {len(translated.get('Resources', {}))} resources written to {out}")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    errors = lint(argv[1])
    try:
        translate(argv[1], argv[2])
    except Exception as error:  # the translator's own errors name the resource
        print(f"aws-sam-translator failed: {error}")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
