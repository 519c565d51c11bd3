"""Configuration of the embedded local Heat: defaults, data dir layout, files.

The local Heat is a real Heat (package ``openstack-heat``) running API and
engine in one process on loopback, with **no authentication** (``noauth``
paste flavor).  This module knows nothing about running it; it only says
where its files live and writes them (``heat.conf``, the noauth token
response, the paste pipeline).  It imports nothing from Heat or oslo.
"""

import json
import os
import secrets

from heatplan import store

#: Tag carried by heatplan's revision-record stacks; the local Heat hides
#: stacks tagged so from stack lists (``hidden_stack_tags``).
RECORD_TAG = store.RECORD_TAG
#: Every tag heatplan's own stacks carry (format-1 records, the history, the lock).
HIDDEN_TAGS = (store.RECORD_TAG, store.HISTORY_TAG, store.LOCK_TAG)

DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 8006

#: noauth puts every request in this project (``X-Auth-Project`` absent).
PROJECT_ID = 'admin'
USER_ID = 'admin'
REGION = 'RegionOne'

#: Heat limits the local Heat can be started with, and their defaults.
#: ``max_json_body_size`` is raised from Heat's 1 MiB: real plans
#: (TripleO) send 4-8 MiB requests.
LIMIT_DEFAULTS = {
    'max_json_body_size': 8 * 1024 * 1024,
    'max_template_size': 524288,
    'max_nested_stack_depth': 5,
    'max_resources_per_stack': 1000,
    'max_stacks_per_tenant': 512,
    'max_events_per_stack': 1000,
}

#: Threads of each in-process RPC server (engine, worker).  A convergence
#: worker thread stays busy while a nested stack it creates is in progress,
#: so many nested stacks in flight need many threads: with Heat's default
#: (64) 30 concurrent deploys of a small nested plan starve and hang.
EXECUTOR_THREADS = 1024

#: Seconds without progress (stacks IN_PROGRESS) before the watchdog dumps
#: every thread to heat.log (see :mod:`heatplan.local.watchdog`).
WATCHDOG_SECONDS = 60

#: heat.log is rotated at this size (MB), keeping LOG_KEEP old files
#: (heat.log.1 ...): a busy local Heat logs every API request.
LOG_MAX_MB = 50
LOG_KEEP = 3

#: SQLite busy timeout (milliseconds) on every connection.
SQLITE_BUSY_TIMEOUT_MS = 60000

#: Environment variable naming the data dir (overrides the XDG default).
DATA_DIR_ENV = 'HEATPLAN_LOCAL_DATA_DIR'

_PASTE_INI = """\
# Written by heatplan: the heat-api pipeline with no authentication.
[composite:heat-api]
use = egg:Paste#urlmap
/: api
/healthcheck: healthcheck

[composite:api]
paste.composite_factory = heat.api:pipeline_factory
noauth = cors request_id faultwrap noauth context http_proxy_to_wsgi versionnegotiation apiv1app

[app:apiv1app]
paste.app_factory = heat.common.wsgi:app_factory
heat.app_factory = heat.api.openstack.v1:API

[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory

[filter:versionnegotiation]
paste.filter_factory = heat.common.wsgi:filter_factory
heat.filter_factory = heat.api.openstack:version_negotiation_filter

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = heat

[filter:faultwrap]
paste.filter_factory = heat.common.wsgi:filter_factory
heat.filter_factory = heat.api.openstack:faultwrap_filter

[filter:context]
paste.filter_factory = heat.common.context:ContextMiddleware_filter_factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory

[filter:noauth]
paste.filter_factory = heat.common.noauth:filter_factory

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory
"""


