#!/usr/bin/env bash
# Installs the system packages DinoFlow needs on Debian 12 (as root). Safe to run again.
#   tools/install-prereqs.sh --cli   what the CLI needs (./dinoflow)
#   tools/install-prereqs.sh         also what only the tests need (.ci/run calls this on a fresh machine)
# ./dinoflow and ./test.sh call it through tools/check-prereqs.sh when something is missing and they can (as root, or
# with sudo that needs no password).
set -euo pipefail
scope=tests
case "${1:-}" in
  --cli) scope=cli ;;
  "") ;;
  *) echo "usage: $0 [--cli]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "$0 installs system packages with apt-get: run it as root (sudo $0${1:+ $1})" >&2
  exit 1
fi
packages=(
  libgtk-3-0        # OpenCvSharp's Linux runtime links against GTK 3 (the CLI and the tests)
)
if [ "$scope" = tests ]; then
  packages+=(
    python3-venv      # the AWS back end's independent checks (cfn-lint, SAM's translator, botocore 1.43) run in tools/aws-checks/.venv when python3 lacks them
    nodejs            # AWS back end tests run asl-validator and the s3rver S3-compatible server (tools/aws-checks)
    mosquitto         # the edge MQTT tests start their own brokers (never the system service)
    chromium          # the portal and dashboard tests drive headless Chromium through Playwright (its own browser download does not work offline)
  )
fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "System prerequisites present: ${packages[*]}"
[ "$scope" = tests ] || exit 0

# npm comes with NodeSource's nodejs; Debian's nodejs needs its npm package.
if ! command -v npm >/dev/null; then
  [ ${#missing[@]} -gt 0 ] || apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# The AWS back end's Node tools (asl-validator, s3rver), pinned by tools/aws-checks/package-lock.json.
npm ci --prefix "$(dirname "$0")/aws-checks" --no-audit --no-fund --loglevel=error
echo "Node tools present: tools/aws-checks/node_modules (asl-validator, s3rver)"
# The accessibility engine the browser tests inject (axe-core), pinned by tools/web-checks/package-lock.json.
npm ci --prefix "$(dirname "$0")/web-checks" --no-audit --no-fund --loglevel=error
echo "Node tools present: tools/web-checks/node_modules (axe-core)"

# The AWS back end's Python checks (cfn-lint, aws-sam-translator, botocore 1.40+): the python3 on PATH may already have
# them; otherwise a virtual environment under tools/aws-checks, which the tests prefer (Debian's python3-botocore is from
# 2022 and lacks current API fields).
checks="$(dirname "$0")/aws-checks"
if ! python3 -c 'import cfnlint, samtranslator, botocore, moto, flask, sys; sys.exit(tuple(map(int, botocore.__version__.split(".")[:2])) < (1, 40))' 2>/dev/null; then
  [ -x "$checks/.venv/bin/python3" ] || python3 -m venv "$checks/.venv"
  "$checks/.venv/bin/pip" install --quiet -r "$checks/requirements.txt"
  echo "Python checks present: tools/aws-checks/.venv (cfn-lint, aws-sam-translator, botocore, moto)"
else
  echo "Python checks present: $(command -v python3) has cfn-lint, aws-sam-translator and botocore 1.40+"
fi
