#!/bin/bash
# One-command install on a plain Debian 12 / Ubuntu 24.04 server (Python 3.11 or later):
# hostpulse into /opt/hostpulse/venv, run by systemd as user hostpulse, behind nginx on
# port 80 — the same Puppet module `vagrant up` applies.
#   sudo deploy/install.sh [--wheel FILE] [SERVER_NAME]
# Without --wheel it installs this checkout (building the browser files with npm, so the
# server needs Node.js); with --wheel a wheel built elsewhere (`python -m build`), and the
# server needs no Node.js.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
usage="usage: $0 [--wheel FILE] [SERVER_NAME]"
wheel=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel=${2:?$usage}; shift 2 ;;
        --wheel=*) wheel=${1#--wheel=}; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        -*) echo "install.sh: unknown option $1; $usage" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [ -n "$wheel" ]; then
    case "$wheel" in
        *.whl) ;;
        *) echo "install.sh: --wheel wants a .whl file, got $wheel" >&2; exit 2 ;;
    esac
    if [ ! -f "$wheel" ]; then
        echo "install.sh: no such wheel: $wheel" >&2
        exit 2
    fi
    wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
fi
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo $0)" >&2
    exit 1
fi
if [ -n "$wheel" ]; then
    "$here/bootstrap.sh" --no-assets
    export FACTER_hostpulse_source="$wheel"
else
    "$here/bootstrap.sh" "$repo"
    export FACTER_hostpulse_source="$repo"
fi
if [ -n "${1:-}" ]; then
    export FACTER_hostpulse_server_name="$1"
fi
# --detailed-exitcodes: 0 = nothing to change, 2 = changed, 4 or 6 = failures.
set +e
puppet apply --detailed-exitcodes --modulepath "$here/puppet/modules" \
    "$here/puppet/manifests/site.pp" 2> >(grep -v '/proc/1/environ' >&2)
rc=$?
set -e
if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then
    echo "install.sh: puppet apply failed (exit $rc)" >&2
    exit "$rc"
fi
echo "install.sh: hostpulse is running behind nginx: http://${1:-$(hostname -f)}/"
