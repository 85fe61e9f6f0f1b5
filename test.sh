#!/usr/bin/env bash
# The test command: checks prerequisites (installing what is missing when it can: as root, or with sudo that needs no
# password; otherwise it prints the one command to run), builds the solution in Release and runs every test project.
# Ends with one summary line: "Tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"
# Everything the CLI needs plus what only the tests need (mosquitto, chromium, botocore, the AWS checks' Node tools).
tools/check-prereqs.sh || exit 1
log=$(mktemp)
dotnet test DinoFlow.sln -c Release --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '/(Passed|Failed)! +- +Failed:/ {
       for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1)); if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) }
     }
     END { printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
