#!/bin/sh
# Builds the berth-demo image without a registry: a root filesystem holding the binary, the
# libraries it links, and busybox as /bin/sh (docker run's --health-cmd runs through a shell),
# imported with `docker import`. Usage: demo/build-image.sh TAG
set -eu
tag=${1:?usage: demo/build-image.sh TAG}
cd "$(dirname "$0")/.."
cargo build --quiet --release -p berth-demo
bin=target/release/berth-demo
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/data" "$root/tmp"
cp "$bin" "$root/berth-demo"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp /bin/busybox "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
tar -C "$root" -c . | docker import --change 'ENTRYPOINT ["/berth-demo"]' - "$tag" >/dev/null
echo "$tag"
