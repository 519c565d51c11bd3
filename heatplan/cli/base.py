"""Shared plumbing for heatplan's cliff commands.

Commands are thin: parse options, call one action, format the result.  The
same classes serve the ``heatplan`` application and the ``openstack stack
plan`` plugin.  :class:`HeatplanErrorMixin` turns heatplan's exceptions into a
one-message error on stderr and the documented exit code, never a traceback.
"""

import argparse
import importlib.metadata
import json
import logging
import sys

from cliff import command
from cliff import lister
from cliff import show

from heatplan import errors
from heatplan import secrets

LOG = logging.getLogger(__name__)


class KeyValue(argparse.Action):
    """Collect ``KEY=VALUE`` items in order, refusing a malformed one at parse time.

    The refusal never repeats the item: a ``--parameter`` value may be a
    secret typed without its name.
    """

    def __call__(self, parser, namespace, value, option_string=None):
        key, sep, _rest = value.partition('=')
        if not sep:
            raise argparse.ArgumentError(
                self, 'expected %s, got a value without "=" (not shown: it may be a '
                'secret)' % (self.metavar or 'KEY=VALUE'))
        if not key.strip():
            raise argparse.ArgumentError(self, 'expected %s, got an empty name'
                                         % (self.metavar or 'KEY=VALUE'))
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(value)
        setattr(namespace, self.dest, items)

E = errors.ExitCode
#: What each exit code means, in a few words (a verb may say it its own way).
EXIT_MEANINGS = {
    E.OK: 'success',
    E.DIFFERENT: 'an unexpected internal error',
    E.USAGE: 'usage error',
    E.PLAN_INVALID: 'the plan is invalid',
    E.REFUSED: 'refused by a guard',
    E.HEAT_REJECTED: 'Heat rejected the request',
    E.DEPLOY_FAILED: 'the deployment failed',
    E.TIMED_OUT: 'the wait timed out',
    E.CONNECTION: 'Heat unreachable or authentication failed',
    E.LOCAL_HEAT: 'the local Heat could not be started',
    E.OUTPUT: 'an output could not be written',
    E.NOT_FOUND: 'not found',
    errors.Interrupted.exit_code: 'interrupted',
}
#: Codes any verb may exit with, besides its own: usage error, interrupted,
#: and (a bug) an unexpected internal error.
ANY_VERB = (E.USAGE, errors.Interrupted.exit_code, E.DIFFERENT)
#: What every verb that talks to Heat may also give: Heat rejected a request,
#: Heat unreachable, the local Heat (--local) could not be started.
HEAT = (E.HEAT_REJECTED, E.CONNECTION, E.LOCAL_HEAT)


def exit_codes(*codes, **meanings):
    """``{code: meaning}`` of a verb's own exit codes; ``meanings``: ``_6='it failed'``."""
    own = {int(k.lstrip('_')): v for k, v in meanings.items()}
    return {c: own.get(c, EXIT_MEANINGS[c]) for c in sorted(set(codes) | set(own))}


class HeatplanErrorMixin:
    """Map :class:`heatplan.errors.HeatplanError` to message + exit code."""

    #: ``{code: meaning}``: the exit codes this verb gives besides :data:`ANY_VERB`.
    #: ``--help`` shows them; doc/source/cli.rst lists them and the tests check
    #: both, and that every run in the functional suite exits with one of them.
    EXIT_CODES = exit_codes(E.OK)
    #: The output columns (fields) of a Lister or ShowOne verb, in order.
    COLUMNS = ()

    def get_epilog(self):
        own = ', '.join('%d %s' % item for item in self.EXIT_CODES.items())
        text = ('Exit codes: %s; and as for every verb, 2 usage error, 130 interrupted '
                '(1 an unexpected internal error).' % own)
        more = super().get_epilog()
        return text + ('\n\n' + more if more else '')

    def row(self, info):
        """``(COLUMNS, values)`` of an action's dict, which must have exactly them."""
        if set(info) != set(self.COLUMNS):
            raise RuntimeError('%s: fields %s are not its declared COLUMNS %s (a bug)'
                               % (type(self).__name__, sorted(info), self.COLUMNS))
        return self.COLUMNS, tuple(info[c] for c in self.COLUMNS)

    def run(self, parsed_args):
        try:
            return super().run(parsed_args)
        except errors.Aborted as exc:
            # The user said no (or pressed Ctrl-C at a prompt): not an error.
            sys.stderr.write('%s\n' % exc.message)
            return exc.exit_code
        except errors.Interrupted as exc:
            sys.stderr.write('\nheatplan: interrupted: %s\n' % secrets.redact(str(exc)))
            return exc.exit_code
        except errors.HeatplanError as exc:
            LOG.debug('command failed', exc_info=True)
            if isinstance(exc, errors.LintFailed) and any(
                    _is_body_size(d) for d in exc.diagnostics if d.severity == 'error'):
                from heatplan.cli import connect

                exc.hint = connect.body_limit_hint(parsed_args)
            # Heat quotes offending values in its errors, hidden ones included.
            sys.stderr.write('heatplan: error: %s\n' % secrets.redact(str(exc)))
            return exc.exit_code
        except KeyboardInterrupt:
            sys.stderr.write('\nheatplan: interrupted\n')
            return errors.Interrupted.exit_code


