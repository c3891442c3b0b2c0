#!/usr/bin/env bash
# deb_chain.sh BUILD_DIR SOURCE_DIR CMAKE CPACK GENERATOR
# Every step prints what it checks; the first failure names what was expected and found.
set -euo pipefail
build=$1 src=$2 cmake=$3 cpack=$4 generator=$5

for tool in dpkg-deb dpkg-shlibdeps python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (packaging/install-deps.sh installs dpkg-dev and python3)"
    exit 77
  fi
done
fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/atlas-deb-chain-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== cpack -G DEB"
"$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" > "$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
host_deb=$(ls "$work"/pkg/atlas-host_*_amd64.deb 2>/dev/null | head -1)
sdk_deb=$(ls "$work"/pkg/atlas-sdk-dev_*_all.deb 2>/dev/null | head -1)
[ -n "$host_deb" ] || fail "no atlas-host_<ver>_amd64.deb in $work/pkg: $(ls "$work/pkg")"
[ -n "$sdk_deb" ] || fail "no atlas-sdk-dev_<ver>_all.deb in $work/pkg: $(ls "$work/pkg")"
echo "built $(basename "$host_deb") $(basename "$sdk_deb")"

echo "== package metadata"
depends=$(dpkg-deb -f "$host_deb" Depends)
echo "atlas-host Depends: $depends"
for lib in libc6 libstdc++6 libcurl4 libboost-program-options; do
  [[ "$depends" == *"$lib"* ]] || fail "atlas-host Depends lacks $lib (shlibdeps): $depends"
done
[ "$(dpkg-deb -f "$sdk_deb" Architecture)" = "all" ] || fail "atlas-sdk-dev must be Architecture: all"
# Listings go to files first: `grep -q` on a pipe would stop early and SIGPIPE dpkg-deb.
dpkg-deb -c "$host_deb" > "$work/host.list"
dpkg-deb -c "$sdk_deb" > "$work/sdk.list"
grep -q './usr/bin/atlas-host$' "$work/host.list" || fail "atlas-host deb has no usr/bin/atlas-host"
grep -q './usr/include/atlas/sdk.hpp$' "$work/sdk.list" || fail "atlas-sdk-dev deb has no usr/include/atlas/sdk.hpp"
grep -q './usr/include/atlas/child_process.hpp$' "$work/sdk.list" || fail "atlas-sdk-dev deb has no usr/include/atlas/child_process.hpp"
for doc in plugin-contracts.md llm-model.md abi-notes.md; do
  grep -q "./usr/share/doc/atlas-sdk-dev/docs/$doc\$" "$work/sdk.list" || fail "atlas-sdk-dev deb has no usr/share/doc/atlas-sdk-dev/docs/$doc"
done
if grep -q 'usr/bin/' "$work/sdk.list"; then fail "atlas-sdk-dev must not contain programs"; fi

echo "== unpack"
stage="$work/stage"      # both packages: what a user with the host and the SDK has
sdk_only="$work/sdk"     # the SDK package alone: what a vendor builds against
dpkg-deb -x "$host_deb" "$stage"
dpkg-deb -x "$sdk_deb" "$stage"
dpkg-deb -x "$sdk_deb" "$sdk_only"
plugin_dir="$stage/usr/lib/atlas/plugins/abi1"
ls "$plugin_dir"/*.so >/dev/null 2>&1 || fail "no first-party plugins in $plugin_dir"
echo "staged first-party plugins: $(cd "$plugin_dir" && ls *.so | tr '\n' ' ')"

echo "== build plugin-template against the SDK package only"
[ -f "$src/plugin-template/CMakeLists.txt" ] || fail "plugin-template/CMakeLists.txt is missing"
"$cmake" -S "$src/plugin-template" -B "$work/template-build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$sdk_only/usr" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF > "$work/cfg.log" 2>&1 ||
  { cat "$work/cfg.log"; fail "configuring plugin-template against $sdk_only/usr failed"; }
grep -q "$sdk_only/usr" "$work/template-build/CMakeCache.txt" || fail "AtlasSDK was not found in the staged SDK"
"$cmake" --build "$work/template-build" -j2 > "$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "building plugin-template failed"; }
mkdir -p "$work/vendor-plugins"
find "$work/template-build" -maxdepth 1 -name '*.so' -exec cp {} "$work/vendor-plugins/" \;
template_so=$(ls "$work"/vendor-plugins/*.so 2>/dev/null | head -1)
[ -n "$template_so" ] || fail "plugin-template produced no .so"
exports=$(nm -D --defined-only "$template_so" | awk '{print $3}' | grep -v '^_' || true)
[ "$exports" = "atlas_plugin_manifest_v1" ] || fail "template plugin must export only atlas_plugin_manifest_v1, found: $exports"

echo "== load with the staged atlas-host"
"$stage/usr/bin/atlas-host" --version
"$stage/usr/bin/atlas-host" plugins list --json --plugin-dir "$work/vendor-plugins" > "$work/list.json" 2> "$work/list.err" ||
  { cat "$work/list.err"; fail "staged atlas-host plugins list failed"; }
python3 - "$work/list.json" "$plugin_dir" "$template_so" <<'PY'
import json, os, sys
listing, plugin_dir, template_so = sys.argv[1], os.path.realpath(sys.argv[2]), os.path.realpath(sys.argv[3])
doc = json.load(open(listing))
def strings(v):
    if isinstance(v, str): yield v
    elif isinstance(v, dict):
        for x in v.values(): yield from strings(x)
    elif isinstance(v, list):
        for x in v: yield from strings(x)
dirs = [os.path.realpath(d) for d in doc.get("dirs", [])]
if plugin_dir not in dirs:
    sys.exit(f"FAIL: the staged host does not search its own plugin dir {plugin_dir}; dirs = {dirs}")
plugins = doc.get("plugins", [])
paths = [os.path.realpath(s) for p in plugins for s in strings(p) if s.startswith("/")]
if not any(p == template_so for p in paths):
    sys.exit(f"FAIL: the template plugin {template_so} was not loaded; listing: {json.dumps(doc)[:2000]}")
first_party = sorted({p for p in paths if p.startswith(plugin_dir + "/")})
if not first_party:
    sys.exit(f"FAIL: no plugin from {plugin_dir} was loaded; listing: {json.dumps(doc)[:2000]}")
if doc.get("diagnostics"):
    print("diagnostics:", json.dumps(doc["diagnostics"])[:2000])
print(f"loaded template plugin and {len(first_party)} staged first-party plugin file(s)")
PY

echo "== cpack -G TGZ"
"$cpack" --config "$build/CPackConfig.cmake" -G TGZ -B "$work/tgz" > "$work/tgz.log" 2>&1 ||
  { cat "$work/tgz.log"; fail "cpack -G TGZ failed"; }
tarball=$(ls "$work"/tgz/*.tar.gz | head -1)
tar -tzf "$tarball" > "$work/tgz.list"
grep -q '/bin/atlas-host$' "$work/tgz.list" || fail "$tarball has no bin/atlas-host"
grep -q '/include/atlas/sdk.hpp$' "$work/tgz.list" || fail "$tarball has no include/atlas/sdk.hpp"
echo "built $(basename "$tarball")"
