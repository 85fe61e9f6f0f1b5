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
    python3-botocore  # AWS back end tests validate every rendered API request against botocore's service models (/usr/bin/python3)
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
