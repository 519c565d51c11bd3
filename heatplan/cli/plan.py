"""Plan verbs that need no Heat: build, package, validate."""

import os
import sys

from heatplan import errors
from heatplan import lint as lint_mod
from heatplan.actions import plan as plan_actions
from heatplan.cli import argtypes
from heatplan.cli import base
from heatplan.lint import registry
from heatplan.plan import source as source_mod


def add_plan_arguments(parser, source_optional=False):
    """Options every verb that reads a plan takes."""
    parser.add_argument(
        'source', metavar='SOURCE', nargs='?' if source_optional else None,
        help='plan directory or archive (.tar, .tar.gz/.tgz, .tar.bz2, .tar.xz, .zip)')
    group = parser.add_argument_group(
        'plan definition',
        'Flags override the heatplan.yaml manifest at the plan root, which '
        'overrides a TripleO plan-environment.yaml. Paths are relative to the '
        'plan root.')
    group.add_argument('-t', '--template', metavar='PATH',
                       help='root template')
    group.add_argument('-e', '--environment', metavar='PATH', action='append',
                       dest='environments',
                       help='environment file; repeat in merge order (later wins). '
                            'Replaces the manifest\'s whole environment list, it does not '
                            'add to it: list every environment to deploy')
    group.add_argument('--parameter', metavar='KEY=VALUE', action=base.KeyValue,
                       dest='parameters', help='root template parameter; repeatable')
    group.add_argument('--parameter-file', metavar='KEY=PATH', action=base.KeyValue,
                       dest='parameter_files',
                       help='parameter whose value is the text of a plan file; repeatable')
    limits = source_mod.Limits()
    caps = parser.add_argument_group('caps', 'Bounds on what a plan source may make '
                                     'heatplan read.')
    caps.add_argument('--max-files', type=argtypes.count, default=limits.max_files, metavar='N',
                      help='files read, or archive members (default %(default)s)')
    caps.add_argument('--max-file-bytes', type=argtypes.count, default=limits.max_file_bytes,
                      metavar='BYTES', help='size of one file (default %(default)s)')
    caps.add_argument('--max-total-bytes', type=argtypes.count, default=limits.max_total_bytes,
                      metavar='BYTES', help='all files together (default %(default)s)')
    caps.add_argument('--max-expansion-ratio', type=argtypes.count,
                      default=limits.max_expansion_ratio, metavar='N',
                      help='archive uncompressed/compressed size (default %(default)s)')
    caps.add_argument('--max-body-bytes', type=argtypes.count,
                      default=lint_mod.DEFAULT_MAX_BODY_BYTES, metavar='BYTES',
                      help="request body limit, Heat's max_json_body_size "
                           '(default %(default)s; 0 disables the check)')
    checks = parser.add_argument_group(
        'lint', 'Errors (Heat would reject the plan, or heatplan cannot assemble it '
        'faithfully) stop the command; warnings do not. A heatplan.yaml "lint:" '
        'section (strict, ignore) sets the same for the plan; these flags add to it. '
        'Codes: "heatplan lint rules".')
    caps.add_argument('--no-cache', action='store_true',
                      default=os.environ.get('HEATPLAN_NO_CACHE', '').strip().lower() in
                      ('1', 'true', 'yes', 'on'),
                      help='do not use the per-file analysis cache in '
                           '$XDG_CACHE_HOME/heatplan (env HEATPLAN_NO_CACHE=1)')
    checks.add_argument('--strict', action='store_true',
                        help='treat warnings as errors (for CI pipelines)')
    checks.add_argument('--ignore', metavar='CODE', action='append', default=[],
                        help='do not report lint rule CODE (e.g. HP104 or duplicate-key); '
                             'repeatable; rules that keep the plan from being assembled '
                             'cannot be ignored')
    return parser


def report_warnings(result_or_plan, stream=None):
    """One line on stderr for the warnings a build or deploy goes on with."""
    stream = stream or sys.stderr
    diagnostics = getattr(result_or_plan, 'diagnostics', None) or []
    warnings = [d for d in diagnostics if d.severity == 'warning']
    if warnings:
        codes = sorted({d.code for d in warnings})
        stream.write('heatplan: %d lint warning(s) (%s); "heatplan validate" lists them\n'
                     % (len(warnings), ', '.join(codes)))


