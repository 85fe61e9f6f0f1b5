#!/usr/bin/env bash
# Prints the production projects' references as a Mermaid graph (docs/ARCHITECTURE.md embeds it; the architecture
# tests check that it is current). Tests, bench and tools are left out: they may reference anything they exercise.
set -euo pipefail
cd "$(dirname "$0")/.."

id() { local name=${1#DinoFlow.}; echo "${name//./_}"; }

# Pruned, not filtered: bin, obj and node_modules are large, and this runs inside a test.
mapfile -t projects < <(find . \( -name bin -o -name obj -o -name node_modules -o -name .git -o -path ./tests -o -path ./bench -o -path ./tools \
  -o -path ./samples \) -prune -o -name '*.csproj' -print | awk -F/ '{ print $NF "\t" $0 }' | LC_ALL=C sort | cut -f2)

echo "graph LR"
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  # Programs are drawn round, so that an arrow into one stands out.
  if grep -q '<OutputType>Exe</OutputType>' "$project"; then echo "  $(id "$name")([\"$name\"])"
  else echo "  $(id "$name")[\"$name\"]"; fi
done
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  { grep -o '<ProjectReference Include="[^"]*"' "$project" || true; } | sed 's#.*/\([^/]*\)\.csproj"$#\1#' | LC_ALL=C sort |
    while read -r target; do echo "  $(id "$name") --> $(id "$target")"; done
done
