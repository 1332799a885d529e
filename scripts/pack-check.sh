#!/usr/bin/env bash
# Checks the package as users get it: npm pack, then the tarball's contents,
# then a fresh project that installs it with every compiler shadowed by a
# failing stub, runs the main job through ESM import and CommonJS require, and
# type-checks a TypeScript file against the bundled .d.ts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

tgz="$work/$(npm pack --silent --pack-destination "$work" | tail -1)"
echo "tarball: $(basename "$tgz"), $(du -k "$tgz" | cut -f1) KiB"
tar tzf "$tgz" | sed 's|^package/||' | sort >"$work/files"
fail() { echo "pack-check: $*" >&2; exit 1; }
for f in dist/index.js dist/index.d.ts dist/native.d.ts bin/openssl-cmp.js binding.gyp \
  prebuilds/linux-x64/openssl-cmp.node prebuilds/linux-x64/openssl-cmp.bundled.node prebuilds/linux-arm64/openssl-cmp.node; do
  grep -qx "$f" "$work/files" || fail "$f is missing from the tarball"
done
junk="$(grep -E '^(test|build|scripts|bench|examples|\.[^/]+)/|\.test\.|\.tsbuildinfo$|\.log$|^lib/' "$work/files" || true)"
[ -z "$junk" ] || fail "the tarball holds test or build files: $junk"

# Compilers and build tools answer with a failure, and leave a mark if called.
stubs="$work/no-compilers"
mkdir -p "$stubs"
for tool in cc c++ gcc g++ clang clang++ make gmake python python3 node-gyp; do
  printf '#!/bin/sh\necho "%s called" >>"%s/called"\nexit 127\n' "$tool" "$work" >"$stubs/$tool"
  chmod +x "$stubs/$tool"
done

app="$work/app"
mkdir -p "$app"
cd "$app"
echo '{ "name": "app", "version": "1.0.0", "private": true }' >package.json
PATH="$stubs:$PATH" npm install --no-audit --no-fund --silent "$tgz"
[ ! -e "$work/called" ] || fail "installing called a build tool: $(cat "$work/called")"
[ ! -e node_modules/openssl-cmp/build ] || fail "installing built the addon from source"

job='
  const ca = await TestCa.create({ subject: "/CN=Pack CA" });
  const server = new CmpServer({ ref: "r", secret: "s", ca });
  const { port } = await server.listen({ host: "127.0.0.1", port: 0, path: "/pkix/" });
  const ctx = new CmpContext();
  ctx.setServer("127.0.0.1"); ctx.setServerPort(port); ctx.setServerPath("pkix/");
  ctx.setReferenceValue("r"); ctx.setSecretValue("s"); ctx.setTrustedStore(ca.cert);
  ctx.setNewPkey(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
  ctx.setSubjectName("/CN=packed");
  const cert = await ctx.execIR();
  ctx.close(); await server.close();
  console.log(`${cert.subject} (${features.bundled ? "bundled" : "Node"} ${opensslVersion})`);'
cat >main.mjs <<EOF
import { CmpContext, CmpServer, TestCa, features, opensslVersion } from 'openssl-cmp';
import { generateKeyPairSync } from 'node:crypto';
$job
EOF
cat >main.cjs <<EOF
const { CmpContext, CmpServer, TestCa, features, opensslVersion } = require('openssl-cmp');
const { generateKeyPairSync } = require('node:crypto');
(async () => {
$job
})();
EOF
for main in main.mjs main.cjs; do
  out="$(PATH="$stubs:$PATH" node "$main")"
  [[ "$out" == "CN=packed ("* ]] || fail "$main: $out"
  echo "$main: $out"
  out="$(OPENSSL_CMP_OPENSSL=bundled PATH="$stubs:$PATH" node "$main")"
  [[ "$out" == "CN=packed (bundled "* ]] || fail "$main (bundled): $out"
  echo "$main (bundled): $out"
done

cat >main.ts <<'EOF'
import { X509Certificate } from 'node:crypto';
import { CmpContext, CmpError, Features, features, opensslVersion } from 'openssl-cmp';

const ctx: CmpContext = new CmpContext();
ctx.setSubjectName('/CN=typed');
const issued: Promise<X509Certificate> = ctx.execIR();
const bundled: boolean = features.bundled;
const mode: Features['caCerts'] = features.caCerts;
export { issued, bundled, mode, opensslVersion, CmpError };
EOF
tsc=("$root/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022
  --types node --typeRoots "$root/node_modules/@types")
"${tsc[@]}" main.ts
# a misuse must not type-check: the types are the package's, not any
echo "new CmpContext().setSubjectName(42);" >>main.ts
if "${tsc[@]}" main.ts >"$work/tsc.out" 2>&1; then fail "a wrong argument type passed the type check"; fi
grep -q "TS2345" "$work/tsc.out" || fail "unexpected type-check output: $(cat "$work/tsc.out")"
echo "main.ts type-checks against the bundled .d.ts (and a wrong call does not)"