def default_data_dir():
    """``$HEATPLAN_LOCAL_DATA_DIR``, else ``$XDG_DATA_HOME/heatplan/local-heat``."""
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get('XDG_DATA_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'share')
    return os.path.join(os.path.abspath(base), 'heatplan', 'local-heat')


def endpoint_url(host, port, project_id=PROJECT_ID):
    """The orchestration endpoint (``/v1/<project>``) of a local Heat."""
    return 'http://%s:%d/v1/%s' % (host, port, project_id)


class Paths:
    """Where the local Heat keeps its files inside its data dir."""

    def __init__(self, data_dir):
        self.data_dir = os.path.abspath(os.path.expanduser(data_dir))

    def _p(self, name):
        return os.path.join(self.data_dir, name)

    @property
    def conf(self):
        return self._p('heat.conf')

    @property
    def database(self):
        return self._p('heat.sqlite')

    @property
    def log(self):
        return self._p('heat.log')

    @property
    def console(self):
        """stdout/stderr of the server process (crashes before logging)."""
        return self._p('server.out')

    @property
    def pid(self):
        return self._p('heat.pid')

    @property
    def state(self):
        """JSON written by the launcher: pid, host, port, url, started."""
        return self._p('heat.json')

    @property
    def progress(self):
        """JSON written by the watchdog: in progress, last progress, stalled."""
        return self._p('progress.json')

    @property
    def token(self):
        return self._p('token.json')

    @property
    def paste(self):
        return self._p('api-paste.ini')

    @property
    def auth_key(self):
        return self._p('auth_encryption_key')


def token_response(host, port, project_id=PROJECT_ID):
    """A Keystone v3 token body whose catalog lists this Heat.

    Heat's noauth middleware hands it to the request context.  Resources
    whose client plugin is ``heat`` (``OS::Heat::MultipartMime``,
    ``SoftwareConfig``, ``CloudConfig``, ...) check that an
    ``orchestration`` or ``cloudformation`` endpoint is in the catalog, and
    fail validation with "service not available" otherwise.
    """
    base = 'http://%s:%d' % (host, port)

    def entry(service_type, name, url):
        return {
            'type': service_type,
            'name': name,
            'id': name,
            'endpoints': [
                {'id': '%s-%s' % (name, iface), 'interface': iface,
                 'region': REGION, 'region_id': REGION, 'url': url}
                for iface in ('public', 'internal', 'admin')
            ],
        }

    return {
        'token': {
            'methods': ['token'],
            'expires_at': '2099-12-31T23:59:59.000000Z',
            'issued_at': '2000-01-01T00:00:00.000000Z',
            'user': {'id': USER_ID, 'name': USER_ID,
                     'domain': {'id': 'default', 'name': 'Default'}},
            'project': {'id': project_id, 'name': project_id,
                        'domain': {'id': 'default', 'name': 'Default'}},
            'roles': [{'id': 'admin', 'name': 'admin'}],
            'catalog': [
                entry('orchestration', 'heat', '%s/v1/%s' % (base, project_id)),
                entry('cloudformation', 'heat-cfn', '%s/v1' % base),
                entry('identity', 'keystone', 'http://localhost:5000/v3'),
            ],
        }
    }


def _auth_encryption_key(paths):
    """A 32-character key, made once per data dir and kept."""
    try:
        with open(paths.auth_key) as f:
            key = f.read().strip()
        if len(key) == 32:
            return key
    except OSError:
        pass
    key = secrets.token_hex(16)
    fd = os.open(paths.auth_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(key + '\n')
    return key


def render_conf(paths, host, port, limits=None, debug=False):
    """Return heat.conf's text for a local Heat serving ``host:port``."""
    values = dict(LIMIT_DEFAULTS)
    values.update({k: v for k, v in (limits or {}).items() if v is not None})
    unknown = set(values) - set(LIMIT_DEFAULTS)
    if unknown:
        raise ValueError('unknown Heat limit(s): %s' % ', '.join(sorted(unknown)))
    lines = [
        '# Written by heatplan at each start of the local Heat; edits are lost.',
        '[DEFAULT]',
        'host = heatplan-local',
        'debug = %s' % ('true' if debug else 'false'),
        'log_file = %s' % paths.log,
        'log_rotation_type = size',
        'max_logfile_size_mb = %d' % LOG_MAX_MB,
        'max_logfile_count = %d' % LOG_KEEP,
        'use_stderr = false',
        'transport_url = fake://',
        'keystone_backend = '
        'heat.engine.clients.os.keystone.fake_keystoneclient.FakeKeystoneClient',
        'region_name_for_services = %s' % REGION,
        'auth_encryption_key = %s' % _auth_encryption_key(paths),
        'hidden_stack_tags = %s' % ','.join(HIDDEN_TAGS),
        'heat_metadata_server_url = http://%s:%d' % (host, port),
        'heat_waitcondition_server_url = http://%s:%d/v1/waitcondition' % (host, port),
        'num_engine_workers = 1',
        'executor_thread_pool_size = %d' % EXECUTOR_THREADS,
        'periodic_interval = 60',
        # With the default ("trusts") every load of a root stack for update
        # asks whether its stored trust is still the caller's; against the
        # fake Keystone the answer is always no, so each root update
        # rotated the stored credentials and deleted the old row, which its
        # nested stacks still reference: a nested update racing with it
        # failed ("'NoneType' object has no attribute 'obj_to_primitive'").
        # Nothing here can use a trust anyway (no Keystone, no trustee).
        'deferred_auth_method = password',
    ]
    for name in sorted(values):
        lines.append('%s = %d' % (name, int(values[name])))
    return '\n'.join(lines + _other_sections(paths))


def _other_sections(paths):
    """heat.conf after [DEFAULT]: the database, the noauth API, no notifications."""
    return [
        '',
        '[database]',
        'connection = sqlite:///%s' % paths.database,
        '',
        '[paste_deploy]',
        'flavor = noauth',
        'api_paste_config = %s' % paths.paste,
        '',
        '[noauth]',
        'token_response = %s' % paths.token,
        '',
        '[oslo_messaging_notifications]',
        'driver = noop',
        '',
        '[oslo_policy]',
        'enforce_scope = false',
        'enforce_new_defaults = false',
        '',
    ]


def write_files(paths, host, port, limits=None, debug=False):
    """Write heat.conf, the noauth token response and the paste pipeline."""
    os.makedirs(paths.data_dir, mode=0o700, exist_ok=True)
    conf = render_conf(paths, host, port, limits=limits, debug=debug)
    _write(paths.conf, conf)
    _write(paths.token, json.dumps(token_response(host, port), indent=2) + '\n')
    _write(paths.paste, _PASTE_INI)


def _write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)
