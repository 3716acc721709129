#!/bin/sh
# What the Puppet module needs before it can run, on plain Debian 12 / Ubuntu 24.04:
# puppet itself, and the browser assets in the source checkout (built with npm if missing).
#   deploy/bootstrap.sh REPO          a checkout is to be installed (needs Node.js)
#   deploy/bootstrap.sh --no-assets   a built wheel is to be installed: puppet only
set -eu
repo=${1:?usage: bootstrap.sh REPO | --no-assets}
export DEBIAN_FRONTEND=noninteractive
need=""
command -v puppet >/dev/null 2>&1 || need="$need puppet-agent"
if [ "$repo" != --no-assets ]; then
    vendor="$repo/src/hostpulse/web/static/vendor"
    if [ ! -s "$vendor/socket.io.min.js" ] || [ ! -s "$vendor/uPlot.iife.min.js" ]; then
        command -v npm >/dev/null 2>&1 || need="$need nodejs npm"
        assets=1
    fi
fi
if [ -n "$need" ]; then
    apt-get update -q
    # shellcheck disable=SC2086  # a list of package names
    apt-get install -y -q --no-install-recommends $need
fi
if [ "${assets:-0}" = 1 ]; then
    (cd "$repo" && sh scripts/install-assets.sh)
fi
