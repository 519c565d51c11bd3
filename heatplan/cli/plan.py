"""Plan verbs that need no Heat: build, package, validate."""

import json
import sys

from heatplan import actions
from heatplan import errors
from heatplan import lint as lint_mod
from heatplan import source as source_mod
from heatplan.cli import base


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
    group.add_argument('--parameter', metavar='KEY=VALUE', action='append',
                       dest='parameters', help='root template parameter; repeatable')
    group.add_argument('--parameter-file', metavar='KEY=PATH', action='append',
                       dest='parameter_files',
                       help='parameter whose value is the text of a plan file; repeatable')
    limits = source_mod.Limits()
    caps = parser.add_argument_group('caps', 'Bounds on what a plan source may make '
                                     'heatplan read.')
    caps.add_argument('--max-files', type=int, default=limits.max_files, metavar='N',
                      help='files read, or archive members (default %(default)s)')
    caps.add_argument('--max-file-bytes', type=int, default=limits.max_file_bytes,
                      metavar='BYTES', help='size of one file (default %(default)s)')
    caps.add_argument('--max-total-bytes', type=int, default=limits.max_total_bytes,
                      metavar='BYTES', help='all files together (default %(default)s)')
    caps.add_argument('--max-expansion-ratio', type=int,
                      default=limits.max_expansion_ratio, metavar='N',
                      help='archive uncompressed/compressed size (default %(default)s)')
    caps.add_argument('--max-body-bytes', type=int,
                      default=lint_mod.DEFAULT_MAX_BODY_BYTES, metavar='BYTES',
                      help="request body limit, Heat's max_json_body_size "
                           '(default %(default)s; 0 disables the check)')
    return parser


def definition_flags_given(parsed_args):
    """The plan-definition flags given on the command line (for usage errors)."""
    return [flag for flag, dest in (('-t/--template', 'template'),
                                    ('-e/--environment', 'environments'),
                                    ('--parameter', 'parameters'),
                                    ('--parameter-file', 'parameter_files'))
            if getattr(parsed_args, dest, None)]


def plan_options(parsed_args):
    return actions.PlanOptions(
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
    )


class Build(base.Command):
    """Assemble a plan into the exact JSON request Heat receives.

    Writes {"digest": "sha256:...", "body": {template, files,
    environment_files, parameters}}.  Nothing is sent anywhere.  The same plan
    content gives the same bytes from any directory or archive.
    """

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
        opts = plan_options(parsed_args)
        _src, plan = actions.build_plan(opts)
        if not parsed_args.show_secrets:
            plan = actions.masked(plan)
        text = plan.body_json() if parsed_args.body_only else actions.document(plan)
        if parsed_args.output and parsed_args.output != '-':
            from heatplan import output

            output.atomic_write(parsed_args.output, (text + '\n').encode('utf-8'))
            self.app.stdout.write('%s: %d files, %d bytes, %s\n' % (
                parsed_args.output, len(plan.body['files']), plan.body_size, plan.digest))
        else:
            self.app.stdout.write(text + '\n')
        return 0


class Package(base.Command):
    """Write a plan as a deterministic .tar.gz that builds to the same digest.

    Members: the plan's original files and a generated heatplan.yaml, sorted,
    with fixed mtimes and owners.
    """

    def get_parser(self, prog_name):
        parser = add_plan_arguments(super().get_parser(prog_name))
        parser.add_argument('-o', '--output', metavar='FILE', required=True,
                            help='archive to write (.tar.gz; - is stdout); a regular '
                                 'file is replaced atomically, a device or fifo written '
                                 'through, a directory or socket refused')
        return parser

    def take_action(self, parsed_args):
        plan = actions.package(plan_options(parsed_args), parsed_args.output,
                               stdout=self.app.stdout)
        summary = self.app.stdout if parsed_args.output != '-' else sys.stderr
        summary.write('%s: %d files, %s\n' % (
            parsed_args.output, len(plan.files) + 1, plan.digest))
        return 0


class Validate(base.Command):
    """Lint a plan: what Heat would reject or silently get wrong.

    Prints path:line:col: severity: message for each finding (or a JSON list
    with -f json).  Exit status 0 when there are no errors (warnings allowed),
    3 when there are.
    """

    def get_parser(self, prog_name):
        parser = add_plan_arguments(super().get_parser(prog_name))
        parser.add_argument('-f', '--format', choices=('text', 'json'), default='text',
                            help='output format (default: text)')
        return parser

    def take_action(self, parsed_args):
        diagnostics = actions.validate(plan_options(parsed_args))
        n_err = sum(1 for d in diagnostics if d.severity == 'error')
        n_warn = len(diagnostics) - n_err
        out = self.app.stdout
        if parsed_args.format == 'json':
            json.dump([d.as_dict() for d in diagnostics], out, indent=2)
            out.write('\n')
        else:
            for d in diagnostics:
                out.write(d.format() + '\n')
            sys.stderr.write('%d error(s), %d warning(s)\n' % (n_err, n_warn))
        return errors.ExitCode.PLAN_INVALID if n_err else 0
