#!/usr/bin/env python3
"""Validates rendered AWS API requests against botocore's service models (botocore 1.40 or newer: current APIs).

Usage: python3 validate_requests.py DIR
Every DIR/<service>.<Operation>.json is checked with botocore.validate.ParamValidator against the operation's
input shape. Prints one line per file and exits 1 when any file has an error.
"""
import json
import pathlib
import sys

MINIMUM = (1, 40)

try:
    import botocore
    import botocore.session
    from botocore.validate import ParamValidator
except ImportError:
    print(f"botocore is missing for {sys.executable}: pip install 'botocore>=1.40' (Debian's python3-botocore is from 2022 and lacks current API fields)", file=sys.stderr)
    sys.exit(3)

if tuple(int(p) for p in botocore.__version__.split(".")[:2]) < MINIMUM:
    print(f"botocore {botocore.__version__} at {sys.executable} is older than {'.'.join(map(str, MINIMUM))}: its service models lack current API fields; pip install 'botocore>=1.40'", file=sys.stderr)
    sys.exit(3)


def main(directory: str) -> int:
    session = botocore.session.get_session()
    validator = ParamValidator()
    files = sorted(pathlib.Path(directory).glob("*.*.json"))
    if not files:
        print(f"no <service>.<Operation>.json files in {directory}", file=sys.stderr)
        return 2
    failures = 0
    for path in files:
        # <service>.<Operation>[.<label>].json: a label tells apart two kinds of call to one operation.
        service, operation = path.name[: -len(".json")].split(".")[:2]
        try:
            model = session.get_service_model(service).operation_model(operation)
        except Exception as error:  # an unknown service or operation is a failure of the file, not of the script
            print(f"{path.name}: unknown service or operation ({error})")
            failures += 1
            continue
        params = json.loads(path.read_text(encoding="utf-8"))
        report = validator.validate(params, model.input_shape)
        if report.has_errors():
            failures += 1
            print(f"{path.name}: INVALID\n{report.generate_report()}")
        else:
            print(f"{path.name}: valid against botocore {botocore.__version__}")
    print(f"{len(files) - failures} valid, {failures} invalid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