def definition_flags_given(parsed_args):
    """The plan-definition flags given on the command line (for usage errors)."""
    return [flag for flag, dest in (('-t/--template', 'template'),
                                    ('-e/--environment', 'environments'),
                                    ('--parameter', 'parameters'),
                                    ('--parameter-file', 'parameter_files'))
            if getattr(parsed_args, dest, None)]


def plan_options(parsed_args):
    return plan_actions.PlanOptions(
        source=parsed_args.source,
        template=parsed_args.template,
        environments=parsed_args.environments,
        parameters=parsed_args.parameters,
        parameter_files=parsed_args.parameter_files,
        limits=source_mod.Limits(
            max_files=parsed_args.max_files,
            max_file_bytes=parsed_args.max_file_bytes,
            max_total_bytes=parsed_args.max_total_bytes,
            max_expansion_ratio=parsed_args.max_expansion_ratio),
        max_body_bytes=parsed_args.max_body_bytes,
        strict=getattr(parsed_args, 'strict', False),
        ignore=list(getattr(parsed_args, 'ignore', None) or ()),
        cache=not getattr(parsed_args, 'no_cache', False),
    )


def _to_a_file(parsed_args, verb, what):
    """Refuse a cliff format (or -c) when ``what`` would share stdout with it."""
    if parsed_args.formatter == 'text' and not parsed_args.columns:
        return
    if not parsed_args.output or parsed_args.output == '-':
        raise errors.UsageError(
            '%s: with -f %s or -c, %s goes to -o FILE (standard output carries the '
            'summary)' % (verb, parsed_args.formatter, what),
            hint='add -o FILE (-o /dev/null for the summary alone), or leave out -f '
                 'and -c')


class Build(base.LocalMixin, base.TextShowOne):
    """Assemble a plan into the exact JSON request Heat receives.

    Writes {"digest": "sha256:...", "body": {template, files,
    environment_files, parameters}}.  Nothing is sent anywhere.  The same plan
    content gives the same bytes from any directory or archive.  With -o FILE
    it prints a summary (-f json|yaml|value|... and -c take it; they need -o).
    """

    COLUMNS = ('output', 'files', 'body_bytes', 'digest')
    EXIT_CODES = base.exit_codes(0, 3, 10)

    def get_parser(self, prog_name):
        parser = add_plan_arguments(super().get_parser(prog_name))
        parser.add_argument('-o', '--output', metavar='FILE',
                            help='write to FILE instead of stdout (- is stdout): a '
                                 'regular file is replaced atomically, a device or fifo '
                                 'written through, a directory or socket refused')
        parser.add_argument('--body-only', action='store_true',
                            help='write only the request body, without the digest wrapper')
        parser.add_argument('--show-secrets', action='store_true',
                            help='write the values of hidden parameters (masked as ****** '
                                 'by default)')
        return parser

    def take_action(self, parsed_args):
        _to_a_file(parsed_args, 'build', 'the request')
        opts = plan_options(parsed_args)
        # each file's rewritten text is made as it is written, never all held
        _src, plan = plan_actions.build_plan(opts, hold_texts=False)
        report_warnings(plan)
        if not parsed_args.show_secrets:
            plan = plan_actions.masked(plan)
        # written piece by piece: the JSON text (as large as the plan) is never whole
        self._pieces = plan_actions.document_pieces(plan, body_only=parsed_args.body_only)
        self._to_file = bool(parsed_args.output and parsed_args.output != '-')
        if self._to_file:
            from heatplan import output

            output.atomic_write(parsed_args.output, self._pieces)
        info = {'output': parsed_args.output or '-', 'files': len(plan.body['files']),
                'body_bytes': plan.body_size, 'digest': plan.digest}
        self._summary = '%s: %d files, %d bytes, %s\n' % (
            info['output'], info['files'], info['body_bytes'], info['digest'])
        return self.row(info)

    def emit_text(self, stdout, parsed_args):
        if self._to_file:
            stdout.write(self._summary)
            return
        stdout.flush()
        out = getattr(stdout, 'buffer', None)
        for piece in self._pieces:
            if out is not None:
                out.write(piece)
            else:
                stdout.write(piece.decode('utf-8'))
        (out or stdout).flush()


