"""openstack's global options on the standalone ``heatplan`` command.

``heatplan [--os-cloud NAME | --os-auth-url URL --os-username ... |
--os-auth-type none --os-endpoint URL ...] VERB ...`` takes the options
``openstack`` takes, where it takes them (before the verb), from the same
loaders: osc-lib's shell options (``--os-cloud``, ``--os-region-name``,
``--os-interface``, ``--os-cacert``, ``--insecure``/``--verify`` ...) and
osc-lib's auth-plugin option builder over keystoneauth1's plugin loaders
(``--os-auth-type`` and every plugin's options: ``--os-auth-url``,
``--os-username``, ``--os-password``, ``--os-token``, ``--os-endpoint`` ...,
each with its ``OS_*`` variable).  The session is then built the way
openstackclient builds it: osc-lib's ``OSC_Config`` (openstacksdk's config
loader: clouds.yaml, ``OS_*``) and osc-lib's ``ClientManager``.

The auth-plugin options take keystoneauth1's plugin scan (most of a second),
so they are registered only when the words before the verb ask for them
(an ``--os-*`` option, ``--insecure``/``--verify`` or ``--help``): ``heatplan
--version`` and every command without them start as fast as before.
"""

import argparse
import os

#: Words before the verb that need openstack's options registered.
_TRIGGERS = ('--insecure', '--verify', '-h', '--help')

#: Values never shown back (argv echoes, messages).
SECRET_DESTS = ('password', 'token', 'secret', 'application_credential_secret',
                'client_secret', 'oauth2_client_secret', 'passcode', 'access_token')


def wanted(head):
    """True if the arguments before the verb use openstack's options."""
    for word in head:
        name = word.split('=', 1)[0]
        if name.startswith(('--os-', '--os_')) or name in _TRIGGERS:
            return True
    return False


def _env(*names, default=None):
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def register(parser):
    """Add openstack's global options to ``parser`` (osc-lib's own builders).

    The shell options mirror osc-lib's ``OpenStackShell.build_option_parser``
    (same names, destinations and ``OS_*`` defaults); the auth options are
    osc-lib's ``build_auth_plugins_option_parser`` (keystoneauth1's plugins).
    """
    from osc_lib.api import auth

    group = parser.add_argument_group(
        'OpenStack connection (as openstackclient; before the command)',
        'How heatplan authenticates: a clouds.yaml cloud, OS_* variables or '
        'these options. (After the command: --os-cloud, --os-region-name, '
        '--os-interface, --local, --heat-url.)')
    group.add_argument('--os-cloud', metavar='<cloud-config-name>', dest='cloud',
                       default=_env('OS_CLOUD'),
                       help='cloud name in clouds.yaml (env OS_CLOUD)')
    group.add_argument('--os-region-name', metavar='<auth-region-name>',
                       dest='region_name', default=_env('OS_REGION_NAME'),
                       help='authentication region name (env OS_REGION_NAME)')
    group.add_argument('--os-cacert', metavar='<ca-bundle-file>', dest='cacert',
                       default=_env('OS_CACERT'),
                       help='CA certificate bundle file (env OS_CACERT)')
    group.add_argument('--os-cert', metavar='<certificate-file>', dest='cert',
                       default=_env('OS_CERT'),
                       help='client certificate bundle file (env OS_CERT)')
    group.add_argument('--os-key', metavar='<key-file>', dest='key',
                       default=_env('OS_KEY'),
                       help='client certificate key file (env OS_KEY)')
    verify = group.add_mutually_exclusive_group()
    verify.add_argument('--verify', action='store_true', default=None,
                        help='verify the server certificate (default)')
    verify.add_argument('--insecure', action='store_true', default=None,
                        help='do not verify the server certificate')
    group.add_argument('--os-default-domain', metavar='<auth-domain>',
                       dest='default_domain',
                       default=_env('OS_DEFAULT_DOMAIN', default='default'),
                       help='default domain ID (env OS_DEFAULT_DOMAIN)')
    group.add_argument('--os-interface', metavar='<interface>', dest='interface',
                       choices=['admin', 'public', 'internal'],
                       default=_env('OS_INTERFACE'),
                       help='endpoint interface: admin, public or internal '
                            '(env OS_INTERFACE)')
    auth.build_auth_plugins_option_parser(group)
    return parser


