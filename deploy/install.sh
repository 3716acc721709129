#!/bin/bash
# One-command install on a plain Debian 12 / Ubuntu 24.04 server (Python 3.11 or later):
# hostpulse from this checkout into /opt/hostpulse/venv, run by systemd as user hostpulse,
# behind nginx on port 80 — the same Puppet module `vagrant up` applies.
#   sudo deploy/install.sh [SERVER_NAME]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo $0)" >&2
    exit 1
fi
"$here/bootstrap.sh" "$repo"
export FACTER_hostpulse_source="$repo"
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
