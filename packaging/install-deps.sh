#!/usr/bin/env bash
# Installs every Debian 12 package atlas-host needs to build, test and package.
# Idempotent: packages already present are left alone. Run as root.
#   --container   also podman and debootstrap, for packaging/container/build-image.sh (the OCI
#                 image; not needed by the build or the test suite)
#   --bench       also nginx-light, the pass-through reference proxy of
#                 `bench_serve_gateway --reference-nginx /usr/sbin/nginx` (bench/README.md)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libtomlplusplus-dev rapidjson-dev libsoci-dev libsqlite3-dev libpq-dev
  libcurl4-openssl-dev libcpp-httplib-dev libssl-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  postgresql-15 postgresql-client-15 sqlite3
  python3 file dpkg-dev ccache clang-format clang-tidy
  librsvg2-bin
  clang libclang-rt-14-dev
  chromium
)
for arg in "$@"; do
  case "$arg" in
    --container) packages+=(podman debootstrap) ;;
    --bench) packages+=(nginx-light) ;;
    *) echo "install-deps: unknown option '$arg' (known: --container, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js (for the official-client and MCP integration tests) may come from another
# distribution channel; only ask apt for it when no node is on PATH at all.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
