#!/usr/bin/env bash
# Fails with a clear message when something the build or tests need is missing.
set -euo pipefail
problems=()
command -v dotnet >/dev/null || problems+=("the .NET SDK 10 (dotnet) is not on PATH: https://learn.microsoft.com/dotnet/core/install/linux-debian")
if command -v dotnet >/dev/null && ! dotnet --list-sdks | grep '^10\.' >/dev/null; then problems+=("the .NET SDK 10 is needed; found: $(dotnet --list-sdks | tr '\n' ' ')"); fi
# grep -q would close the pipe early; with pipefail, ldconfig's SIGPIPE then reads as "missing".
ldconfig -p | grep 'libgtk-3.so.0' >/dev/null || problems+=("libgtk-3-0 is missing (OpenCvSharp needs it): run 'sudo tools/install-prereqs.sh'")
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || problems+=("mosquitto is missing (the edge MQTT tests start their own brokers): run 'sudo tools/install-prereqs.sh'")
[ -x /usr/bin/chromium ] || problems+=("chromium is missing (the portal and dashboard tests drive /usr/bin/chromium): run 'sudo tools/install-prereqs.sh'")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'Missing prerequisites:\n' >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
