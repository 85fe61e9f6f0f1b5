#!/usr/bin/env python3
"""Signs one request with botocore's SigV4Auth, to check the project's own signer (aws/DinoFlow.Aws.Preflight/SigV4.cs).

Reads a JSON file (the one argument): {"method", "url", "headers": {name: value}, "body", "region", "service", "timestamp": "YYYYMMDDTHHMMSSZ",
"accessKey", "secretKey", "token"?}; prints the Authorization header botocore computes for it at that time.
Exit codes: 0 printed, 3 botocore is missing (the caller skips, naming it).
"""
import datetime
import json
import sys

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as missing:  # pragma: no cover - reported to the test as a skip
    print(f"{sys.executable} lacks botocore ({missing}): pip install 'botocore>=1.40'", file=sys.stderr)
    sys.exit(3)

with open(sys.argv[1], encoding="utf-8") as f:
    spec = json.load(f)
at = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
botocore.auth.get_current_datetime = lambda: at  # the signing time is the caller's, not now
request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode(), headers=spec["headers"])
botocore.auth.SigV4Auth(Credentials(spec["accessKey"], spec["secretKey"], spec.get("token")), spec["service"], spec["region"]).add_auth(request)
print(request.headers["Authorization"])
