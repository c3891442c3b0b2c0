#!/usr/bin/env bash
# sdk_install.sh BUILD_DIR CMAKE
# `cmake --install --component sdk` into a throw-away prefix: the headers, the CMake package and
# every document the installed headers cite (docs/<name>.md) must be there, so a vendor with
# only the SDK can follow each reference.
set -euo pipefail
build=$1 cmake=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$(mktemp -d "${TMPDIR:-/tmp}/atlas-sdk-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix" --component sdk > "$prefix.log" 2>&1 ||
  { cat "$prefix.log"; rm -f "$prefix.log"; fail "cmake --install --component sdk failed"; }
rm -f "$prefix.log"

docs="$prefix/share/doc/atlas-sdk-dev/docs"
for f in include/atlas/plugin_abi.h include/atlas/sdk.hpp include/atlas/child_process.hpp \
         lib/cmake/AtlasSDK/AtlasSDKConfig.cmake lib/cmake/AtlasSDK/AtlasSDKFunctions.cmake \
         share/doc/atlas-sdk-dev/docs/plugin-contracts.md share/doc/atlas-sdk-dev/docs/llm-model.md \
         share/doc/atlas-sdk-dev/docs/abi-notes.md; do
  [ -f "$prefix/$f" ] || fail "the SDK component did not install $f (installed: $(cd "$prefix" && find . -type f | sort | tr '\n' ' '))"
  echo "installed $f"
done

cited=$(grep -ohE 'docs/[a-z0-9_-]+\.md' "$prefix"/include/atlas/* | sort -u)
[ -n "$cited" ] || fail "the installed headers cite no docs/*.md: this check would prove nothing"
for c in $cited; do
  [ -f "$docs/${c#docs/}" ] || fail "an installed header cites $c, but the SDK does not install it into $docs"
  echo "cited and installed: $c"
done

grep -q 'LINUX UTILITY' "$prefix/include/atlas/child_process.hpp" ||
  fail "child_process.hpp does not say that it is a Linux utility"
echo "OK"
