"""How a command reaches Heat: options and the :class:`HeatAdapter` they give.

In order of precedence:

1. ``--heat-url URL`` (or ``HEATPLAN_HEAT_URL``): a Heat without
   authentication, e.g. the local Heat's ``http://127.0.0.1:8006/v1/admin``;
2. ``--local`` (or ``HEATPLAN_LOCAL=1``): heatplan's embedded local Heat,
   started on demand;
3. inside openstackclient (``openstack stack plan ...``): the keystoneauth1
   session openstackclient built from its ``--os-*`` options;
4. otherwise the session openstackclient would build: openstack's global
   options before the verb (``heatplan --os-cloud NAME deploy ...``, see
   :mod:`heatplan.cli.osopts`), ``--os-cloud``/``--os-region-name``/
   ``--os-interface`` after it, clouds.yaml and the ``OS_*`` variables, through
   osc-lib's ``OSC_Config`` and ``ClientManager``.

Both openstack paths honour the cloud's ``orchestration_endpoint_override``.

Credentials and tokens are never logged.
"""

import logging
import os

from heatplan import errors
from heatplan.heat.adapter import HeatAdapter
from heatplan.heat.adapter import body_limit_hint as body_limit_hint_for
from heatplan.lint import DEFAULT_MAX_BODY_BYTES

LOG = logging.getLogger(__name__)

HEAT_URL_ENV = 'HEATPLAN_HEAT_URL'
LOCAL_ENV = 'HEATPLAN_LOCAL'

_TRUE = ('1', 'true', 'yes', 'on')


def _env_flag(name):
    return os.environ.get(name, '').strip().lower() in _TRUE


def _in_openstackclient(app):
    manager = getattr(app, 'client_manager', None) if app is not None else None
    return manager is not None


def add_heat_arguments(parser, app=None):
    """Add the options choosing which Heat to talk to; return the group.

    With ``app`` an openstackclient shell, the ``--os-*`` options are
    openstackclient's own and are not added again.
    """
    group = parser.add_argument_group(
        'Heat connection',
        'Which Heat to use. Default: the cloud of --os-cloud / OS_* variables '
        '(or openstackclient\'s session).')
    group.add_argument(
        '--local', action='store_true', default=_env_flag(LOCAL_ENV),
        help='use heatplan\'s local Heat on 127.0.0.1 (no authentication), '
             'starting it if needed (env %s=1); plans are then checked against its '
             'max_json_body_size unless --max-body-bytes is given' % LOCAL_ENV)
    # Not given, --max-body-bytes (if the command has it) is Heat's default
    # or, with --local, the local Heat's limit: see max_body_bytes().
    parser.set_defaults(max_body_bytes=DEFAULT_BODY_LIMIT)
    group.add_argument(
        '--heat-url', metavar='URL', default=os.environ.get(HEAT_URL_ENV) or None,
        help='orchestration endpoint of a Heat without authentication, e.g. '
             'http://127.0.0.1:8006/v1/admin (env %s)' % HEAT_URL_ENV)
    if not _in_openstackclient(app):
        group.add_argument(
            '--os-cloud', metavar='NAME', default=None,
            help='cloud name in clouds.yaml (env OS_CLOUD)')
        group.add_argument(
            '--os-region-name', metavar='REGION',
            default=None,
            help='region of the orchestration endpoint (env OS_REGION_NAME)')
        group.add_argument(
            '--os-interface', metavar='INTERFACE',
            default=None,
            help='endpoint interface: public, internal or admin (env OS_INTERFACE)')
    return group


def get_adapter(app, parsed_args):
    """The :class:`HeatAdapter` the command's options and environment select."""
    heat_url = getattr(parsed_args, 'heat_url', None)
    local = getattr(parsed_args, 'local', False)
    if heat_url and local:
        raise errors.UsageError('--local and --heat-url exclude each other')
    if heat_url:
        LOG.debug('using the noauth Heat at %s', heat_url)
        return _with_local_defaults(HeatAdapter.from_url(heat_url))
    if local:
        return local_adapter()
    if _in_openstackclient(app):
        return _osc_adapter(app)
    return _standalone_adapter(app, parsed_args)


class DefaultBodyLimit(int):
    """``--max-body-bytes`` not given: Heat's default, or the local Heat's limit."""


#: The ``--max-body-bytes`` default of commands that choose a Heat.
DEFAULT_BODY_LIMIT = DefaultBodyLimit(DEFAULT_MAX_BODY_BYTES)


def uses_local(parsed_args):
    """True if the command talks to heatplan's local Heat (``--local``)."""
    return bool(getattr(parsed_args, 'local', False)) and not getattr(
        parsed_args, 'heat_url', None)


