#!/usr/bin/env bash
# Install the real CLI clients the end-to-end tests drive (Claude Code, Codex, ...):
# every tests/clients/<name>/ with a package.json and package-lock.json gets
# `npm ci` into its own node_modules, from the npm registry, when its lock file
# changed since the last install. Idempotent and quiet; prints one line per client.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  echo "clients.sh: npm is not installed; the CLI client tests will fail" >&2
  exit 0
fi
for dir in tests/clients/*/; do
  [ -f "$dir/package.json" ] || continue
  name=$(basename "$dir")
  stamp="$dir/node_modules/.gatehouse-lock-stamp"
  wanted=$(sha256sum "$dir/package-lock.json" 2>/dev/null | cut -d' ' -f1 || echo none)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    echo "client $name: installed"
    continue
  fi
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  else
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  echo "$wanted" > "$stamp"
  echo "client $name: installed now"
done
