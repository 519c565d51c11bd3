"""Verbs that talk to Heat: deploy, history, show, export, diff, rollback,
recover, delete.  Each parses options, calls one action, formats the result."""

import dataclasses
import json
import shutil
import sys
import time

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import apply
from heatplan.actions import delete as delete_action
from heatplan.actions import deploy as deploy_mod
from heatplan.actions import diff as diff_action
from heatplan.actions import export as export_action
from heatplan.actions import history as history_action
from heatplan.actions import plan as plan_actions
from heatplan.actions import progress as progress_mod
from heatplan.actions import recover as recover_action
from heatplan.actions import revisions as revisions_action
from heatplan.actions import rollback as rollback_action
from heatplan.actions import show as show_action
from heatplan.cli import argtypes
from heatplan.cli import base
from heatplan.cli import connect
from heatplan.cli import plan as plan_cli


class CliReporter(deploy_mod.Reporter):
    """Progress on stderr: a bar on a terminal, plain lines otherwise."""

    def __init__(self, stream=None, quiet=False):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.quiet = quiet
        self._last_line = 0.0
        self._bar = False
        #: notes printed as they came (print_result does not repeat them)
        self.shown = []

    def _clear_bar(self):
        if self._bar:
            self.stream.write('\r\033[K')
            self._bar = False

    def info(self, message):
        self._clear_bar()
        self.stream.write(message + '\n')
        self.stream.flush()

    def event(self, ev):
        if self.quiet:
            return
        status = ev.get('resource_status') or ''
        where = ev.get('stack_name') or ''
        name = ev.get('resource_name') or ''
        if name == where and not status.endswith('_FAILED'):
            return  # a (nested) stack's own event; its resources tell the story
        if not status.endswith(('_FAILED', '_COMPLETE')):
            return
        if self.tty and not status.endswith('_FAILED'):
            return
        self._clear_bar()
        reason = ev.get('resource_status_reason') or ''
        self.stream.write('  %s %s %s%s\n' % (
            ev.get('event_time', ''), '%s/%s' % (where, name) if where else name, status,
            (': ' + reason) if reason and status.endswith('_FAILED') else ''))
        self.stream.flush()

    def progress(self, done, total, elapsed):
        if self.quiet:
            return
        mins, secs = divmod(int(elapsed), 60)
        if self.tty:
            # One line that never wraps (a wrapped line leaves a stale copy
            # behind when redrawn): the bar shrinks, then goes, on a narrow
            # terminal; the text is cut to the width as a last resort.
            columns = shutil.get_terminal_size((80, 24)).columns
            text = ' %d/%d resources  %02d:%02d' % (done, total, mins, secs)
            width = min(30, columns - len(text) - 3)
            bar = ''
            if width >= 5:
                filled = int(width * done / total) if total else 0
                bar = '[%s%s]' % ('#' * filled, '.' * (width - filled))
            line = (bar + text)[:max(columns - 1, 1)]
            self.stream.write('\r\033[K' + line)
            self._bar = True
            self.stream.flush()
        elif time.monotonic() - self._last_line >= 10:
            self._last_line = time.monotonic()
            self.stream.write('progress: %d/%d resources done, %02d:%02d elapsed\n'
                              % (done, total, mins, secs))
            self.stream.flush()

    def can_ask(self):
        return bool(sys.stdin.isatty() and self.tty)

    def confirm(self, question):
        if not self.can_ask():
            return None
        self._clear_bar()
        self.stream.write(question + ' [y/N] ')
        self.stream.flush()
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            line = ''
        if not line.endswith('\n'):
            # Ctrl-C or end of input: leave the prompt's line first.
            self.stream.write('\n')
            self.stream.flush()
            raise errors.Aborted('aborted, nothing changed')
        return line.strip().lower() in ('y', 'yes')

    def note(self, message):
        self.info(message)
        self.shown.append(message)

    def finish(self):
        self._clear_bar()