def _is_body_size(diagnostic):
    """True for lint's finding that the request body is over the limit."""
    return 'body-size' in (diagnostic.code, getattr(diagnostic, 'rule', None)) or \
        'max_json_body_size' in diagnostic.message


class OwnHooksMixin:
    """cliff's per-command hooks and epilog without scanning every distribution.

    cliff's ``Command.__init__`` asks stevedore for the hooks of the
    command's namespace (``heatplan.cli.<verb>``), which reads (and after
    any install rebuilds a cache of) every installed distribution's entry
    points, and its ``get_epilog`` maps every installed file to its
    distribution to say which plugin provides the command: together about
    0.15-0.3 s of every ``heatplan`` command with openstack-heat installed.
    In heatplan's own app (:class:`heatplan.cli.app.OwnCommandManager`)
    hooks are read from heatplan's own entry points, as its commands are,
    and the epilog names no plugin (the app is heatplan).  Inside
    openstackclient cliff's own behaviour is kept.
    """

    def _own_app(self):
        manager = getattr(getattr(self, 'app', None), 'command_manager', None)
        return getattr(manager, 'own_entry_points', False)

    def _load_hooks(self):
        if not self.cmd_name or not self._own_app():
            return super()._load_hooks()
        namespace = '%s.%s' % (self.app.command_manager.namespace,
                               self.cmd_name.replace(' ', '_'))
        try:
            eps = list(importlib.metadata.distribution('heatplan').entry_points.select(
                group=namespace))
        except importlib.metadata.PackageNotFoundError:
            return super()._load_hooks()
        if not eps:
            self._hooks = []
            return
        from stevedore import extension

        exts = []
        for ep in eps:
            plugin = ep.load()
            exts.append(extension.Extension(ep.name, ep, plugin, plugin(command=self)))
        self._hooks = extension.ExtensionManager.make_test_instance(
            exts, namespace=namespace)

    def get_epilog(self):
        if not self._own_app():
            return super().get_epilog()
        parts = [self._epilog or '']
        parts.extend(e for h in self._hooks
                     if h.obj is not None and (e := h.obj.get_epilog()) is not None)
        return '\n\n'.join(parts)


class LocalMixin:
    """A verb that never reaches a cloud: under openstackclient, no credentials
    are asked for or checked (osc-lib's ``auth_required``)."""

    auth_required = False


class Command(HeatplanErrorMixin, OwnHooksMixin, command.Command):
    pass


class OwnFormattersMixin:
    """cliff's formatters from cliff's own entry points, without stevedore's scan.

    cliff loads them with a stevedore ExtensionManager, which reads (and
    after any install, rebuilds a cache of) every distribution's entry
    points: most of a Lister's start-up here.  The formatters heatplan
    offers are cliff's (table, csv, json, yaml, value, shell); reading
    cliff's own entry points finds exactly those.
    """

    def _load_formatter_plugins(self):
        from stevedore import extension

        try:
            eps = importlib.metadata.distribution('cliff').entry_points.select(
                group=self.formatter_namespace)
        except importlib.metadata.PackageNotFoundError:
            return super()._load_formatter_plugins()
        exts = []
        for ep in eps:
            try:
                plugin = ep.load()
                exts.append(extension.Extension(ep.name, ep, plugin, plugin()))
            except Exception:  # a formatter whose optional dependency is missing
                LOG.debug('formatter %s not loaded', ep.name, exc_info=True)
        return extension.ExtensionManager.make_test_instance(
            exts, namespace=self.formatter_namespace)


