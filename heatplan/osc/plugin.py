"""openstackclient plugin: ``openstack stack plan <verb>``.

The commands are heatplan's own cliff classes (``heatplan.cli``); they use the
keystoneauth1 session openstackclient built from ``--os-cloud``/``OS_*``.
"""

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_stack_plan_api_version'
API_NAME = 'stack_plan'
API_VERSIONS = ('1',)


def make_client(instance):
    """Return the keystoneauth1 session; commands build their Heat adapter."""
    return instance.session


def build_option_parser(parser):
    parser.add_argument(
        '--os-stack-plan-api-version',
        metavar='<stack-plan-api-version>',
        default=DEFAULT_API_VERSION,
        help='heatplan plugin API version (default: %s)' % DEFAULT_API_VERSION,
    )
    return parser