def add_stack_argument(parser, positional=True):
    if positional:
        parser.add_argument('stack', metavar='STACK', help='stack name')
    else:
        parser.add_argument('--stack', required=True, metavar='NAME', help='stack name')


def add_deploy_arguments(parser):
    group = parser.add_argument_group('deploy')
    group.add_argument('--tag', action='append', default=[], dest='tags', metavar='TAG',
                       help='stack tag to add (repeatable); existing user tags are kept')
    group.add_argument('--timeout', type=argtypes.positive, metavar='MINUTES', dest='timeout_mins',
                       help='Heat stack timeout, and how long to wait (default: 60)')
    group.add_argument('--enable-rollback', action='store_true',
                       help='let Heat roll back a failed create/update')
    group.add_argument('--allow-replace', action='store_true',
                       help='go ahead even if resources would be replaced')
    group.add_argument('--allow-delete', action='store_true',
                       help='go ahead even if resources would be deleted')
    group.add_argument('--allow-partial-preview', action='store_true',
                       help='go ahead when Heat cannot preview every nested stack and '
                            'heatplan previewed them one by one (a partial view; what it '
                            'sees replaced or deleted is still refused)')
    group.add_argument('--reset-hidden', action='append', default=[], metavar='NAME',
                       help='let hidden parameter NAME, which the deployed revision had '
                            'a value for, go back to the template default when the plan '
                            'gives none (repeatable; default: refuse)')
    group.add_argument('-y', '--yes', action='store_true',
                       help='answer yes to the destruction prompt (replace and delete; '
                            'not a partial preview or a hidden reset)')
    group.add_argument('--supersede', action='store_true',
                       help='deploy even while the stack is IN_PROGRESS or another '
                            'deploy holds it (Heat supersedes the running operation)')
    group.add_argument('--expect-revision', type=argtypes.count, metavar='N',
                       help='refuse unless the deployed revision is N (0: unless the '
                            'stack was never deployed)')
    group.add_argument('--no-wait', dest='wait', action='store_false',
                       help='return once Heat accepted the request')
    group.add_argument('--description', metavar='TEXT',
                       help='a note for this revision, kept in its record and shown by '
                            '"heatplan history" (like helm --description)')
    add_wait_arguments(group)
    group.add_argument('--history-max', type=argtypes.count, default=10, metavar='N',
                       help='revision records to keep (default 10; 0 keeps all)')
    return group


def add_wait_arguments(parser, quiet=True):
    parser.add_argument('--wait-timeout', type=float, metavar='SECONDS', default=None,
                        help='stop waiting after SECONDS and exit 7; the operation goes '
                             'on in Heat (default: the stack timeout plus %d s)'
                             % apply.WAIT_MARGIN)
    if quiet:
        parser.add_argument('--quiet-report', type=float, metavar='SECONDS',
                            default=progress_mod.QUIET_REPORT,
                            help='when no event came for SECONDS while waiting, list the '
                                 'resources still in progress with their nested path '
                                 'and for how long (default: %(default)s; 0: never)')
    return parser


def deploy_options(parsed_args, stack):
    return deploy_mod.DeployOptions(
        stack=stack,
        tags=parsed_args.tags,
        timeout_mins=parsed_args.timeout_mins,
        disable_rollback=not parsed_args.enable_rollback,
        force=getattr(parsed_args, 'force', False),
        dry_run=getattr(parsed_args, 'dry_run', False),
        allow_replace=parsed_args.allow_replace,
        allow_delete=parsed_args.allow_delete,
        allow_partial_preview=parsed_args.allow_partial_preview,
        reset_hidden=list(parsed_args.reset_hidden),
        cli_parameters=_cli_parameter_names(parsed_args),
        yes=parsed_args.yes,
        supersede=parsed_args.supersede,
        expect_revision=parsed_args.expect_revision,
        wait=parsed_args.wait,
        wait_timeout=parsed_args.wait_timeout,
        quiet_report=parsed_args.quiet_report,
        history_max=parsed_args.history_max,
        meta={'description': parsed_args.description}
        if getattr(parsed_args, 'description', None) else {},
    )


