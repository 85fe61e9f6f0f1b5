#!/usr/bin/env bash
# Writes every AWS API request a sample run of the stack sends, one file per kind of call
# (<service>.<Operation>[.<label>].json, the API's own parameter names), plus the documents the functions write to the
# bucket (s3/…), into DIR, without an AWS account. The requests are the ones moto's Step Functions interpreter sends
# when it runs the shipped state machines with the real handlers (tests/DinoFlow.Aws.Functions.Tests, RenderedRun),
# and the same test validates them against botocore's service models. Needs what those tests need: python3 with moto
# and botocore 1.40+ (tools/install-prereqs.sh), and the .NET SDK.
#
# Usage: tools/aws-checks/render-requests.sh DIR
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 DIR" >&2; exit 2; fi
out=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
DINOFLOW_RENDER_OUT="$out" dotnet test "$root/tests/DinoFlow.Aws.Functions.Tests/DinoFlow.Aws.Functions.Tests.csproj" -c Release --nologo \
  --filter "FullyQualifiedName~RenderedRequestTests.Every_request_a_run_sends_is_valid" >&2
if ! ls "$out"/*.json > /dev/null 2>&1; then
  echo "no requests were written to $out: the test was skipped (see its reason above) or failed" >&2
  exit 1
fi
ls "$out"/*.json
