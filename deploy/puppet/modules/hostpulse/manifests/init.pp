# @summary hostpulse in a virtualenv, run as a service behind nginx.
#
# Installs hostpulse from $source into a virtualenv, writes its TOML config, a systemd unit
# and an nginx site, and keeps the service and nginx running.
#
# @param source
#   What pip installs: a built wheel (the server then needs no Node.js), a source checkout
#   (built there with npm), or a requirement.
# @param bind
#   Address hostpulse listens on; nginx is its only client, so loopback by default.
# @param port
#   hostpulse's TCP port (the first upstream of nginx).
# @param interval
#   Seconds between samples.
# @param user
#   Unprivileged user the service runs as.
# @param group
#   Its group.
# @param manage_user
#   Create the system user and group.
# @param data_dir
#   History database and secret key; the only writable place besides $log_dir.
# @param log_dir
#   Rotating log files.
# @param install_dir
#   Holds the virtualenv (venv/) and the link to the package's static files (static).
# @param config_dir
#   Where hostpulse.toml, the settings file, is written.
# @param trusted_proxies
#   Proxies whose X-Forwarded-For names the client (nginx on this host).
# @param server_name
#   nginx server_name. Its names (not `_`, not regular expressions; `*.example.com` as the
#   domain `.example.com`) are also written to hostpulse's allowed_hosts: nginx forwards the
#   browser's Host, and hostpulse answers only the names it knows (421 otherwise).
# @param allowed_hosts
#   Further Host names hostpulse answers for (allowed_hosts), besides the machine's own.
# @param listen
#   nginx listen directives for plain HTTP (with TLS: they only redirect to HTTPS).
# @param upstreams
#   hostpulse workers nginx proxies to, sticky by client address (ip_hash). Default: bind:port.
# @param tls
#   Serve HTTPS with $tls_cert and $tls_key.
# @param tls_listen
#   nginx listen directives for HTTPS.
# @param tls_cert
#   Certificate (chain) file, PEM.
# @param tls_key
#   Private key file, PEM.
# @param manage_packages
#   Install python3-venv and nginx with apt.
# @param python
#   The Python (3.11 or later) the virtualenv is made from.
# @param unit_dir
#   Where the systemd unit goes.
# @param nginx_site_dir
#   Where the nginx site file goes (sites-available/ on Debian).
# @param nginx_enabled_dir
#   Where it is linked to be enabled.
# @param nginx_enable_site
#   Link the site into $nginx_enabled_dir and remove Debian's default site there.
# @param manage_nginx_service
#   Keep nginx running (and reload it when the site changes).
# @param service_provider
#   Puppet service provider: undef lets Puppet choose (systemd). `base` runs hostpulse with
#   start-stop-daemon, for machines without systemd as PID 1 (containers, CI).
# @param service_pidfile
#   Pid file for the `base` provider.
# @param gpu_devices
#   Let the service reach the NVIDIA device files NVML needs (PrivateDevices=yes hides them;
#   a closed device policy allowing only those instead). AMD and Intel GPUs need nothing.
# @param containers_group
#   A group that may open the container engine's socket (`docker`, or that of a read-only
#   socket proxy), added to the service's groups so hostpulse shows containers. Off (undef)
#   by default: the socket is root-equivalent (docs/CONTAINERS.md).
class hostpulse (
  String                    $source,
  String                    $bind = '127.0.0.1',
  Integer[1, 65535]         $port = 8080,
  Numeric                   $interval = 1,
  String                    $user = 'hostpulse',
  String                    $group = $user,
  Boolean                   $manage_user = true,
  String                    $data_dir = '/var/lib/hostpulse',
  String                    $log_dir = '/var/log/hostpulse',
  String                    $install_dir = '/opt/hostpulse',
  String                    $config_dir = '/etc/hostpulse',
  Array[String]             $trusted_proxies = ['127.0.0.1', '::1'],
  String                    $server_name = '_',
  Array[String]             $allowed_hosts = [],
  Array[String, 1]          $listen = ['80', '[::]:80'],
  Optional[Array[String]]   $upstreams = undef,
  Boolean                   $tls = false,
  Array[String, 1]          $tls_listen = ['443 ssl', '[::]:443 ssl'],
  Optional[String]          $tls_cert = undef,
  Optional[String]          $tls_key = undef,
  Boolean                   $manage_packages = true,
  String                    $python = '/usr/bin/python3',
  String                    $unit_dir = '/etc/systemd/system',
  String                    $nginx_site_dir = '/etc/nginx/sites-available',
  String                    $nginx_enabled_dir = '/etc/nginx/sites-enabled',
  Boolean                   $nginx_enable_site = true,
  Boolean                   $manage_nginx_service = true,
  Optional[String]          $service_provider = undef,
  String                    $service_pidfile = '/run/hostpulse.pid',
  Boolean                   $gpu_devices = false,
  Optional[String]          $containers_group = undef,
) {
  if $tls and ($tls_cert == undef or $tls_key == undef) {
    fail('hostpulse: tls => true needs tls_cert and tls_key')
  }
  $venv = "${install_dir}/venv"
  $hostpulse_bin = "${venv}/bin/hostpulse"
  $static_link = "${install_dir}/static"
  $config_file = "${config_dir}/hostpulse.toml"
  $unit_file = "${unit_dir}/hostpulse.service"
  $server_names = $server_name.split(/\s+/).filter |$n| { !($n in ['', '_']) and $n !~ /^~/ }
  $served_hosts = unique($allowed_hosts + $server_names.map |$n| { regsubst($n, '^\*\.', '.') })
  $site_file = "${nginx_site_dir}/hostpulse.conf"
  $real_upstreams = $upstreams ? {
    undef   => ["${bind}:${port}"],
    default => $upstreams,
  }

  if $manage_packages {
    package { ['python3-venv', 'nginx']:
      ensure => installed,
      before => [Exec['hostpulse-venv'], File[$site_file]],
    }
  }

  if $manage_user {
    group { $group:
      ensure => present,
      system => true,
    }
    user { $user:
      ensure     => present,
      system     => true,
      gid        => $group,
      home       => $data_dir,
      managehome => false,
      shell      => '/usr/sbin/nologin',
      comment    => 'hostpulse dashboard',
      require    => Group[$group],
      before     => File[$data_dir, $log_dir],
    }
  }

  # --- install: a virtualenv, hostpulse in it, a stable path to its static files ----------
  file { $install_dir:
    ensure => directory,
    mode   => '0755',
  }
  exec { 'hostpulse-venv':
    command => "${python} -m venv ${venv}",
    creates => "${venv}/bin/pip",
    path    => ['/usr/bin', '/bin'],
    require => File[$install_dir],
  }
  # Installs once; to upgrade, run pip in the virtualenv (docs/DEPLOY.md) or remove it.
  exec { 'hostpulse-install':
    command => "${venv}/bin/pip install --quiet --disable-pip-version-check '${source}'",
    unless  => "${venv}/bin/python -c 'import hostpulse'",
    timeout => 900,
    require => Exec['hostpulse-venv'],
    notify  => Service['hostpulse'],
  }
  # nginx serves the static files from the installed package through this link.
  $static_of = "import os, hostpulse.web as w; s = os.path.join(os.path.dirname(w.__file__), 'static')"
  exec { 'hostpulse-static-link':
    command => "${venv}/bin/python -c \"${static_of}; l = '${static_link}'; os.path.lexists(l) and os.remove(l); os.symlink(s, l)\"",
    unless  => "${venv}/bin/python -c \"${static_of}; exit(os.path.realpath('${static_link}') != os.path.realpath(s))\"",
    require => Exec['hostpulse-install'],
  }

  # --- settings and writable directories ----------------------------------------------------
  file { [$data_dir, $log_dir]:
    ensure => directory,
    owner  => $user,
    group  => $group,
    mode   => '0750',
  }
  file { $config_dir:
    ensure => directory,
    mode   => '0755',
  }
  file { $config_file:
    ensure  => file,
    owner   => 'root',
    group   => $group,
    mode    => '0640',
    content => epp('hostpulse/hostpulse.toml.epp', {
      'bind'            => $bind,
      'port'            => $port,
      'interval'        => $interval,
      'data_dir'        => $data_dir,
      'log_dir'         => $log_dir,
      'trusted_proxies' => $trusted_proxies,
      'allowed_hosts'   => $served_hosts,
    }),
    notify  => Service['hostpulse'],
  }

  # --- the service ----------------------------------------------------------------------------
  file { $unit_file:
    ensure  => file,
    mode    => '0644',
    content => epp('hostpulse/hostpulse.service.epp', {
      'user'             => $user,
      'group'            => $group,
      'hostpulse_bin'    => $hostpulse_bin,
      'config_file'      => $config_file,
      'data_dir'         => $data_dir,
      'log_dir'          => $log_dir,
      'gpu_devices'      => $gpu_devices,
      'containers_group' => $containers_group,
    }),
    notify  => Service['hostpulse'],
  }

  if $service_provider == 'base' {
    # Without systemd: the same command line, as the same user, kept by start-stop-daemon.
    $ssd = "/sbin/start-stop-daemon --pidfile ${service_pidfile}"
    $daemon = "--chuid ${user}:${group} --exec ${hostpulse_bin} -- serve --config ${config_file}"
    $service_enable = undef
    $service_commands = {
      'start'  => "${ssd} --start --background --make-pidfile ${daemon}",
      'stop'   => "${ssd} --stop --remove-pidfile --retry TERM/20/KILL/5",
      'status' => "${ssd} --status",
    }
  } else {
    $service_enable = true
    $service_commands = {}
  }
  service { 'hostpulse':
    ensure   => running,
    enable   => $service_enable,
    provider => $service_provider,
    require  => [
      Exec['hostpulse-install'], File[$unit_file, $config_file, $data_dir, $log_dir],
    ],
    *        => $service_commands,
  }

  # --- nginx ----------------------------------------------------------------------------------
  file { $site_file:
    ensure  => file,
    mode    => '0644',
    content => epp('hostpulse/nginx-site.conf.epp', {
      'server_name' => $server_name,
      'listen'      => $listen,
      'upstreams'   => $real_upstreams,
      'static_dir'  => $static_link,
      'tls'         => $tls,
      'tls_listen'  => $tls_listen,
      'tls_cert'    => String($tls_cert),
      'tls_key'     => String($tls_key),
    }),
    require => Exec['hostpulse-static-link'],
  }
  if $nginx_enable_site {
    file { "${nginx_enabled_dir}/hostpulse.conf":
      ensure => link,
      target => $site_file,
    }
    # Debian's default site also claims port 80 as default_server.
    file { "${nginx_enabled_dir}/default":
      ensure => absent,
    }
  }
  if $manage_nginx_service {
    service { 'nginx':
      ensure    => running,
      enable    => true,
      subscribe => File[$site_file],
    }
  }
}