def _cli_parameter_names(parsed_args):
    """Names given with --parameter (for messages naming where a value came from)."""
    return [item.split('=', 1)[0] for item in getattr(parsed_args, 'parameters', None) or []]


def print_result(out, result, shown=()):
    """deploy's (rollback's, apply's) text: its result line, changes, failures."""
    rev = ' revision %s' % result.revision if result.revision is not None else ''
    for message in result.messages:
        if message not in shown:  # (notes already shown on stderr as they came)
            out.write(message + '\n')
    if result.outcome == 'unchanged':
        out.write('%s: unchanged (%s%s)\n' % (result.stack, result.digest, rev))
        return
    if result.outcome == 'dry-run':
        out.write('%s: dry run, nothing changed (%s)\n' % (result.stack, result.digest))
        out.write('plan changes against the deployed plan: %s\n' % result.changes.summary())
        for kind in ('added', 'removed', 'changed'):
            for key in getattr(result.changes, kind):
                out.write('  file %s: %s\n' % (kind, key))
        for name in result.changes.parameters:
            out.write('  parameter changed: %s\n' % name)
        preview = result.preview or {}
        for kind in ('added', 'updated', 'replaced', 'deleted'):
            for name in preview.get(kind, []):
                out.write('  resource %s: %s\n' % (kind, name))
        counts = ['%d %s' % (len(preview.get(kind) or ()), kind)
                  for kind in ('added', 'updated', 'replaced', 'deleted', 'unchanged')
                  if preview.get(kind)]
        out.write('preview: %d resource(s) in all, nested stacks included: %s\n'
                  % (sum(len(v or ()) for v in preview.values()),
                     ', '.join(counts) or 'no resources'))
        return
    out.write('%s: %s%s, %s, %s (%.1f s)\n' % (
        result.stack, result.outcome, rev, result.status or '', result.digest,
        result.elapsed))
    if result.changes is not None and result.outcome != 'failed':
        out.write('plan changes: %s\n' % result.changes.summary())
    for failure in result.failures:
        where = '%s/%s' % (failure['stack'], failure['resource']) if failure.get('stack') \
            else failure['resource']
        out.write('  FAILED %s (%s): %s\n' % (where, failure['type'], failure['reason']))


def _finish(result):
    if result.outcome == 'failed':
        return errors.ExitCode.DEPLOY_FAILED
    return 0


class DeployOutput(base.TextShowOne):
    """The output of a verb that deploys (deploy, rollback, apply): its DeployResult.

    ``-f text`` (the default) is the result line (:func:`print_result`);
    the other formats show the result's fields; exit 6 when it failed.
    """

    COLUMNS = tuple(f.name for f in dataclasses.fields(deploy_mod.DeployResult))

    def deployed(self, parsed_args, result, reporter):
        """``(COLUMNS, values)`` of ``result``; the text and the exit code kept."""
        self._result, self._shown = result, list(reporter.shown)
        self.exit_code = _finish(result)
        return self.row(self.cells(parsed_args, result.as_dict()))

    def emit_text(self, stdout, parsed_args):
        print_result(stdout, self._result, self._shown)


