#!/bin/sh
# A Debian bookworm base image made locally, for machines that reach no container registry:
# mmdebstrap builds the root filesystem from the Debian archive apt already uses, and
# `podman import` turns it into an image. The Containerfile's BASE build argument names it:
#   sh deploy/container/make-base.sh [TAG]        (default localhost/hostpulse-base:bookworm)
#   podman build --build-arg BASE=localhost/hostpulse-base:bookworm …
# Where a registry is reachable, skip this: the Containerfile's default base is debian's.
# Extra podman flags (the runtime, storage driver …) come from $PODMAN_FLAGS.
set -eu
TAG=${1:-localhost/hostpulse-base:bookworm}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# python3-venv: the image installs the wheel into a venv of its own.
mmdebstrap --variant=apt --include=python3,python3-venv bookworm "$WORK/rootfs.tar"
# shellcheck disable=SC2086
podman $PODMAN_FLAGS import "$WORK/rootfs.tar" "$TAG"
