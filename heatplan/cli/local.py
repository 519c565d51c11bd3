"""``heatplan local up|down|status|logs``: the embedded local Heat."""

import sys

from heatplan.cli import argtypes
from heatplan.cli import base
from heatplan.local import config as local_config
from heatplan.local import launcher

_NOAUTH_NOTE = (
    'The local Heat is a real OpenStack Heat (API and engine in one '
    'background process) with NO authentication: it binds to 127.0.0.1 only '
    'and is meant for development, tests and CI, never for production.')

_FIELDS = ('state', 'running', 'url', 'pid', 'port', 'data_dir', 'log_file',
           'started_at', 'responding', 'startup_seconds', 'notes')


def add_data_dir_argument(parser):
    parser.add_argument(
        '--data-dir', metavar='DIR', default=None,
        help='directory holding the local Heat\'s configuration, database, log '
             'and pid file (default: $%s, else $XDG_DATA_HOME/heatplan/local-heat, '
             'i.e. %s)' % (local_config.DATA_DIR_ENV, local_config.default_data_dir()))
    return parser


def _show(status, fields=_FIELDS):
    columns = [f for f in fields if f in status and status[f] is not None]
    values = []
    for name in columns:
        value = status[name]
        if name == 'notes':
            value = '; '.join(value) if value else ''
        values.append(value)
    return columns, values


def _print_notes(status):
    for note in status.get('notes') or ():
        sys.stderr.write('heatplan: note: %s\n' % note)


class Up(base.ShowOne):
    """Start the local Heat (no-op if it already runs) and show its endpoint.

    Starts a real OpenStack Heat (package openstack-heat, installed with
    "pip install 'heatplan[local]'") in the background on 127.0.0.1 and waits
    until its API answers.  Use it with "--local" on other commands, or with
    "--heat-url URL" / HEATPLAN_HEAT_URL set to the URL shown.
    """

    #: (fields without a value are left out)
    COLUMNS = _FIELDS
    EXIT_CODES = base.exit_codes(0, 9)

    def get_description(self):
        return '%s\n\n%s' % (super().get_description(), _NOAUTH_NOTE)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_data_dir_argument(parser)
        parser.add_argument(
            '--port', type=int, default=None, metavar='PORT',
            help='TCP port on 127.0.0.1 (default: %d)' % local_config.DEFAULT_PORT)
        limits = parser.add_argument_group(
            'Heat limits', 'Heat options the local Heat starts with (they apply at '
            'the next start if it already runs).')
        helps = {
            'max_json_body_size': 'largest request body in bytes; large plans '
                                  'need more than Heat\'s own 1 MiB',
            'max_template_size': 'largest template or file in bytes',
            'max_nested_stack_depth': 'deepest nesting of template resources',
            'max_resources_per_stack': 'most resources in one stack',
            'max_stacks_per_tenant': 'most stacks per project (Heat does not '
                                     'enforce it for admins: everyone, here)',
            'max_events_per_stack': 'events kept per stack',
        }
        for name, default in local_config.LIMIT_DEFAULTS.items():
            limits.add_argument(
                '--' + name.replace('_', '-'), type=argtypes.count, default=None, metavar='N',
                dest=name, help='%s (default: %d)' % (helps[name], default))
        parser.add_argument(
            '--timeout', type=float, default=launcher.START_TIMEOUT, metavar='SECONDS',
            help='how long to wait for the API to answer (default: %(default)s)')
        parser.add_argument(
            '--debug-heat', action='store_true',
            help='start Heat with debug logging (heat.log grows fast)')
        return parser

    def take_action(self, parsed_args):
        limits = {name: getattr(parsed_args, name) for name in local_config.LIMIT_DEFAULTS}
        status = launcher.up(
            data_dir=parsed_args.data_dir, port=parsed_args.port, limits=limits,
            timeout=parsed_args.timeout, debug=parsed_args.debug_heat)
        _print_notes(status)
        return _show(status, self.COLUMNS)


class Down(base.ShowOne):
    """Stop the local Heat (SIGTERM, then SIGKILL after --timeout seconds).

    Its data (stacks, database, log) stays in the data dir for the next "up".
    state says what happened: stopped, killed (did not stop in time), or not
    running.
    """

    #: (fields without a value are left out: no pid when it was not running)
    COLUMNS = ('state', 'pid', 'data_dir')
    EXIT_CODES = base.exit_codes(0, 9)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_data_dir_argument(parser)
        parser.add_argument(
            '--timeout', type=float, default=launcher.STOP_TIMEOUT, metavar='SECONDS',
            help='seconds to wait for a clean stop before killing it '
                 '(default: %(default)s)')
        return parser

    def take_action(self, parsed_args):
        status = launcher.down(data_dir=parsed_args.data_dir, timeout=parsed_args.timeout)
        _print_notes(status)
        return _show(status, self.COLUMNS)


class Status(base.ShowOne):
    """Show whether the local Heat runs, its endpoint, pid and files.

    Exits 0 whether or not it runs; check the "running" field
    (e.g. "heatplan local status -f value -c running").
    """

    #: (fields without a value are left out)
    COLUMNS = ('running', 'url', 'pid', 'port', 'data_dir', 'log_file', 'started_at',
               'responding', 'engine', 'notes')
    EXIT_CODES = base.exit_codes(0, 9)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_data_dir_argument(parser)
        return parser

    def take_action(self, parsed_args):
        status = launcher.status(parsed_args.data_dir)
        if status.pop('stale_pid', None) is not None:
            status['notes'].append(
                'stale pid file: the local Heat died; "heatplan local up" cleans it up')
        return _show(status, self.COLUMNS)


class Logs(base.Command):
    """Print the end of the local Heat's log (heat.log in the data dir)."""

    EXIT_CODES = base.exit_codes(0, 9)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_data_dir_argument(parser)
        parser.add_argument(
            '-n', '--lines', type=argtypes.count, default=50, metavar='N',
            help='how many lines to print; 0 for the whole log (default: %(default)s)')
        parser.add_argument(
            '-f', '--follow', action='store_true',
            help='keep printing new lines as they are written (Ctrl-C to stop)')
        return parser

    def take_action(self, parsed_args):
        if parsed_args.follow:
            launcher.follow_logs(parsed_args.data_dir, parsed_args.lines,
                                 stream=self.app.stdout)
            return 0
        for line in launcher.logs(parsed_args.data_dir, parsed_args.lines):
            self.app.stdout.write(line + '\n')
        return 0
