#!/usr/bin/env bash
# Installs the system packages DinoFlow's build, tests and demo need on Debian 12 (run as root).
# .ci/run calls it on a fresh machine; a developer runs it once. Safe to run again.
set -euo pipefail
packages=(
  libgtk-3-0        # OpenCvSharp's Linux runtime links against GTK 3
  python3-venv      # the AWS back end's independent checks (cfn-lint, SAM's translator, botocore 1.43) run in tools/aws-checks/.venv when python3 lacks them
  nodejs            # AWS back end tests run asl-validator and the s3rver S3-compatible server (tools/aws-checks)
  mosquitto         # the edge MQTT tests start their own brokers (never the system service)
  chromium          # the portal and dashboard tests drive headless Chromium through Playwright (its own browser download does not work offline)
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "System prerequisites present: ${packages[*]}"

# npm comes with NodeSource's nodejs; Debian's nodejs needs its npm package.
if ! command -v npm >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# The AWS back end's Node tools (asl-validator, s3rver), pinned by tools/aws-checks/package-lock.json.
npm ci --prefix "$(dirname "$0")/aws-checks" --no-audit --no-fund --loglevel=error
echo "Node tools present: tools/aws-checks/node_modules (asl-validator, s3rver)"

# The AWS back end's Python checks (cfn-lint, aws-sam-translator, botocore 1.40+): the python3 on PATH may already have
# them; otherwise a virtual environment under tools/aws-checks, which the tests prefer (Debian's python3-botocore is from
# 2022 and lacks current API fields).
checks="$(dirname "$0")/aws-checks"
if ! python3 -c 'import cfnlint, samtranslator, botocore, sys; sys.exit(tuple(map(int, botocore.__version__.split(".")[:2])) < (1, 40))' 2>/dev/null; then
  [ -x "$checks/.venv/bin/python3" ] || python3 -m venv "$checks/.venv"
  "$checks/.venv/bin/pip" install --quiet -r "$checks/requirements.txt"
  echo "Python checks present: tools/aws-checks/.venv (cfn-lint, aws-sam-translator, botocore)"
else
  echo "Python checks present: $(command -v python3) has cfn-lint, aws-sam-translator and botocore 1.40+"
fi