class DataMixin:
    """What a Lister or ShowOne verb adds to cliff's run: checked ``-c`` and its exit code.

    cliff's own ``run`` always returns 0 once the output is written; a verb
    whose result also has an exit code (deploy failed: 6, diff found
    differences: 1, lint errors: 3) sets :attr:`exit_code` in its
    ``take_action``.  A ``-c`` naming no column of the verb's is a usage error
    (exit 2) before the verb does anything: cliff's own refusal came after
    (a deploy had run) and exited 1, which is "different" for ``diff``.
    """

    #: set by take_action when the verb's result has an exit code of its own
    exit_code = 0

    def run(self, parsed_args):
        self.exit_code = 0
        self._check_columns(parsed_args)
        return super().run(parsed_args) or self.exit_code

    def _check_columns(self, parsed_args):
        wanted = getattr(parsed_args, 'columns', None)
        if not wanted or not self.COLUMNS:
            return
        known = {self._normalize_column_name(c) for c in self.COLUMNS}
        unknown = [c for c in wanted if self._normalize_column_name(c) not in known]
        if unknown:
            raise errors.UsageError(
                'no column %s; %s has %s' % (', '.join(unknown), self.cmd_name or 'it',
                                             ', '.join(self.COLUMNS)),
                hint='give -c one of those (repeatable)')

    def cells(self, parsed_args, info):
        """``info`` for the formatter: structures as JSON text but for json and yaml."""
        if parsed_args.formatter in ('json', 'yaml'):
            return info
        return {k: plain(v) for k, v in info.items()}


def plain(value):
    """A table (value, shell, csv) cell: JSON for structures, as they are for scalars."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list, tuple)) \
        else value


class TextFormatter:
    """heatplan's ``-f text``: the verb's own human output, as it printed before cliff.

    The command renders it (its ``emit_text(stdout, parsed_args)``, from the
    result its ``take_action`` kept).  With ``-c COLUMN`` it prints those
    fields' values, one a line, as ``-f value`` does.
    """

    def __init__(self, command, value):
        self.command = command
        self.value = value

    def add_argument_group(self, parser):
        pass

    def emit_one(self, column_names, data, stdout, parsed_args):
        if parsed_args.columns:
            return self.value.emit_one(column_names, data, stdout, parsed_args)
        self.command.emit_text(stdout, parsed_args)

    def emit_list(self, column_names, data, stdout, parsed_args):
        if parsed_args.columns:
            return self.value.emit_list(column_names, data, stdout, parsed_args)
        self.command.emit_text(stdout, parsed_args)


class TextOutputMixin:
    """A verb whose default output is its own text (``-f text``), with cliff's others.

    ``text`` is added to the formatters the command loads itself
    (:class:`OwnFormattersMixin`: no entry point scan), so it exists both in
    ``heatplan`` and in ``openstack stack plan``.
    """

    formatter_default = 'text'

    def _load_formatter_plugins(self):
        from cliff.formatters import value
        from stevedore import extension

        manager = super()._load_formatter_plugins()
        exts = [e for e in manager.extensions if e.name != 'text']
        text = TextFormatter(self, value.ValueFormatter())
        exts.append(extension.Extension('text', None, TextFormatter, text))
        return extension.ExtensionManager.make_test_instance(
            exts, namespace=self.formatter_namespace)

    def emit_text(self, stdout, parsed_args):
        raise NotImplementedError


class Lister(HeatplanErrorMixin, DataMixin, OwnHooksMixin, OwnFormattersMixin,
             lister.Lister):
    pass


class ShowOne(HeatplanErrorMixin, DataMixin, OwnHooksMixin, OwnFormattersMixin,
              show.ShowOne):
    pass


class TextLister(TextOutputMixin, Lister):
    """A Lister whose default output is its own text."""


class TextShowOne(TextOutputMixin, ShowOne):
    """A ShowOne whose default output is its own text."""
