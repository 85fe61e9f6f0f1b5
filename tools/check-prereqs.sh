#!/usr/bin/env bash
# Checks what DinoFlow needs and installs what is missing when it can: as root, or with sudo that needs no password.
# Otherwise it prints the one command to run and fails.
#   tools/check-prereqs.sh --cli   what the CLI needs (./dinoflow)
#   tools/check-prereqs.sh         also what only the tests need (./test.sh): mosquitto, chromium, the AWS checks' tools
# All output goes to stderr (the CLI's stdout may be JSON).
set -euo pipefail
exec 1>&2
here="$(cd "$(dirname "$0")" && pwd)"
scope=tests
case "${1:-}" in
  --cli) scope=cli ;;
  "") ;;
  *) echo "usage: $0 [--cli]"; exit 2 ;;
esac

# The .NET SDK does not come from Debian's archive: it is the one thing this script cannot install.
if ! command -v dotnet >/dev/null; then
  echo "Missing prerequisite: the .NET SDK 10 (dotnet) is not on PATH: https://learn.microsoft.com/dotnet/core/install/linux-debian"
  exit 1
fi
if ! dotnet --list-sdks | grep '^10\.' >/dev/null; then
  echo "Missing prerequisite: the .NET SDK 10; found: $(dotnet --list-sdks | tr '\n' ' ')"
  exit 1
fi

# One line per missing prerequisite of the scope; tools/install-prereqs.sh installs each of them.
missing() {
  # grep -q would close the pipe early; with pipefail, ldconfig's SIGPIPE then reads as "missing".
  ldconfig -p | grep 'libgtk-3.so.0' >/dev/null || echo "libgtk-3-0 (OpenCvSharp's native runtime links against it)"
  [ "$scope" = tests ] || return 0
  command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || echo "mosquitto (the edge MQTT tests start their own brokers)"
  [ -x /usr/bin/chromium ] || echo "chromium (the portal and dashboard browser tests drive it headless)"
  { python3 -c 'import cfnlint, samtranslator, botocore, sys; sys.exit(tuple(map(int, botocore.__version__.split(".")[:2])) < (1, 40))' >/dev/null 2>&1 \
    || [ -x "$here/aws-checks/.venv/bin/python3" ]; } || echo "cfn-lint, aws-sam-translator and botocore 1.40+ for python3 (the AWS tests check the template and every rendered request)"
  command -v node >/dev/null || echo "nodejs (the AWS tests run asl-validator and s3rver)"
  for tool in asl-validator s3rver; do
    [ -x "$here/aws-checks/node_modules/.bin/$tool" ] || { echo "tools/aws-checks/node_modules ($tool, from npm ci)"; break; }
  done
  [ -f "$here/web-checks/node_modules/axe-core/axe.min.js" ] || echo "tools/web-checks/node_modules (axe-core, from npm ci: the browser tests' accessibility audit)"
}

problems="$(missing)"
[ -z "$problems" ] && exit 0

install=("$here/install-prereqs.sh")
[ "$scope" = cli ] && install+=(--cli)
echo "Missing prerequisites:"
printf '%s\n' "$problems" | sed 's/^/  - /'
if [ "$(id -u)" -eq 0 ]; then
  as=()
elif command -v sudo >/dev/null && sudo -n true >/dev/null 2>&1; then
  as=(sudo -n)
else
  # No way to become root without a password: say the one command that installs them.
  if command -v sudo >/dev/null; then command="sudo ${install[*]}"; else command="su -c '${install[*]}'"; fi
  echo "Install them with: $command"
  exit 1
fi
echo "Installing them: ${as[*]}${as:+ }${install[*]}"
"${as[@]}" "${install[@]}"
problems="$(missing)"
if [ -n "$problems" ]; then
  echo "Still missing after ${install[*]}:"
  printf '%s\n' "$problems" | sed 's/^/  - /'
  exit 1
fi
