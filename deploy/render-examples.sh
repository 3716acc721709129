#!/bin/sh
# Render the Puppet module's templates with the module's default parameters into the
# ready-to-copy files deploy/nginx/*.conf and deploy/systemd/hostpulse.service.
# Run after editing a template; tests/integration/test_deploy.py fails when they drift.
#   deploy/render-examples.sh [OUTDIR]      (default: deploy/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
t=$here/puppet/modules/hostpulse/templates
mkdir -p "$out/nginx" "$out/systemd"

render() { # template values > file  (Facter's /proc/1/environ noise filtered)
    puppet epp render --values "$2" "$t/$1" 2>"$out/.render.err" || { cat "$out/.render.err" >&2; exit 1; }
    if grep -v '/proc/1/environ' "$out/.render.err" | grep -q .; then cat "$out/.render.err" >&2; exit 1; fi
    rm -f "$out/.render.err"
}

site="server_name => '_', listen => ['80', '[::]:80'], upstreams => ['127.0.0.1:8080'], static_dir => '/opt/hostpulse/static'"
render nginx-site.conf.epp "{ $site }" >"$out/nginx/hostpulse.conf"
render nginx-site.conf.epp "{ $site, tls => true, tls_listen => ['443 ssl', '[::]:443 ssl'],
    tls_cert => '/etc/ssl/certs/hostpulse.pem', tls_key => '/etc/ssl/private/hostpulse.key' }" \
    >"$out/nginx/hostpulse-tls.conf"
render hostpulse.service.epp "{ user => 'hostpulse', group => 'hostpulse',
    hostpulse_bin => '/opt/hostpulse/venv/bin/hostpulse', config_file => '/etc/hostpulse/hostpulse.toml',
    data_dir => '/var/lib/hostpulse', log_dir => '/var/log/hostpulse' }" >"$out/systemd/hostpulse.service"