def max_body_bytes(parsed_args):
    """The request body limit to check a plan against, before anything is sent.

    ``--max-body-bytes`` when given; with ``--local``, the local Heat's own
    ``max_json_body_size`` (what it runs with, or starts with); otherwise
    Heat's default, 1 MiB: other clouds' limits cannot be asked for.
    """
    value = getattr(parsed_args, 'max_body_bytes', None)
    if value is None or isinstance(value, DefaultBodyLimit):
        if uses_local(parsed_args):
            from heatplan.local import launcher

            return launcher.configured_limits()['max_json_body_size']
        return DEFAULT_MAX_BODY_BYTES
    if value < 0:
        raise errors.UsageError('--max-body-bytes must be 0 (no check) or a number of bytes')
    return int(value)


def body_limit_hint(parsed_args):
    """How to raise the request body limit a plan went over (see heat.body_limit_hint)."""
    try:
        limit = max_body_bytes(parsed_args)
    except errors.UsageError:
        limit = None
    return body_limit_hint_for(uses_local(parsed_args), limit)


def _with_local_defaults(adapter):
    """The local Heat's default port and data dir, for hints of a loopback --heat-url."""
    import urllib.parse

    from heatplan.local import config as local_config

    try:
        url_port = urllib.parse.urlsplit(adapter.url or '').port
    except ValueError:
        url_port = None
    adapter.local_port = adapter.local_port or url_port or local_config.DEFAULT_PORT
    adapter.local_data_dir = adapter.local_data_dir or local_config.default_data_dir()
    return adapter


def local_adapter(data_dir=None, port=None):
    """Adapter for heatplan's local Heat, started if it is not running."""
    from heatplan.local import launcher

    status = launcher.ensure_up(data_dir=data_dir, port=port)
    LOG.debug('using the local Heat at %s', status.url)
    adapter = HeatAdapter.from_url(status.url, local=True)
    adapter.local_port = status.get('port')
    adapter.local_data_dir = status.get('data_dir') or data_dir
    adapter.max_json_body_size = launcher.configured_limits(data_dir)['max_json_body_size']
    return adapter


def _osc_adapter(app):
    manager = app.client_manager
    try:
        session = manager.stack_plan
    except errors.HeatplanError:
        raise
    except Exception as exc:  # osc-lib/keystoneauth: bad or missing credentials
        raise errors.ConnectionFailed(
            'cannot authenticate with OpenStack: %s' % _one_line(exc),
            hint='check --os-cloud / OS_* variables, or use --local or --heat-url')
    return _manager_adapter(manager, session)


def _standalone_adapter(app, parsed_args):
    from heatplan.cli import osopts

    try:
        manager = osopts.client_manager(getattr(app, 'options', None), parsed_args)
    except errors.HeatplanError:
        raise
    except Exception as exc:
        raise _credentials_error(exc)
    return _manager_adapter(manager, manager.session)


def _credentials_error(exc):
    """heatplan's error for a failure to build the OpenStack session."""
    from keystoneauth1 import exceptions as ks_exc
    from openstack import exceptions as os_exc
    from osc_lib import exceptions as osc_exc

    hint = ('pass --os-cloud NAME (clouds.yaml) or --os-auth-url/--os-username/... '
            'before the command, or set OS_* variables; or use --local (heatplan\'s '
            'local Heat) or --heat-url URL')
    if isinstance(exc, (ks_exc.MissingRequiredOptions, osc_exc.CommandError)):
        return errors.ConnectionFailed(
            'no Heat selected and no usable OpenStack credentials (%s)' % _one_line(exc),
            hint=hint)
    if isinstance(exc, os_exc.ConfigException):
        return errors.ConnectionFailed(
            'cannot load OpenStack credentials: %s' % _one_line(exc), hint=hint)
    return errors.ConnectionFailed(
        'cannot set up an OpenStack session: %s' % _one_line(exc), hint=hint)


def _manager_adapter(manager, session):
    """The adapter over an osc-lib ``ClientManager``'s session.

    The endpoint: the cloud's ``orchestration_endpoint_override`` if set,
    else the service catalog (region, interface) or the auth plugin's
    endpoint (``--os-endpoint`` with ``--os-auth-type none``/``admin_token``).
    """
    try:
        config = manager.get_configuration()
    except Exception:  # a manager without osc-lib's configuration
        config = {}
    return HeatAdapter.from_session(
        session,
        endpoint_override=config.get('orchestration_endpoint_override'),
        interface=getattr(manager, 'interface', None),
        region_name=getattr(manager, 'region_name', None))


def _one_line(exc):
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:300]
