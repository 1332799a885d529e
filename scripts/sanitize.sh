#!/usr/bin/env bash
# The sanitizer job: the addon's Debug build with ASan and UBSan (binding.gyp's
# Debug configuration), loaded by the native-heavy tests (the bulk engine's file
# writer among them) and a short fuzz run;
# fails on any sanitizer report. Node itself is not instrumented, so the ASan
# runtime is preloaded; leak detection stays off (Node frees little at exit).
#   scripts/sanitize.sh [FUZZ_N]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dir="$root/build-sanitize"
mkdir -p "$dir"
ln -sfn "$root/native" "$dir/native"
ln -sfn "$root/node_modules" "$dir/node_modules"
cp "$root/binding.gyp" "$dir/binding.gyp"
nodedir="$(dirname "$(dirname "$(command -v node)")")"
step=rebuild
[ -f "$dir/build/Makefile" ] && step=build  # incremental once configured
node_modules/.bin/node-gyp "$step" --debug --nodedir="$nodedir" -C "$dir" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 1; }
export OPENSSL_CMP_ADDON="$dir/build/Debug/openssl_cmp.node"
log="$dir/sanitize.log"
: >"$log"
run() {
  echo "== $*" | tee -a "$log"
  LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/scripts/ubsan.supp" \
    "$@" >>"$log" 2>&1
}
status=0
run node node_modules/jest/bin/jest.js --runInBand \
  test/lifecycle-exit.test.ts test/exec-concurrency.test.ts test/concurrency-js-transport.test.ts \
  test/transfer-callback.test.ts test/certconf-log.test.ts test/cve-protection.test.ts test/server.test.ts \
  test/cli-server.test.ts test/bulk-engine.test.ts || status=1
run node scripts/fuzz.js "${1:-500}" 1 || status=1
reports=$(grep -cE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$log" || true)
grep -E "^(Tests:|\{\"client\")" "$log" || true
echo "sanitizer reports: $reports"
if [ "$reports" != 0 ]; then
  grep -E -A30 "ERROR: AddressSanitizer|runtime error:" "$log" | head -80
  exit 1
fi
if [ "$status" != 0 ]; then tail -60 "$log"; exit 1; fi