class Deploy(DeployOutput):
    """Deploy a plan to a stack in one atomic create/update call.

    Assembles and lints the plan (errors stop before any network call), then
    creates the stack or updates it with one full PUT carrying the whole plan.
    Refuses to replace or delete resources unless allowed, to run while the
    stack is IN_PROGRESS or another deploy holds it, and says "unchanged"
    when the deployed digest equals the plan's.  When Heat cannot preview
    every nested stack, refuses unless --allow-partial-preview.  Refuses to
    let a hidden parameter the deployed revision had a value for go back to
    its default unless --reset-hidden NAME.  -e replaces the manifest's
    environment list (it does not add to it), and a --parameter that an
    environment file's parameters: section overrides is reported (Heat uses
    the environment's value).
    """

    EXIT_CODES = base.exit_codes(0, 3, 4, 6, 7, 10, *base.HEAT,
                                 _0='deployed, unchanged, or dry run done',
                                 _10='the change set (--save) could not be written')

    def get_parser(self, prog_name):
        parser = plan_cli.add_plan_arguments(super().get_parser(prog_name))
        add_stack_argument(parser, positional=False)
        group = add_deploy_arguments(parser)
        group.add_argument('--force', action='store_true',
                           help='update even when the plan is unchanged')
        group.add_argument('--dry-run', action='store_true',
                           help='lint, Heat validate and preview; change nothing')
        group.add_argument('--save', metavar='FILE',
                           help='with --dry-run: write what was previewed as a change set '
                                '(the exact request without hidden values, the stack\'s '
                                'revision and the resource changes) for review with '
                                '"heatplan changeset show FILE" and "heatplan apply FILE"')
        vcs = group.add_mutually_exclusive_group()
        vcs.add_argument('--vcs-revision', metavar='TEXT',
                         help='the source\'s VCS revision to record with this revision '
                              '(default: "git describe --always" of a plan directory '
                              'inside a git checkout, "-dirty" when a plan file is not '
                              'the commit\'s; archives: none)')
        vcs.add_argument('--no-vcs-revision', dest='vcs_detect', action='store_false',
                         help='record no VCS revision (do not run git)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        if parsed_args.save and not parsed_args.dry_run:
            raise errors.UsageError('--save writes the change set of a dry run',
                                    hint='add --dry-run')
        from heatplan.actions import vcs

        if parsed_args.vcs_revision is not None:
            vcs.explicit(parsed_args.vcs_revision)
        parsed_args.max_body_bytes = connect.max_body_bytes(parsed_args)
        plan_opts = plan_cli.plan_options(parsed_args)
        # an unchanged plan (the plan summary cached) is known by its digest:
        # its body is built only if the deploy needs it
        src, plan = plan_actions.prepare_plan(plan_opts)
        plan_cli.report_warnings(plan)
        adapter = connect.get_adapter(self.app, parsed_args)
        reporter = CliReporter()
        opts = deploy_options(parsed_args, parsed_args.stack)
        opts.notes = plan_actions.definition_notes(src, plan_opts, plan)
        if parsed_args.save or not parsed_args.dry_run:
            found = vcs.revision(src, plan, parsed_args.vcs_revision, parsed_args.vcs_detect)
            if found:
                opts.meta['vcs_revision'] = found
        try:
            result = deploy_mod.deploy(adapter, plan, opts, reporter)
        finally:
            reporter.finish()
        if parsed_args.save:
            from heatplan.actions import changeset

            changeset.save(parsed_args.save, plan, result, opts)
            reporter.info('change set written to %s; review it with "heatplan changeset '
                          'show %s", apply it with "heatplan apply %s"'
                          % (parsed_args.save, parsed_args.save, parsed_args.save))
        return self.deployed(parsed_args, result, reporter)


class Rollback(DeployOutput):
    """Redeploy a past revision's exact plan as a new revision.

    Default: the last revision deployed successfully before the current one.
    Same guards as deploy.  Hidden parameters are not stored: pass them again
    with --parameter.
    """

    EXIT_CODES = base.exit_codes(0, 3, 4, 6, 7, 11, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        parser.add_argument('revision', metavar='REVISION', type=argtypes.revision, nargs='?',
                            help='revision to roll back to')
        parser.add_argument('--parameter', metavar='KEY=VALUE', action=base.KeyValue,
                            dest='parameters', help='value of a hidden parameter')
        add_deploy_arguments(parser)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        from heatplan.plan import definition

        params = definition._parse_kv(parsed_args.parameters, '--parameter')
        adapter = connect.get_adapter(self.app, parsed_args)
        reporter = CliReporter()
        try:
            result = rollback_action.rollback(
                adapter, parsed_args.stack, parsed_args.revision,
                deploy_options(parsed_args, parsed_args.stack), params, reporter)
        finally:
            reporter.finish()
        return self.deployed(parsed_args, result, reporter)


class History(base.Lister):
    """List a stack's plan revisions: status, digest, time, changes, notes."""

    COLUMNS = ('revision', 'status', 'digest', 'created', 'by', 'action', 'changes',
               'description', 'vcs_revision')
    EXIT_CODES = base.exit_codes(0, 11, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        rows = history_action.history(connect.get_adapter(self.app, parsed_args),
                                   parsed_args.stack)
        return self.COLUMNS, [tuple(r[c] for c in self.COLUMNS) for r in rows]


class Show(base.ShowOne):
    """Show a plan revision: root, environments, parameters, files, digest, notes."""

    COLUMNS = ('stack', 'revision', 'status', 'digest', 'root', 'environments',
               'parameters', 'hidden_parameters', 'files', 'file_count', 'description',
               'vcs_revision')
    EXIT_CODES = base.exit_codes(0, 3, 11, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        parser.add_argument('--revision', type=argtypes.revision, metavar='N',
                            help='revision (default: what the stack runs now)')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        info = show_action.show(connect.get_adapter(self.app, parsed_args),
                                parsed_args.stack, parsed_args.revision)
        if parsed_args.formatter == 'table':
            info = dict(info, files='\n'.join(info['files']),
                        environments='\n'.join(info['environments']),
                        parameters='\n'.join('%s=%s' % (k, json.dumps(v)) for k, v in
                                             sorted(info['parameters'].items())))
        return self.row(info)


class Export(base.ShowOne):
    """Write a plan revision's original files, byte for byte, plus heatplan.yaml.

    OUT is a directory or a .tar.gz.  Every file is verified against the
    manifest's sha256.  "heatplan deploy OUT" redeploys the identical digest.
    """

    COLUMNS = ('stack', 'revision', 'digest', 'files', 'output', 'hidden_parameters')
    EXIT_CODES = base.exit_codes(0, 3, 10, 11, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        parser.add_argument('output', metavar='OUT', help='directory or .tar.gz to write')
        parser.add_argument('--revision', type=argtypes.revision, metavar='N',
                            help='revision (default: what the stack runs now)')
        parser.add_argument('--force', action='store_true',
                            help='replace a non-empty directory or existing archive')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        info = export_action.export(connect.get_adapter(self.app, parsed_args),
                                  parsed_args.stack, parsed_args.output,
                                  parsed_args.revision, parsed_args.force)
        if info['hidden_parameters']:
            sys.stderr.write('hidden parameters to supply again: %s\n'
                             % ', '.join(info['hidden_parameters']))
        return self.row(info)


class Diff(base.TextShowOne):
    """Unified diff of plan files, parameters and environment order.

    heatplan diff STACK SOURCE: deployed plan against a local plan.
    heatplan diff STACK --revision N: revision N against what the stack runs.
    heatplan diff STACK --from-revision A --to-revision B.
    Exit 0 when identical, 1 when different (like diff(1)).  -f text (the
    default) prints the diff; the other formats what differs, by field.
    """

    COLUMNS = diff_action.COLUMNS

    EXIT_CODES = base.exit_codes(0, 1, 3, 11, *base.HEAT, _0='identical',
                                 _1='different')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        plan_cli.add_plan_arguments(parser, source_optional=True)
        parser.add_argument('--revision', type=argtypes.revision, metavar='N',
                            help='the stored revision to compare (default: the one the '
                                 'stack runs); without SOURCE, against the one it runs')
        parser.add_argument('--from-revision', type=argtypes.revision, metavar='A',
                            help='compare stored revision A ...')
        parser.add_argument('--to-revision', type=argtypes.revision, metavar='B',
                            help='... with stored revision B')
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        adapter = connect.get_adapter(self.app, parsed_args)
        name = parsed_args.stack
        flags = plan_cli.definition_flags_given(parsed_args)
        if flags and not parsed_args.source:
            raise errors.UsageError('%s only apply to a SOURCE plan' % ', '.join(flags),
                                    hint='give the plan directory or archive to compare with')
        if parsed_args.from_revision is not None or parsed_args.to_revision is not None:
            if parsed_args.from_revision is None or parsed_args.to_revision is None:
                raise errors.UsageError('give both --from-revision and --to-revision')
            old = revisions_action.load_revision(adapter, name, parsed_args.from_revision)[:2]
            new = revisions_action.load_revision(adapter, name, parsed_args.to_revision)[:2]
        else:
            old = revisions_action.load_revision(adapter, name, parsed_args.revision)[:2]
            if parsed_args.source:
                parsed_args.max_body_bytes = connect.max_body_bytes(parsed_args)
                _src, plan = plan_actions.build_plan(plan_cli.plan_options(parsed_args))
                new = (plan.body['files'], plan.manifest)
            elif parsed_args.revision is not None:
                new = revisions_action.load_revision(adapter, name, None)[:2]
            else:
                raise errors.UsageError('give SOURCE, --revision N, or --from-revision '
                                        'and --to-revision')
        for item in (old, new):
            revisions_action.need_manifest(item[1], name)
        info = diff_action.compare_revisions(old, new)
        self._lines = info.pop('lines')
        self.exit_code = 0 if info['identical'] else errors.ExitCode.DIFFERENT
        return self.row(self.cells(parsed_args, info))

    def emit_text(self, stdout, parsed_args):
        stdout.writelines(self._lines)


class Recover(base.Lister):
    """Settle a deploy that died: set its pending record from the stack's state."""

    COLUMNS = ('revision', 'status')
    EXIT_CODES = base.exit_codes(0, 4, 11, *base.HEAT)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        parser.add_argument('--force', action='store_true',
                            help='settle even a pending record younger than %d s (its '
                                 'deploy may still be sending its plan)'
                            % store_mod.STALE_AFTER)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        settled = recover_action.recover(connect.get_adapter(self.app, parsed_args),
                                      parsed_args.stack, force=parsed_args.force)
        return self.COLUMNS, [(s['revision'], s['status']) for s in settled]


class Delete(base.ShowOne):
    """Delete a stack and its heatplan history records.

    On a terminal it asks first (--yes skips the question); elsewhere --yes
    is required.  Waits for Heat to finish deleting unless --no-wait.
    """

    COLUMNS = ('stack', 'status', 'records_deleted')
    EXIT_CODES = base.exit_codes(0, 4, 6, 7, 11, *base.HEAT,
                                 _4='refused: no confirmation (not a terminal, no --yes)',
                                 _6='Heat failed to delete it')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        add_stack_argument(parser)
        parser.add_argument('--keep-history', action='store_true',
                            help='keep the revision records')
        parser.add_argument('-y', '--yes', action='store_true',
                            help='delete without asking (required when not on a terminal)')
        parser.add_argument('--wait', dest='wait', action='store_true', default=True,
                            help='wait until Heat has deleted it (the default)')
        parser.add_argument('--no-wait', dest='wait', action='store_false',
                            help='return once Heat accepted the delete')
        add_wait_arguments(parser, quiet=False)
        connect.add_heat_arguments(parser, self.app)
        return parser

    def take_action(self, parsed_args):
        adapter = connect.get_adapter(self.app, parsed_args)
        if not parsed_args.yes:
            stack = adapter.get_stack(parsed_args.stack)
            what = 'stack %s%s' % (parsed_args.stack, '' if parsed_args.keep_history
                                   else ' and its heatplan history')
            if stack is None:
                delete_action.delete(adapter, parsed_args.stack, parsed_args.keep_history,
                                   wait=parsed_args.wait, dry_run=True)  # NotFound if so
            answer = CliReporter().confirm('delete %s?' % what)
            if answer is None:
                raise errors.RefusedError(
                    'not deleting %s without confirmation' % what,
                    hint='pass --yes to delete it (nobody can be asked: not a terminal)')
            if not answer:
                raise errors.Aborted('aborted, nothing changed')
        info = delete_action.delete(adapter, parsed_args.stack, parsed_args.keep_history,
                                  wait=parsed_args.wait,
                                  wait_timeout=parsed_args.wait_timeout)
        return self.row(info)
