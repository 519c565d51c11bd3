"""The operator's read and watch verbs: status, list, outputs, events, wait.

Each parses options, calls one action (``heatplan/actions/``), and returns
cliff data: ``-f json|yaml|value|table|shell`` and ``-c`` work on every one.
"""

import json

from heatplan.actions import events as events_action
from heatplan.actions import managed as managed_action
from heatplan.actions import outputs as outputs_action
from heatplan.actions import status as status_action
from heatplan.actions import wait as wait_action
from heatplan.cli import base
from heatplan.cli import connect
from heatplan.cli import stack as stack_cli


def _value(v):
    """A table cell: JSON for structures, as they are for scalars."""
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v


class Status(base.ShowOne):
    """Show a stack: Heat's status, the deployed revision, pending deploys, outputs.

    plan_matches tells whether the stack still runs the plan heatplan
    deployed, byte for byte (false after "openstack stack update" or any
    change of its files outside heatplan; plan_check says what differs).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        info = status_action.run(connect.get_adapter(self.app, parsed_args),
                                 parsed_args.stack)
        if parsed_args.formatter == 'table':
            info = {k: _value(v) for k, v in info.items()}
        columns = tuple(info)
        return columns, tuple(info[c] for c in columns)


class List(base.Lister):
    """List the stacks heatplan manages in this project (not its revision records)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        rows = managed_action.run(connect.get_adapter(self.app, parsed_args))
        columns = ('stack', 'revision', 'status', 'digest', 'updated')
        return columns, [tuple(r[c] for c in columns) for r in rows]


class Outputs(base.Lister):
    """List a stack's outputs (or one, by NAME)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        parser.add_argument('name', metavar='NAME', nargs='?', help='one output')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        outputs = outputs_action.run(connect.get_adapter(self.app, parsed_args),
                                     parsed_args.stack, parsed_args.name)
        table = parsed_args.formatter == 'table'
        return ('output', 'value'), [(k, _value(v) if table else v)
                                     for k, v in sorted(outputs.items())]


class Events(base.Lister):
    """List a stack's events, once each, oldest first (nested stacks with --nested-depth).

    With --follow, keep listing until the stack settles; -f value or csv
    print each event as it arrives, the other formats when it settles.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        parser.add_argument('--nested-depth', type=int, metavar='N', default=None,
                            help='also the events of nested stacks, N levels deep')
        parser.add_argument('--follow', action='store_true',
                            help='keep listing until the stack is no longer in progress')
        parser.add_argument('--poll', type=float, default=2.0, metavar='SECONDS',
                            help='seconds between listings with --follow (default 2)')
        parser.add_argument('--wait-timeout', type=float, metavar='SECONDS', default=None,
                            help='stop following after SECONDS (exit 7)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        rows = events_action.run(connect.get_adapter(self.app, parsed_args),
                                 parsed_args.stack, parsed_args.nested_depth,
                                 parsed_args.follow, parsed_args.poll,
                                 parsed_args.wait_timeout)
        columns = events_action.COLUMNS
        data = (tuple(r[c] for c in columns) for r in rows)
        if parsed_args.formatter not in ('value', 'csv'):
            data = list(data)  # errors surface before any output
        return columns, data


class Wait(base.ShowOne):
    """Wait for the operation running on a stack (a deploy after --no-wait or Ctrl-C,
    or another operator's), with deploy's progress display and exit codes:
    0 it completed, 6 it failed, 7 --wait-timeout passed (it goes on in Heat)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        parser.add_argument('--wait-timeout', '--timeout', type=float, metavar='SECONDS',
                            default=None, dest='wait_timeout',
                            help='give up waiting after SECONDS (default: 61 minutes)')
        parser.add_argument('--poll', type=float, default=2.0, metavar='SECONDS',
                            help='seconds between status reads (default 2)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        result = wait_action.run(connect.get_adapter(self.app, parsed_args),
                                 parsed_args.stack, stack_cli.CliReporter(),
                                 parsed_args.wait_timeout, parsed_args.poll)
        if parsed_args.formatter == 'table':
            result = {k: _value(v) for k, v in result.items()}
        columns = tuple(result)
        return columns, tuple(result[c] for c in columns)