class Package(base.LocalMixin, base.TextShowOne):
    """Write a plan as a deterministic .tar.gz that builds to the same digest.

    Members: the plan's original files and a generated heatplan.yaml, sorted,
    with fixed mtimes and owners.  Prints a summary line (-f json|yaml|value|...
    and -c take it, except with -o -).  left_out: the parameter files left
    out as hidden values ({parameter: file}).
    """

    COLUMNS = ('output', 'files', 'digest', 'left_out')
    EXIT_CODES = base.exit_codes(0, 3, 10)

    def get_parser(self, prog_name):
        parser = add_plan_arguments(super().get_parser(prog_name))
        parser.add_argument('-o', '--output', metavar='FILE', required=True,
                            help='archive to write (.tar.gz; - is stdout); a regular '
                                 'file is replaced atomically, a device or fifo written '
                                 'through, a directory or socket refused')
        return parser

    def take_action(self, parsed_args):
        _to_a_file(parsed_args, 'package', 'the archive')
        plan = plan_actions.package(plan_options(parsed_args), parsed_args.output,
                               stdout=self.app.stdout)
        report_warnings(plan)
        from heatplan.plan import package as package_mod

        left_out = package_mod.hidden_files(plan)
        if left_out:
            sys.stderr.write(
                'heatplan: left out of the archive, as hidden parameter values: %s; '
                'supply them again (--parameter NAME=... or --parameter-file) when '
                'deploying it\n' % ', '.join('%s (%s)' % (k, n) for n, k in left_out.items()))
        info = {'output': parsed_args.output, 'files': plan.package_members,
                'digest': plan.digest, 'left_out': dict(left_out)}
        self._summary = '%s: %d files, %s\n' % (info['output'], info['files'],
                                                info['digest'])
        return self.row(self.cells(parsed_args, info))

    def emit_text(self, stdout, parsed_args):
        # the archive on stdout (-o -): the summary goes to stderr
        (stdout if parsed_args.output != '-' else sys.stderr).write(self._summary)


class Validate(base.LocalMixin, base.TextLister):
    """Lint a plan: what Heat would reject or silently get wrong.

    Prints path:line:col: severity[CODE]: message for each finding (or a JSON
    list with -f json: path, line, col, severity, code, rule, message).  An
    error means Heat would reject the plan or heatplan cannot assemble it
    faithfully; a warning, that Heat accepts it but it is probably a mistake
    (deploy and --dry-run also run Heat's own validate).  Exit status 0 when
    there are no errors (warnings allowed), 3 when there are.
    """

    COLUMNS = ('path', 'line', 'col', 'severity', 'message', 'code', 'rule')
    EXIT_CODES = base.exit_codes(0, 3, _0='no lint error (warnings allowed)',
                                 _3='lint errors, or the plan cannot be read')

    def get_parser(self, prog_name):
        return add_plan_arguments(super().get_parser(prog_name))

    def take_action(self, parsed_args):
        result = plan_actions.lint_plan(plan_options(parsed_args))
        self._result = result
        self.exit_code = errors.ExitCode.PLAN_INVALID if result.errors else 0
        rows = []
        for d in result.diagnostics:
            info = d.as_dict()
            rows.append(tuple(info[c] for c in self.COLUMNS))
        return self.COLUMNS, rows

    def emit_text(self, stdout, parsed_args):
        result = self._result
        for d in result.diagnostics:
            stdout.write(d.format() + '\n')
        n_err = len(result.errors)
        summary = '%d error(s), %d warning(s)' % (n_err, len(result.diagnostics) - n_err)
        if result.ignored:
            summary += ', %d ignored (%s)' % (
                len(result.ignored), ', '.join(sorted({d.code for d in result.ignored})))
        sys.stderr.write(summary + '\n')


class LintRules(base.LocalMixin, base.Lister):
    """List the lint rules: code, name, default severity, whether it can be ignored.

    Give a code or a name to --ignore, or in heatplan.yaml's "lint: ignore".
    """

    COLUMNS = ('Code', 'Name', 'Severity', 'Ignorable', 'Description')

    def take_action(self, parsed_args):
        rows = [(r.code, r.name, r.severity, r.ignorable, r.doc)
                for r in registry.RULES.values()]
        return self.COLUMNS, rows
