#!/bin/sh
# Install the two browser dependencies from npm (versions pinned by package-lock.json) and copy
# the three files the page loads into src/hostpulse/web/static/vendor/ (git-ignored).
# Idempotent: `npm ci` runs only when node_modules is missing or older than the lockfile;
# files are copied only when they differ. No CDN: the page works air-gapped once this ran.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

VENDOR=src/hostpulse/web/static/vendor
STAMP=node_modules/.hostpulse-lock.sha256

if ! command -v npm >/dev/null 2>&1; then
    echo "install-assets: npm not found; install Node.js >= 18 (e.g. apt-get install npm)" >&2
    exit 1
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$lock_sum" ]; then
    echo "install-assets: npm ci (node_modules missing or stale vs package-lock.json)"
    npm ci --no-audit --no-fund
    printf '%s\n' "$lock_sum" > "$STAMP"
fi

mkdir -p "$VENDOR"
for src in \
    node_modules/socket.io-client/dist/socket.io.min.js \
    node_modules/uplot/dist/uPlot.iife.min.js \
    node_modules/uplot/dist/uPlot.min.css
do
    if [ ! -f "$src" ]; then
        echo "install-assets: $src missing after npm ci" >&2
        exit 1
    fi
    dest="$VENDOR/$(basename "$src")"
    if ! cmp -s "$src" "$dest"; then
        cp "$src" "$dest"
        echo "install-assets: $dest"
    fi
done