def global_option(parser, word):
    """The parser's action for option word ``word``, or None.

    ``--x``, ``--x=v``, ``-v`` and combined short flags (``-vvv``, ``-vq``).
    """
    actions = parser._option_string_actions
    if word.startswith('--'):
        return actions.get(word.split('=', 1)[0])
    action = actions.get(word[:2])
    if action is None or len(word) == 2:
        return action
    if action.nargs != 0:   # -xVALUE
        return action
    if all(actions.get('-' + c) is not None for c in word[2:]):
        return action
    return None


def _takes_value(action, word):
    if action is None or action.nargs == 0:
        return False
    if word.startswith('--'):
        return '=' not in word
    return len(word) == 2


def split(parser, argv, commands):
    """``(head, tail)``: the words before the verb and the verb onwards.

    The verb is the first word that is not an option or an option's value
    and names a command (its first word); without one, ``tail`` is empty.
    """
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == '--':
            break
        if word.startswith('-') and word != '-':
            i += 2 if _takes_value(global_option(parser, word), word) else 1
            continue
        if word in commands:
            break
        i += 1
    return argv[:i], argv[i:]


def misplaced(parser, head):
    """The options before the verb the global parser does not know."""
    return [w.split('=', 1)[0] for w in head
            if w.startswith('-') and w != '-' and w != '--'
            and global_option(parser, w) is None]


def cli_namespace(app_options, parsed_args):
    """The connection options as osc-lib expects them (its destinations).

    Before the verb: ``app_options`` (openstack's options when given there);
    after it: the command's ``--os-cloud``/``--os-region-name``/``--os-interface``,
    which win; then the ``OS_*`` variables.
    """
    values = dict(vars(app_options)) if app_options is not None else {}
    ns = argparse.Namespace(**values)
    for dest, after, env in (('cloud', 'os_cloud', 'OS_CLOUD'),
                             ('region_name', 'os_region_name', 'OS_REGION_NAME'),
                             ('interface', 'os_interface', 'OS_INTERFACE')):
        value = getattr(parsed_args, after, None) or getattr(ns, dest, None) or _env(env)
        setattr(ns, dest, value)
    for dest in ('auth_type', 'cacert', 'cert', 'key', 'verify', 'insecure'):
        if not hasattr(ns, dest):
            setattr(ns, dest, None)
    if getattr(ns, 'auth_type', None) is None:
        ns.auth_type = _env('OS_AUTH_TYPE')
    if getattr(ns, 'cacert', None) is None:
        ns.cacert = _env('OS_CACERT')
    if not hasattr(ns, 'default_domain'):
        ns.default_domain = _env('OS_DEFAULT_DOMAIN', default='default')
    return ns


def client_manager(app_options, parsed_args):
    """osc-lib's ``ClientManager`` for these options, as openstackclient builds it.

    Raises whatever osc-lib/openstacksdk/keystoneauth raise (the caller
    turns it into heatplan's error).
    """
    from osc_lib import clientmanager
    from osc_lib.cli import client_config

    ns = cli_namespace(app_options, parsed_args)
    # openstackclient's default plugin: admin_token for --os-token with
    # --os-endpoint, else password; a token alone: keystoneauth's token
    # plugin (openstackclient would try a password).  The cloud's auth_type
    # or --os-auth-type win.
    token, endpoint = getattr(ns, 'token', None), getattr(ns, 'endpoint', None)
    default_auth = 'admin_token' if token and endpoint else 'token' if token else 'password'
    config = client_config.OSC_Config(override_defaults={
        'interface': 'public', 'auth_type': default_auth})
    region = config.get_one(cloud=ns.cloud, argparse=ns, validate=True)
    manager = clientmanager.ClientManager(cli_options=region, api_version={},
                                          app_name='heatplan')
    manager.setup_auth()
    return manager
