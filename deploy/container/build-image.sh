#!/bin/sh
# Build the hostpulse image from a wheel, with no package index reachable from the build:
# the wheel and every dependency's wheel go into the build context's dist/ first.
#   deploy/container/build-image.sh [WHEEL]
# WHEEL: a built wheel (default: `python -m build --wheel` of this checkout, which needs npm).
# Environment: TAG (localhost/hostpulse:latest), BASE (the Containerfile's default),
# ENGINE (podman, else docker), ENGINE_FLAGS (extra flags before `build`), BUILD_FLAGS
# (extra flags of `build`, e.g. --layers=false: no cached layers left behind), PYTHON: the
# Python that resolves the dependencies, the same minor and patch level as the image's
# (/usr/bin/python3: on Debian 12, bookworm's 3.11.2, whose markers want async-timeout).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TAG=${TAG:-localhost/hostpulse:latest}
PYTHON=${PYTHON:-/usr/bin/python3}
ENGINE=${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir "$ctx/dist"
if [ $# -ge 1 ]; then
    cp "$1" "$ctx/dist/"
else
    "$PYTHON" -m venv "$ctx/build-venv"
    "$ctx/build-venv/bin/pip" install -q build
    "$ctx/build-venv/bin/python" -m build --wheel --outdir "$ctx/dist" "$repo"
fi
"$PYTHON" -m venv "$ctx/venv"
"$ctx/venv/bin/pip" download -q --only-binary=:all: -d "$ctx/dist" "$ctx"/dist/hostpulse-*.whl
cp "$repo/Containerfile" "$repo/.dockerignore" "$ctx/"
base_arg=""
[ -n "${BASE:-}" ] && base_arg="--build-arg BASE=$BASE"
format=""
[ "$(basename "$ENGINE")" = podman ] && format="--format docker"  # keeps the HEALTHCHECK
# shellcheck disable=SC2086  # flag lists
"$ENGINE" ${ENGINE_FLAGS:-} build ${BUILD_FLAGS:-} $format $base_arg --build-arg PIP_NO_INDEX=1 -t "$TAG" "$ctx"
