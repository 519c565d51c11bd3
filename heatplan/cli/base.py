"""Shared plumbing for heatplan's cliff commands.

Commands are thin: parse options, call one action, format the result.  The
same classes serve the ``heatplan`` application and the ``openstack stack
plan`` plugin.  :class:`HeatplanErrorMixin` turns heatplan's exceptions into a
one-message error on stderr and the documented exit code, never a traceback.
"""

import importlib.metadata
import logging
import sys

from cliff import command
from cliff import lister
from cliff import show

from heatplan import errors
from heatplan import secrets

LOG = logging.getLogger(__name__)


class HeatplanErrorMixin:
    """Map :class:`heatplan.errors.HeatplanError` to message + exit code."""

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


class Lister(HeatplanErrorMixin, OwnHooksMixin, OwnFormattersMixin, lister.Lister):
    pass


class ShowOne(HeatplanErrorMixin, OwnHooksMixin, OwnFormattersMixin, show.ShowOne):
    pass
