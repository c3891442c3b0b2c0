#!/usr/bin/env bash
# Builds the OCI image of packaging/container/Containerfile with podman and checks it the way a
# cluster would run it (docs/scaling.md, "Container image"):
#
#   bash packaging/container/build-image.sh [--build-dir build/release] [--tag atlas-host:VERSION]
#
# 1. the .deb packages: `cpack -G DEB` in the build tree unless build/<tree>/packages already holds
#    atlas-host_<ver>_amd64.deb (build the tree first: cmake --preset release && cmake --build
#    --preset release);
# 2. the base image docker.io/library/debian:12-slim: taken from local storage, else pulled, else
#    (machines without a registry, like CI here) made with debootstrap from the Debian mirror apt
#    uses and imported under that name;
# 3. `podman build` with the .deb folder as context;
# 4. checks of the result: the image's user is 10001 (not root) and its entrypoint atlas-host; the
#    image's file system, exported, runs `atlas-host --version`, `atlas-host plugins` and the
#    quickstart (mock provider, SQLite) as uid 10001 in a chroot, so a missing shared library or a
#    file the non-root user cannot write fails here and not in a cluster.
#
# Exit 0 only when every step and check passed. Environment: ATLAS_PODMAN_FLAGS (default
# "--storage-driver vfs", which works inside containers and VMs without overlayfs) and
# ATLAS_PODMAN_BUILD_FLAGS (default "--isolation chroot", which needs no user namespaces or
# cgroups; use "" on a normal workstation).
set -euo pipefail

cd "$(dirname "$0")/../.."
build_dir=build/release
tag=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    -h|--help) sed -n 2,24p "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

rootfs="" fs="" ctr="" proc_mounted=0
cleanup() {
  [[ "$proc_mounted" == 1 ]] && umount "$fs/proc"
  [[ -n "$ctr" ]] && pm rm -f "$ctr" >/dev/null 2>&1
  [[ -n "$fs" ]] && rm -rf "$fs"
  [[ -n "$rootfs" ]] && rm -rf "$rootfs"
  return 0
}
trap cleanup EXIT
fail() { echo "build-image.sh: FAIL: $*" >&2; exit 1; }
step() { echo "build-image.sh: $*" >&2; }

command -v podman >/dev/null || fail "podman is not installed (apt-get install podman; or packaging/install-deps.sh --container)"
read -r -a podman_flags <<< "${ATLAS_PODMAN_FLAGS---storage-driver vfs}"
read -r -a build_flags <<< "${ATLAS_PODMAN_BUILD_FLAGS---isolation chroot}"
pm() { podman "${podman_flags[@]}" "$@"; }

[[ -x "$build_dir/bin/atlas-host" ]] || fail "$build_dir/bin/atlas-host is missing: build it first (cmake --preset release && cmake --build --preset release)"
version="$("$build_dir/bin/atlas-host" --version | awk '{print $2; exit}')"
[[ -n "$version" ]] || fail "could not read the version from $build_dir/bin/atlas-host --version"
tag="${tag:-atlas-host:$version}"

# 1. packages
pkg_dir="$build_dir/packages"
deb="$pkg_dir/atlas-host_${version}_amd64.deb"
if [[ ! -f "$deb" || "$deb" -ot "$build_dir/bin/atlas-host" ]]; then
  step "packaging $build_dir with cpack -G DEB"
  (cd "$build_dir" && cpack -G DEB >/dev/null) || fail "cpack -G DEB failed in $build_dir"
fi
[[ -f "$deb" ]] || fail "cpack did not produce $deb"

# 2. base image
base=docker.io/library/debian:12-slim
if ! pm image exists "$base"; then
  step "$base is not in local storage; pulling it"
  if ! pm pull -q "$base" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || fail "$base cannot be pulled and debootstrap is not installed (apt-get install debootstrap)"
    mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    rootfs="$(mktemp -d /tmp/atlas-rootfs.XXXXXX)"
    step "no registry: building $base with debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/tmp/atlas-debootstrap.log 2>&1 ||
      fail "debootstrap failed (log: /tmp/atlas-debootstrap.log)"
    tar -C "$rootfs" -c . | pm import - "$base" >/dev/null || fail "podman import of the debootstrap root failed"
  fi
fi

# 3. image
step "podman build -t $tag (context $pkg_dir)"
pm build "${build_flags[@]}" -q -f packaging/container/Containerfile -t "$tag" "$pkg_dir" >/dev/null ||
  fail "podman build failed"

# 4. checks
user="$(pm image inspect --format '{{.Config.User}}' "$tag")"
[[ "$user" == "10001:10001" ]] || fail "the image runs as '$user', expected 10001:10001 (non-root)"
entry="$(pm image inspect --format '{{join .Config.Entrypoint " "}}' "$tag")"
[[ "$entry" == "/usr/bin/atlas-host" ]] || fail "the image's entrypoint is '$entry', expected /usr/bin/atlas-host"

fs="$(mktemp -d /tmp/atlas-image-fs.XXXXXX)"
ctr="$(pm create "$tag")"
pm export "$ctr" | tar -C "$fs" -x || fail "podman export of the image's file system failed"
chmod 755 "$fs"  # mktemp made it 0700: the chroot root must be traversable by uid 10001
mount --bind /proc "$fs/proc" && proc_mounted=1 || fail "could not bind-mount /proc into the exported image (run as root)"

chroot_bin="$(command -v chroot)"
as_atlas() { (cd "$fs/var/lib/atlas" && env -i HOME=/var/lib/atlas PATH=/usr/bin:/bin "$chroot_bin" --userspec=10001:10001 "$fs" sh -c "cd /var/lib/atlas && $*"); }
got="$(as_atlas /usr/bin/atlas-host --version)" || fail "atlas-host --version failed inside the image"
[[ "$got" == *"$version"* ]] || fail "atlas-host --version printed '$got', expected version $version"
as_atlas /usr/bin/atlas-host plugins list >/dev/null || fail "atlas-host plugins failed inside the image (a plugin did not load)"
as_atlas /usr/bin/atlas-host quickstart >/tmp/atlas-image-quickstart.log 2>&1 ||
  fail "the quickstart failed inside the image as uid 10001 (log: /tmp/atlas-image-quickstart.log)"
[[ -s "$fs/var/lib/atlas/.atlas/atlas.db" ]] || fail "the quickstart inside the image stored no database in /var/lib/atlas/.atlas"

size="$(pm image inspect --format '{{.Size}}' "$tag")"
echo "build-image.sh: OK: $tag ($((size / 1024 / 1024)) MiB), user 10001, atlas-host $version ran --version, plugins and the quickstart inside it"
