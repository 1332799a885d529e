#!/usr/bin/env bash
# Reference OpenSSL trees for the conformance tests, the C benchmark loop and
# the bundled build, cached outside the checkout and keyed by version.
#
#   scripts/openssl-ref.sh src 3.0     -> prints the extracted 3.0.x source tree
#   scripts/openssl-ref.sh src 3.5     -> prints the extracted 3.5.x source tree
#   scripts/openssl-ref.sh build 3.5   -> builds apps/openssl and libcrypto.a once
#                                         (no-shared), prints the tree
#
# Sources come from Debian's source packages (bookworm for 3.0, trixie for 3.5)
# through a private apt configuration; the newest listed version is not always
# on the mirror yet, so older listed ones are tried in turn.
set -euo pipefail
what="${1:?src|build}"
series="${2:?3.0|3.5}"
cache="${OPENSSL_CMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openssl-cmp}"
mkdir -p "$cache"
exec 9>"$cache/.lock-$series"
flock 9

case "$series" in
  3.0) suites="bookworm bookworm-security" ;;
  3.5) suites="trixie trixie-security" ;;
  *) echo "unknown series $series" >&2; exit 2 ;;
esac

tree="$(ls -d "$cache"/openssl-"$series".*/ 2>/dev/null | sort -V | tail -1 || true)"
tree="${tree%/}"
if [ -z "$tree" ] || [ ! -f "$tree/.extracted" ]; then
  apt_dir="$cache/apt-$series"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : >"$apt_dir/sources.list"
  for s in $suites; do
    case "$s" in
      *-security) echo "deb-src http://deb.debian.org/debian-security $s main" >>"$apt_dir/sources.list" ;;
      *) echo "deb-src http://deb.debian.org/debian $s main" >>"$apt_dir/sources.list" ;;
    esac
  done
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  apt-get -qq "${apt_opts[@]}" update >/dev/null
  versions="$(apt-cache "${apt_opts[@]}" showsrc openssl | awk '/^Version:/{print $2}' | grep "^$series\." | sort -Vr | uniq)"
  got=""
  for v in $versions; do
    up="${v%%-*}"
    if [ -f "$cache/openssl_$up.orig.tar.gz" ]; then got="$up"; break; fi
    dl="$(mktemp -d)"
    # The orig tarball is all we need; the Debian patch archive may be missing.
    (cd "$dl" && apt-get -qq "${apt_opts[@]}" source --download-only "openssl=$v" >/dev/null 2>&1 || true)
    if [ -s "$dl/openssl_$up.orig.tar.gz" ]; then
      mv "$dl/openssl_$up.orig.tar.gz" "$cache/"
      rm -rf "$dl"
      got="$up"
      break
    fi
    rm -rf "$dl"
  done
  [ -n "$got" ] || { echo "no openssl $series source tarball could be downloaded" >&2; exit 1; }
  tree="$cache/openssl-$got"
  rm -rf "$tree"
  mkdir -p "$tree"
  tar xzf "$cache/openssl_$got.orig.tar.gz" -C "$tree" --strip-components=1
  touch "$tree/.extracted"
fi

if [ "$what" = build ]; then
  # Debian's configuration directory, so that the reference CLI reads the same default
  # openssl.cnf as the system's openssl does
  flags="no-shared no-docs no-tests -fPIC --openssldir=/usr/lib/ssl"
  stamp="$tree/.built-$(echo "$flags" | md5sum | cut -c1-8)"
  if [ ! -f "$stamp" ]; then
    (
      cd "$tree"
      # shellcheck disable=SC2086
      ./Configure $flags >/dev/null
      make -s -j"$(nproc)" build_programs >/dev/null 2>&1
    ) >&2
    rm -f "$tree"/.built*
    touch "$stamp"
  fi
fi
echo "$tree"
