"""The operator's read and watch verbs: status, list, outputs, events, wait.

Each parses options, calls one action (``heatplan/actions/``), and returns
cliff data: ``-f json|yaml|value|table|shell`` and ``-c`` work on every one.
"""

import json

from heatplan.actions import apply
from heatplan.actions import deploy as deploy_mod
from heatplan.actions import events as events_action
from heatplan.actions import managed as managed_action
from heatplan.actions import outputs as outputs_action
from heatplan.actions import progress as progress_mod
from heatplan.actions import status as status_action
from heatplan.actions import wait as wait_action
from heatplan.cli import argtypes
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

    COLUMNS = ('stack', 'stack_status', 'status_reason', 'updated', 'revision', 'digest',
               'plan_matches', 'plan_check', 'pending', 'revisions', 'outputs')
    EXIT_CODES = base.exit_codes(0, 11, *base.HEAT)

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
        return self.row(info)


class List(base.Lister):
    """List the stacks heatplan manages in this project (not its revision records)."""

    COLUMNS = ('stack', 'revision', 'status', 'digest', 'updated')
    EXIT_CODES = base.exit_codes(0, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        rows = managed_action.run(connect.get_adapter(self.app, parsed_args))
        return self.COLUMNS, [tuple(r[c] for c in self.COLUMNS) for r in rows]


class Outputs(base.Lister):
    """List a stack's outputs (or one, by NAME)."""

    COLUMNS = ('output', 'value')
    EXIT_CODES = base.exit_codes(0, 11, *base.HEAT)

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
        return self.COLUMNS, [(k, _value(v) if table else v)
                                     for k, v in sorted(outputs.items())]


class Events(base.Lister):
    """List a stack's events, once each, oldest first (nested stacks with --nested-depth).

    With --follow, keep listing until the stack settles; -f value or csv
    print each event as it arrives, the other formats when it settles.
    """

    COLUMNS = events_action.COLUMNS
    EXIT_CODES = base.exit_codes(0, 7, 11, *base.HEAT,
                                 _7='--follow: --wait-timeout passed (the stack goes on)')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        parser.add_argument('--nested-depth', type=argtypes.count, metavar='N', default=None,
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
        data = (tuple(r[c] for c in self.COLUMNS) for r in rows)
        if parsed_args.formatter not in ('value', 'csv'):
            data = list(data)  # errors surface before any output
        return self.COLUMNS, data


class Wait(base.ShowOne):
    """Wait for the operation running on a stack (a deploy after --no-wait or Ctrl-C,
    or another operator's), with deploy's progress display and exit codes:
    0 it completed, 6 it failed, 7 --wait-timeout passed (it goes on in Heat)."""

    COLUMNS = ('stack', 'status', 'reason', 'revision', 'failures', 'elapsed')
    EXIT_CODES = base.exit_codes(0, 6, 7, 11, *base.HEAT, _0='it completed',
                                 _6='it failed',
                                 _7='--wait-timeout passed (it goes on in Heat)')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        stack_cli.add_stack_argument(parser)
        parser.add_argument('--wait-timeout', '--timeout', type=float, metavar='SECONDS',
                            default=None, dest='wait_timeout',
                            help='give up waiting after SECONDS (default: the stack '
                                 'timeout plus %d s)' % apply.WAIT_MARGIN)
        parser.add_argument('--poll', type=float, default=2.0, metavar='SECONDS',
                            help='seconds between status reads (default 2)')
        parser.add_argument('--quiet-report', type=float, metavar='SECONDS',
                            default=progress_mod.QUIET_REPORT,
                            help='when no event came for SECONDS, list the resources '
                                 'still in progress (default: %(default)s; 0: never)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        result = wait_action.run(connect.get_adapter(self.app, parsed_args),
                                 parsed_args.stack, stack_cli.CliReporter(),
                                 parsed_args.wait_timeout, parsed_args.poll,
                                 parsed_args.quiet_report)
        if parsed_args.formatter == 'table':
            result = {k: _value(v) for k, v in result.items()}
        return self.row(result)


class ChangesetShow(base.ShowOne):
    """Show a change set for review: the stack and revision it was previewed on,
    the resource changes (added, updated, replaced, deleted), the plan's digest."""

    COLUMNS = ('stack', 'digest', 'previewed_at', 'previewed_by', 'base_revision',
               'base_digest', 'plan_changes', 'added', 'updated', 'replaced', 'deleted',
               'preview_complete', 'notes', 'hidden_parameters', 'files', 'environments',
               'description', 'vcs_revision')
    EXIT_CODES = base.exit_codes(0, 3, _3='not a change set, or a damaged one')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('file', metavar='FILE', help='change set (deploy --dry-run --save)')
        return parser

    def take_action(self, parsed_args):
        from heatplan.actions import changeset

        info = changeset.show(parsed_args.file)
        if parsed_args.formatter == 'table':
            info = {k: ('\n'.join(v) if isinstance(v, list) and all(
                isinstance(x, str) for x in v) else _value(v)) for k, v in info.items()}
        return self.row(info)


class Apply(stack_cli.DeployOutput):
    """Apply a reviewed change set: exactly its plan, only if nothing changed.

    Refuses (exit 4) when the stack is no longer at the previewed revision and
    digest, or the change set was edited.  Skips the second preview only when
    the stack's status and update time are as previewed too; the destruction
    guard judges the reviewed changes either way.  Hidden values are not in the
    file: pass them again with --parameter (they must be the previewed ones).
    """

    EXIT_CODES = base.exit_codes(0, 3, 4, 6, 7, *base.HEAT,
                                 _3='not a change set, or a damaged one',
                                 _4='refused: the stack moved on, the change set was '
                                    'edited, or a guard')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('file', metavar='FILE', help='change set (deploy --dry-run --save)')
        parser.add_argument('--parameter', metavar='KEY=VALUE', action=base.KeyValue, default=[],
                            dest='parameters',
                            help='value of a hidden parameter (repeatable)')
        group = parser.add_argument_group('guards')
        group.add_argument('--allow-replace', action='store_true',
                           help='go ahead even if resources would be replaced')
        group.add_argument('--allow-delete', action='store_true',
                           help='go ahead even if resources would be deleted')
        group.add_argument('--allow-partial-preview', action='store_true',
                           help='go ahead when Heat cannot preview every nested stack')
        group.add_argument('-y', '--yes', action='store_true',
                           help='answer yes to the destruction prompt')
        group.add_argument('--no-wait', dest='wait', action='store_false',
                           help='return once Heat accepted the request')
        group.add_argument('--wait-timeout', type=float, metavar='SECONDS', default=None,
                           help='give up waiting after SECONDS (exit 7; Heat goes on)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        from heatplan.actions import changeset
        from heatplan.plan import definition

        doc = changeset.load(parsed_args.file)
        supplied = definition._parse_kv(parsed_args.parameters, '--parameter')
        plan = changeset.plan_of(doc, supplied)
        adapter = connect.get_adapter(self.app, parsed_args)
        unchanged = changeset.check_base(adapter, doc)
        saved = doc.get('options') or {}
        opts = deploy_mod.DeployOptions(
            stack=doc['stack'], tags=list(saved.get('tags') or []),
            timeout_mins=saved.get('timeout_mins'),
            disable_rollback=saved.get('disable_rollback', True),
            allow_replace=parsed_args.allow_replace, allow_delete=parsed_args.allow_delete,
            allow_partial_preview=parsed_args.allow_partial_preview, yes=parsed_args.yes,
            expect_revision=doc['base'].get('revision') if doc['base'].get('exists')
            else None,
            wait=parsed_args.wait, wait_timeout=parsed_args.wait_timeout,
            cli_parameters=sorted(supplied), action='apply', meta=changeset.notes(doc),
            reviewed_preview=doc.get('preview') if unchanged and doc['base'].get('exists')
            else None)
        reporter = stack_cli.CliReporter()
        try:
            result = deploy_mod.deploy(adapter, plan, opts, reporter)
        finally:
            reporter.finish()
        return self.deployed(parsed_args, result, reporter)
