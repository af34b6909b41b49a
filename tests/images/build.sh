#!/bin/sh
# Builds the images of real upstream software that the engine scenarios run (tests/engine/upstream.rs),
# from Debian's packages and without a registry, each shaped like the upstream image its example
# names (same binary paths, same shell or none, same user and data path) and tagged with that exact
# reference, so that berth's outputs run unmodified.
#
#   tests/images/build.sh NAME...     (NAME: a directory beside this script)
#   tests/images/build.sh --mirror    (prints the package mirror it would use)
#
# The base is a `debootstrap --variant=minbase` of Debian bookworm (what the upstream images start
# from), imported with `docker import`. Every image carries the hash of its inputs as the label
# `berth.e2e.inputs`; an image whose label matches is not built again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm

# The Debian mirror this machine's apt uses (a local mirror, a proxy's address): the one that
# carries the suite, else the main archive of another release (a mirror carries every suite).
apt_mirror() {
  command -v apt-get >/dev/null || return 0
  # shellcheck disable=SC2016 # apt expands $(REPO_URI), not the shell.
  apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Created-By: Packages' 2>/dev/null |
    awk -v suite="$suite" '
      $2 == suite { print $1; found = 1; exit }
      $2 !~ /-/ && other == "" { other = $1 }
      END { if (!found && other != "") print other }'
}
mirror=${BERTH_DEBIAN_MIRROR:-$(apt_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}
# apt's proxy, for debootstrap and the builds (which read http_proxy), unless one is set.
if [ -z "${http_proxy:-}" ] && command -v apt-config >/dev/null; then
  eval "$(apt-config shell http_proxy Acquire::http::Proxy)"
  [ -z "${http_proxy:-}" ] || export http_proxy
fi
if [ "${1:-}" = --mirror ]; then
  echo "$mirror"
  exit 0
fi

inputs_hash() {
  # This script, and every file of the named directories.
  (cd "$here" && cat build.sh && for dir in "$@"; do
    find "$dir" -type f | LC_ALL=C sort | xargs cat
  done) | sha256sum | cut -c1-16
}

current() {
  docker image inspect --format '{{index .Config.Labels "berth.e2e.inputs"}}' "$1" 2>/dev/null || true
}

base_image() {
  hash=$(printf '%s %s\n' "$suite" "$(inputs_hash)" | sha256sum | cut -c1-16)
  tag="berth-e2e/debian:$suite-$hash"
  if [ "$(current "$tag")" != "$hash" ]; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    echo "build.sh: debootstrap $suite into $root" >&2
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
      --change "LABEL berth.e2e.inputs=$hash" \
      --change 'CMD ["bash"]' - "$tag" >/dev/null
    rm -rf "$root"
    trap - EXIT
  fi
  echo "$tag"
}

base=$(base_image)
for name in "$@"; do
  dir="$here/$name"
  [ -f "$dir/Dockerfile" ] || { echo "build.sh: no image $name" >&2; exit 2; }
  tag=$(cat "$dir/TAG")
  hash=$(printf '%s %s\n' "$base" "$(inputs_hash "$name")" | sha256sum | cut -c1-16)
  if [ "$(current "$tag")" != "$hash" ]; then
    echo "build.sh: building $tag" >&2
    # The classic builder: it uses the local base image as it is, where BuildKit would ask a registry.
    # shellcheck disable=SC2086 # the proxy argument is one word or none.
    DOCKER_BUILDKIT=0 docker build --quiet --rm --build-arg "BASE=$base" \
      ${http_proxy:+--build-arg http_proxy=$http_proxy} \
      --label "berth.e2e.inputs=$hash" --tag "$tag" "$dir" >/dev/null
  fi
  echo "$tag"
done
# Build stages, and the versions that a new build replaced: untagged now.
docker image prune --force --filter label=berth.e2e.stage >/dev/null
docker image prune --force --filter label=berth.e2e.inputs >/dev/null
