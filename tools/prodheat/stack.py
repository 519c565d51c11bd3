"""Start, inspect and stop the production-shaped Heat.

Services (all on 127.0.0.1, all under one data dir, each started in its own
session so ``down`` stops it and its children by the pid it recorded):

* MariaDB (Debian ``mariadb-server``): databases ``keystone`` and ``heat``;
* epmd and RabbitMQ (Debian ``rabbitmq-server``), Erlang distribution on
  loopback;
* memcached (Debian ``memcached``): Keystone's cache and the Heat API's
  token cache;
* Keystone (package index) under uWSGI, fernet tokens;
* the Heat API (``heat.wsgi.api``, what ``heat-wsgi-api`` serves) under uWSGI
  with several processes;
* ``heat-engine`` processes with distinct ``host``.

Every wait is bounded.  Standard library only.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DATA_DIR_ENV = 'PRODHEAT_DIR'
HOST = '127.0.0.1'

PORTS = {
    'mariadb': 17306,
    'epmd': 17369,
    'amqp': 17672,
    'erlang_dist': 17673,
    'keystone': 17500,
    'heat_api': 17004,
    'heat_cfn': 17000,
    'memcached': 17211,
}
API_PROCESSES = int(os.environ.get('PRODHEAT_API_PROCESSES', '4'))
ENGINES = int(os.environ.get('PRODHEAT_ENGINES', '2'))
KEYSTONE_PROCESSES = 2
REGION = 'RegionOne'
MEMBER = 'heatplan-member'
PROJECT = 'heatplan'
CLOUD = 'prodheat'
ADMIN_CLOUD = 'prodheat-admin'
RECORD_TAG = 'heatplan-record'
#: heatplan's own stacks (format-1 records, the history stack, the lock).
HIDDEN_TAGS = (RECORD_TAG, 'heatplan-history', 'heatplan-lock')
MEMCACHED = '/usr/bin/memcached'
#: Debian package -> (the program it installs, the service it starts).
APT_PACKAGES = {
    'mariadb-server': ('/usr/sbin/mariadbd', 'mariadb'),
    'rabbitmq-server': ('/usr/lib/rabbitmq/bin/rabbitmq-server', 'rabbitmq-server'),
    'memcached': (MEMCACHED, 'memcached'),
}
MEMCACHE_SERVERS = '%s:%d' % (HOST, PORTS['memcached'])

#: Bounds (seconds).
START_TIMEOUT = 120
STOP_TIMEOUT = 40
COMMAND_TIMEOUT = 900


class Failed(Exception):
    pass


def log(msg):
    print('prodheat: %s' % msg, flush=True)


# -- layout ---------------------------------------------------------------------


class Layout:
    def __init__(self, root):
        self.root = os.path.abspath(root)

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def venv(self):
        return self.p('venv')

    def bin(self, name):
        return os.path.join(self.venv, 'bin', name)

    def pid(self, name):
        return self.p('run', name + '.pid')

    def log(self, name):
        return self.p('log', name + '.log')

    @property
    def clouds(self):
        return self.p('clouds.yaml')

    @property
    def secrets(self):
        return self.p('secrets.json')


def default_root():
    return os.environ.get(DATA_DIR_ENV) or os.path.join(REPO, '.prodheat')


def load_secrets(lay):
    try:
        with open(lay.secrets) as f:
            return json.load(f)
    except OSError:
        pass
    values = {k: secrets.token_hex(12) for k in (
        'db_keystone', 'db_heat', 'admin', 'heat', 'domain_admin', 'member')}
    values['auth_encryption_key'] = secrets.token_hex(16)
    write(lay.secrets, json.dumps(values, indent=2) + '\n', mode=0o600)
    return values


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


# -- processes ------------------------------------------------------------------


def run(cmd, timeout=COMMAND_TIMEOUT, env=None, input_text=None, quiet=True, logfile=None):
    """Run a command to completion (bounded); raise Failed with its output tail."""
    try:
        proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=None if input_text else
                              subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise Failed('%s: timed out after %ds' % (' '.join(cmd[:3]), timeout))
    if logfile:
        with open(logfile, 'a') as f:
            f.write('$ %s\n%s%s' % (' '.join(cmd), proc.stdout, proc.stderr))
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise Failed('%s exited %d:\n  %s' % (' '.join(cmd[:4]), proc.returncode,
                                               '\n  '.join(tail)))
    if not quiet:
        sys.stdout.write(proc.stdout)
    return proc.stdout


def read_pid(lay, name):
    try:
        with open(lay.pid(name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def running(lay, name):
    pid = read_pid(lay, name)
    return pid if alive(pid) else None


def spawn(lay, name, cmd, env=None):
    """Start ``cmd`` detached, in its own session; record its pid."""
    pid = running(lay, name)
    if pid:
        return pid
    os.makedirs(lay.p('log'), exist_ok=True)
    os.makedirs(lay.p('run'), exist_ok=True)
    out = open(lay.log(name + '.console'), 'ab')
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            env=full_env, start_new_session=True, cwd=lay.root)
    out.close()
    write(lay.pid(name), '%d\n' % proc.pid)
    log('started %s (pid %d)' % (name, proc.pid))
    return proc.pid


def stop(lay, name, timeout=STOP_TIMEOUT):
    """SIGTERM the process group ``name`` leads; SIGKILL it after ``timeout``."""
    pid = read_pid(lay, name)
    if not alive(pid):
        _remove(lay.pid(name))
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.2)
    if _group_alive(pid):
        log('%s (pid %d) did not stop in %ds: SIGKILL' % (name, pid, timeout))
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
    _remove(lay.pid(name))
    log('stopped %s (pid %d)' % (name, pid))
    return True


def _group_alive(pgid):
    """Any non-zombie process still in process group ``pgid``."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            return True
    return False


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def wait_for(what, check, lay=None, name=None, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if lay is not None and name and not running(lay, name):
            raise Failed('%s exited during start; see %s' % (
                name, lay.log(name + '.console')))
        time.sleep(0.3)
    raise Failed('%s not ready after %ds' % (what, timeout))


def http_ok(url):
    def check():
        try:
            req = urllib.request.Request(url, headers={'Connection': 'close'})
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except OSError:
            return False
    return check


# -- install --------------------------------------------------------------------


def install(lay):
    missing = [p for p, (exe, _svc) in APT_PACKAGES.items() if not os.path.exists(exe)]
    if missing:
        if os.geteuid() != 0:
            raise Failed('need Debian packages %s (apt-get install -y %s, as root)'
                         % (missing, ' '.join(missing)))
        log('apt-get install %s' % ' '.join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        run(['apt-get', 'update', '-qq'], env=env)
        run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + missing,
            env=env)
        # Debian's packages start their own services: ours run on their own
        # ports and data dirs; stop the distribution's so nothing else runs.
        for _exe, svc in APT_PACKAGES.values():
            try:
                subprocess.run(['service', svc, 'stop'], capture_output=True, timeout=120,
                               stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                pass
    requirements = os.path.join(HERE, 'requirements.txt')
    stamp = os.path.join(lay.venv, '.prodheat-requirements')
    with open(requirements) as f:
        wanted = f.read()
    try:
        with open(stamp) as f:
            have = f.read()
    except OSError:
        have = None
    if have == wanted and os.path.exists(lay.bin('heat-engine')):
        return
    log('installing Keystone, Heat and uWSGI into %s' % lay.venv)
    if not os.path.exists(lay.bin('python')):
        run([sys.executable, '-m', 'venv', lay.venv])
    run([lay.bin('pip'), 'install', '--quiet', '--upgrade', 'pip'])
    run([lay.bin('pip'), 'install', '--quiet', '-r', requirements])
    write(stamp, wanted)


# -- MariaDB --------------------------------------------------------------------


def mariadb(lay, sec):
    datadir = lay.p('mariadb', 'data')
    sock = lay.p('mariadb', 'mysqld.sock')
    if not os.path.exists(os.path.join(datadir, 'mysql')):
        os.makedirs(datadir, exist_ok=True)
        log('initialising MariaDB in %s' % datadir)
        run(['mariadb-install-db', '--no-defaults', '--datadir=' + datadir,
             '--user=root', '--auth-root-authentication-method=socket',
             '--skip-test-db'], logfile=lay.log('setup'))
    spawn(lay, 'mariadb', [
        '/usr/sbin/mariadbd', '--no-defaults', '--datadir=' + datadir,
        '--socket=' + sock, '--port=%d' % PORTS['mariadb'], '--bind-address=' + HOST,
        '--pid-file=' + lay.p('mariadb', 'mariadbd.pid'),
        '--log-error=' + lay.log('mariadb'), '--user=root', '--skip-name-resolve',
        '--max-connections=1000', '--innodb-buffer-pool-size=256M',
        '--innodb-flush-log-at-trx-commit=2', '--character-set-server=utf8mb4',
        '--collation-server=utf8mb4_general_ci'])
    wait_for('MariaDB', lambda: os.path.exists(sock) and port_open(PORTS['mariadb']),
             lay, 'mariadb')
    sql = []
    for db, key in (('keystone', 'db_keystone'), ('heat', 'db_heat')):
        sql += [
            'CREATE DATABASE IF NOT EXISTS %s;' % db,
            "CREATE USER IF NOT EXISTS '%s'@'127.0.0.1' IDENTIFIED BY '%s';" % (db, sec[key]),
            "ALTER USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';" % (db, sec[key]),
            "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'127.0.0.1';" % (db, db),
        ]
    run(['mariadb', '--no-defaults', '--socket=' + sock, '-uroot'],
        input_text='\n'.join(sql) + '\nFLUSH PRIVILEGES;\n')


def db_url(sec, db):
    return 'mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8' % (
        db, sec['db_' + db], HOST, PORTS['mariadb'], db)


# -- RabbitMQ -------------------------------------------------------------------


def rabbit_env(lay):
    base = lay.p('rabbitmq')
    return {
        'HOME': base,   # the Erlang cookie lives in $HOME
        'RABBITMQ_NODENAME': 'prodheat@localhost',
        'RABBITMQ_NODE_IP_ADDRESS': HOST,
        'RABBITMQ_NODE_PORT': str(PORTS['amqp']),
        'RABBITMQ_DIST_PORT': str(PORTS['erlang_dist']),
        'RABBITMQ_MNESIA_BASE': os.path.join(base, 'mnesia'),
        'RABBITMQ_LOG_BASE': lay.p('log'),
        'RABBITMQ_LOGS': lay.log('rabbitmq'),
        'RABBITMQ_CONFIG_FILE': os.path.join(base, 'rabbitmq.conf'),
        'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(base, 'enabled_plugins'),
        'RABBITMQ_PID_FILE': os.path.join(base, 'rabbitmq.pid'),
        'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS': '-kernel inet_dist_use_interface {127,0,0,1}',
        'ERL_EPMD_ADDRESS': HOST,
        'ERL_EPMD_PORT': str(PORTS['epmd']),
    }


def rabbitmq(lay):
    env = rabbit_env(lay)
    base = lay.p('rabbitmq')
    os.makedirs(base, exist_ok=True)
    write(env['RABBITMQ_ENABLED_PLUGINS_FILE'], '[].\n')
    write(env['RABBITMQ_CONFIG_FILE'], '\n'.join([
        'listeners.tcp.default = %s:%d' % (HOST, PORTS['amqp']),
        'loopback_users.guest = true',
        'log.console = false',
        'disk_free_limit.absolute = 50MB',
        '']))
    # epmd first, as our own child: else erl starts a daemon epmd nobody stops.
    spawn(lay, 'epmd', ['epmd', '-address', HOST, '-port', str(PORTS['epmd'])],
          env={'ERL_EPMD_ADDRESS': HOST})
    wait_for('epmd', lambda: port_open(PORTS['epmd']), lay, 'epmd')
    spawn(lay, 'rabbitmq', ['/usr/lib/rabbitmq/bin/rabbitmq-server'], env=env)
    wait_for('RabbitMQ', lambda: port_open(PORTS['amqp']), lay, 'rabbitmq')


# -- memcached ------------------------------------------------------------------


def memcached(lay):
    """The cache Keystone and Heat's token validation share, as in production.

    Without it Keystone validates every token from the database (roles,
    assignments, revocation events): measured on tests/functional/test_deploy.py,
    Keystone's two workers took 180 s of CPU in a 280 s run; with it, 29 s in 136 s.
    """
    cmd = [MEMCACHED, '-l', HOST, '-p', str(PORTS['memcached']), '-U', '0', '-m', '64']
    if os.geteuid() == 0:
        cmd += ['-u', 'root']   # memcached refuses to run as root without it
    spawn(lay, 'memcached', cmd)
    wait_for('memcached', lambda: port_open(PORTS['memcached']), lay, 'memcached')


# -- Keystone -------------------------------------------------------------------


def keystone_url():
    return 'http://%s:%d/v3' % (HOST, PORTS['keystone'])


def keystone(lay, sec):
    conf = lay.p('keystone', 'keystone.conf')
    fernet = lay.p('keystone', 'fernet-keys')
    cred = lay.p('keystone', 'credential-keys')
    write(conf, '\n'.join([
        '[DEFAULT]',
        'log_file = %s' % lay.log('keystone'),
        'use_stderr = false',
        '[database]',
        'connection = %s' % db_url(sec, 'keystone'),
        '[token]',
        'provider = fernet',
        'expiration = 14400',
        '[fernet_tokens]',
        'key_repository = %s' % fernet,
        '[credential]',
        'key_repository = %s' % cred,
        # As devstack and every production Keystone: validated tokens, roles
        # and revocation events cached in memcached, shared by the workers.
        '[cache]',
        'enabled = true',
        'backend = oslo_cache.memcache_pool',
        'memcache_servers = %s' % MEMCACHE_SERVERS,
        # bcrypt's default (12 rounds) costs ~0.25 s of CPU per password
        # authentication, and every client session, Heat's service user and
        # its trustee authenticate: on 2 shared cores that dominated the suite.
        '[identity]',
        'password_hash_rounds = 4',
        '']))
    manage = [lay.bin('keystone-manage'), '--config-file', conf]
    setup_log = lay.log('setup')
    if not os.path.exists(lay.p('keystone', '.bootstrapped')):
        log('keystone-manage db_sync, fernet_setup, bootstrap')
        run(manage + ['db_sync'], logfile=setup_log)
        if not os.path.isdir(fernet):
            run(manage + ['fernet_setup', '--keystone-user', 'root',
                          '--keystone-group', 'root'], logfile=setup_log)
        if not os.path.isdir(cred):
            run(manage + ['credential_setup', '--keystone-user', 'root',
                          '--keystone-group', 'root'], logfile=setup_log)
        run(manage + ['bootstrap', '--bootstrap-password', sec['admin'],
                      '--bootstrap-admin-url', keystone_url(),
                      '--bootstrap-internal-url', keystone_url(),
                      '--bootstrap-public-url', keystone_url(),
                      '--bootstrap-region-id', REGION], logfile=setup_log)
        write(lay.p('keystone', '.bootstrapped'), '')
    spawn(lay, 'keystone', uwsgi(lay, 'keystone', 'tools.prodheat.wsgi:application',
                                 PORTS['keystone'], KEYSTONE_PROCESSES),
          env={'OS_KEYSTONE_CONFIG_FILES': conf, 'PRODHEAT_APP': 'keystone'})
    wait_for('Keystone', http_ok(keystone_url()), lay, 'keystone')


def uwsgi(lay, name, module, port, processes, pyargv=None):
    cmd = [
        lay.bin('uwsgi'), '--master', '--die-on-term', '--need-app',
        '--http-socket', '%s:%d' % (HOST, port),
        '--virtualenv', lay.venv, '--pythonpath', REPO, '--module', module,
        '--processes', str(processes), '--threads', '1', '--lazy-apps',
        '--buffer-size', '65535',
        # Without it, clients that reuse a connection get it reset.
        '--add-header', 'Connection: close',
        '--worker-reload-mercy', '10', '--reload-mercy', '10',
        '--logto', lay.log(name + '.uwsgi'), '--disable-logging',
        '--procname-prefix', 'prodheat-%s ' % name,
    ]
    if pyargv:
        cmd += ['--pyargv', pyargv]
    return cmd


# -- Heat -----------------------------------------------------------------------


def heat_conf(lay, sec):
    ks = keystone_url()
    cfn = 'http://%s:%d' % (HOST, PORTS['heat_cfn'])
    return '\n'.join([
        '[DEFAULT]',
        'host = prodheat-api',
        'use_stderr = false',
        'transport_url = rabbit://guest:guest@%s:%d/' % (HOST, PORTS['amqp']),
        'auth_encryption_key = %s' % sec['auth_encryption_key'],
        'region_name_for_services = %s' % REGION,
        'stack_user_domain_name = heat',
        'stack_domain_admin = heat_domain_admin',
        'stack_domain_admin_password = %s' % sec['domain_admin'],
        'heat_stack_user_role = heat_stack_user',
        'heat_metadata_server_url = %s' % cfn,
        'heat_waitcondition_server_url = %s/v1/waitcondition' % cfn,
        'num_engine_workers = 1',
        'periodic_interval = 60',
        # As heatplan's local Heat (and TripleO): records hidden, 8 MiB bodies.
        'hidden_stack_tags = %s' % ','.join(HIDDEN_TAGS),
        'max_json_body_size = %d' % (8 * 1024 * 1024),
        '',
        '[database]',
        'connection = %s' % db_url(sec, 'heat'),
        'max_pool_size = 10',
        'max_overflow = 20',
        '',
        '[keystone_authtoken]',
        'www_authenticate_uri = %s' % ks,
        'auth_url = %s' % ks,
        'auth_type = password',
        'username = heat',
        'password = %s' % sec['heat'],
        'project_name = service',
        'user_domain_name = Default',
        'project_domain_name = Default',
        # One token cache for all of heat-api's workers (per worker without it).
        'memcached_servers = %s' % MEMCACHE_SERVERS,
        '',
        '[trustee]',
        'auth_type = password',
        'auth_url = %s' % ks,
        'username = heat',
        'password = %s' % sec['heat'],
        'user_domain_name = Default',
        '',
        '[clients_keystone]',
        'auth_uri = %s' % ks.rsplit('/v3', 1)[0],
        '',
        '[ec2authtoken]',
        'auth_uri = %s' % ks,
        '',
        '[paste_deploy]',
        'api_paste_config = %s' % os.path.join(lay.venv, 'etc', 'heat', 'api-paste.ini'),
        '',
        '[oslo_messaging_notifications]',
        'driver = noop',
        '',
        '[oslo_messaging_rabbit]',
        'heartbeat_timeout_threshold = 60',
        '',
    ])


def heat(lay, sec):
    conf = lay.p('heat', 'heat.conf')
    write(conf, heat_conf(lay, sec), mode=0o600)
    if not os.path.exists(lay.p('heat', '.db_synced')):
        log('heat-manage db_sync')
        run([lay.bin('heat-manage'), '--config-file', conf, 'db_sync'],
            logfile=lay.log('setup'))
        write(lay.p('heat', '.db_synced'), '')
    for i in range(1, ENGINES + 1):
        name = 'heat-engine-%d' % i
        host_conf = lay.p('heat', '%s.conf' % name)
        write(host_conf, '[DEFAULT]\nhost = prodheat-engine-%d\n' % i)
        # tools/prodheat/engine.py: heat-engine, PRODHEAT_TAG_DELAY injects a delay
        spawn(lay, name, [lay.bin('python'), os.path.join(HERE, 'engine.py'),
                          '--config-file', conf,
                          '--config-file', host_conf, '--log-file', lay.log(name)])
    spawn(lay, 'heat-api', uwsgi(
        lay, 'heat-api', 'tools.prodheat.wsgi:application', PORTS['heat_api'], API_PROCESSES,
        pyargv='--config-file %s --log-file %s' % (conf, lay.log('heat-api'))),
        env={'PRODHEAT_APP': 'heat-api'})
    wait_for('Heat API', http_ok('http://%s:%d/' % (HOST, PORTS['heat_api'])),
             lay, 'heat-api')
    wait_for('heat-engines', lambda: engines_up(lay), timeout=START_TIMEOUT)


def engines_up(lay):
    """Every engine has logged that it is serving (its RPC server started)."""
    for i in range(1, ENGINES + 1):
        name = 'heat-engine-%d' % i
        if not running(lay, name):
            raise Failed('%s exited during start; see %s' % (name, lay.log(name)))
        try:
            with open(lay.log(name), errors='replace') as f:
                text = f.read()
        except OSError:
            return False
        if 'Starting' not in text and 'started' not in text.lower():
            return False
    return True


# -- bootstrap and clouds.yaml ----------------------------------------------------


def bootstrap(lay, sec):
    args = {
        'auth_url': keystone_url(), 'admin_password': sec['admin'],
        'heat_password': sec['heat'], 'domain_admin_password': sec['domain_admin'],
        'member': MEMBER, 'member_password': sec['member'], 'project': PROJECT,
        'region': REGION,
        'heat_url': 'http://%s:%d/v1/%%(tenant_id)s' % (HOST, PORTS['heat_api']),
        'cfn_url': 'http://%s:%d/v1' % (HOST, PORTS['heat_cfn']),
    }
    run([lay.bin('python'), os.path.join(HERE, 'bootstrap.py')],
        input_text=json.dumps(args), logfile=lay.log('setup'))


def clouds_yaml(sec):
    def cloud(user, password, project):
        return [
            '    auth:',
            '      auth_url: %s' % keystone_url(),
            '      username: %s' % user,
            '      password: "%s"' % password,
            '      project_name: %s' % project,
            '      user_domain_name: Default',
            '      project_domain_name: Default',
            '    region_name: %s' % REGION,
            '    interface: public',
            '    identity_api_version: 3',
        ]
    return '\n'.join(
        ['# Written by tools/prodheat (python -m tools.prodheat up).', 'clouds:',
         '  %s:' % CLOUD] + cloud(MEMBER, sec['member'], PROJECT) +
        ['  %s:' % ADMIN_CLOUD] + cloud('admin', sec['admin'], 'admin')) + '\n'


# -- verbs ----------------------------------------------------------------------

SERVICES = ['mariadb', 'epmd', 'rabbitmq', 'memcached', 'keystone'] + [
    'heat-engine-%d' % i for i in range(1, 10)] + ['heat-api']


def up(lay):
    started = time.monotonic()
    os.makedirs(lay.root, mode=0o700, exist_ok=True)
    os.makedirs(lay.p('log'), exist_ok=True)
    install(lay)
    sec = load_secrets(lay)
    mariadb(lay, sec)
    rabbitmq(lay)
    memcached(lay)
    keystone(lay, sec)
    if not os.path.exists(lay.p('keystone', '.heat-bootstrapped')):
        log('bootstrapping Keystone: project, users, roles, endpoints, stack-user domain')
        bootstrap(lay, sec)
        write(lay.p('keystone', '.heat-bootstrapped'), '')
    heat(lay, sec)
    write(lay.clouds, clouds_yaml(sec), mode=0o600)
    log('up in %.1fs; OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s (member), %s (admin)'
        % (time.monotonic() - started, lay.clouds, CLOUD, ADMIN_CLOUD))
    return 0


def status(lay, as_json=False):
    rows = []
    for name in SERVICES:
        pid = read_pid(lay, name)
        if pid is None and name.startswith('heat-engine-'):
            continue
        rows.append({'service': name, 'pid': pid, 'running': alive(pid)})
    ports = {k: port_open(v) for k, v in PORTS.items() if k not in ('erlang_dist',
                                                                    'heat_cfn')}
    healthy = bool(rows) and all(r['running'] for r in rows) and all(ports.values())
    result = {'data_dir': lay.root, 'healthy': healthy, 'services': rows,
              'ports_listening': ports, 'clouds_yaml': lay.clouds,
              'cloud': CLOUD, 'admin_cloud': ADMIN_CLOUD}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for r in rows:
            print('%-16s %-8s %s' % (r['service'], r['pid'] or '-',
                                     'running' if r['running'] else 'stopped'))
        print('ports: %s' % ', '.join('%s=%s' % (k, 'up' if v else 'down')
                                     for k, v in ports.items()))
        print('healthy: %s' % healthy)
    return 0 if healthy else 1


def down(lay):
    stopped_any = False
    # Heat first (engines take > 8 s on SIGTERM), then what it uses.
    order = ['heat-api'] + ['heat-engine-%d' % i for i in range(1, 10)] + [
        'keystone', 'memcached', 'rabbitmq', 'epmd', 'mariadb']
    engines = [n for n in order if n.startswith('heat-engine-') and running(lay, n)]
    for name in engines:   # SIGTERM every engine at once, then wait
        try:
            os.killpg(read_pid(lay, name), signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass
    for name in order:
        stopped_any = stop(lay, name) or stopped_any
    log('down' if stopped_any else 'nothing was running')
    return 0


def purge(lay):
    down(lay)
    for sub in ('mariadb', 'rabbitmq', 'keystone', 'heat', 'run', 'log'):
        shutil.rmtree(lay.p(sub), ignore_errors=True)
    for f in (lay.clouds, lay.secrets):
        _remove(f)
    log('removed the services\' data (the venv is kept)')
    return 0


def main(argv):
    parser = argparse.ArgumentParser(
        prog='python -m tools.prodheat',
        description='A production-shaped Heat on 127.0.0.1 (MariaDB, RabbitMQ, '
                    'Keystone, Heat API under uWSGI, several heat-engines).')
    parser.add_argument('--data-dir', default=default_root(),
                        help='where everything lives (env %s; default .prodheat/ '
                             'in the repo)' % DATA_DIR_ENV)
    sub = parser.add_subparsers(dest='verb', required=True)
    upp = sub.add_parser('up', help='install what is missing, start, bootstrap (idempotent)')
    upp.add_argument('--fresh', action='store_true',
                     help='first stop and remove all data but the venv (purge): a new '
                          'cloud with no stacks')
    st = sub.add_parser('status', help='what runs; exit 1 unless all is healthy')
    st.add_argument('--json', action='store_true')
    sub.add_parser('down', help='stop everything by pid')
    sub.add_parser('purge', help='down, then remove all data but the venv')
    args = parser.parse_args(argv)
    lay = Layout(args.data_dir)
    try:
        if args.verb == 'up':
            if args.fresh:
                purge(lay)
            try:
                return up(lay)
            except BaseException:
                log('up failed: stopping what it started')
                down(lay)
                raise
        if args.verb == 'status':
            return status(lay, args.json)
        if args.verb == 'down':
            return down(lay)
        return purge(lay)
    except Failed as exc:
        print('prodheat: error: %s' % exc, file=sys.stderr)
        return 1
