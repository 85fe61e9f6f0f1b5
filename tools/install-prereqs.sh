#!/usr/bin/env bash
# Installs the system packages DinoFlow's build, tests and demo need on Debian 12 (run as root).
# .ci/run calls it on a fresh machine; a developer runs it once. Safe to run again.
set -euo pipefail
packages=(
  libgtk-3-0        # OpenCvSharp's Linux runtime links against GTK 3
  mosquitto         # the edge MQTT tests start their own brokers (never the system service)
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
