# hostpulse on this machine: what `vagrant up` and deploy/install.sh apply.
# The source to install comes from the fact hostpulse_source (FACTER_hostpulse_source=...),
# the nginx server name from hostpulse_server_name; every other parameter keeps its default
# (see modules/hostpulse/manifests/init.pp).
$server_name = $facts['hostpulse_server_name'] ? {
  undef   => '_',
  default => $facts['hostpulse_server_name'],
}
class { 'hostpulse':
  source      => $facts['hostpulse_source'],
  server_name => $server_name,
}
