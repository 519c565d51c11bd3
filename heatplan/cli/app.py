"""The standalone ``heatplan`` cliff application."""

import importlib.metadata
import sys

from cliff import app
from cliff import commandmanager

import heatplan
from heatplan import errors
from heatplan import secrets
from heatplan.cli import osopts


class OwnCommandManager(commandmanager.CommandManager):
    """Load heatplan's commands from heatplan's own entry points only.

    cliff's manager asks stevedore for every installed distribution's entry
    points, whose cache it rebuilds whenever the environment changed: with
    openstack-heat's dependencies installed that was most of ``heatplan
    --version``'s 0.2-0.6 s.  heatplan's commands are all in its own
    distribution; reading that one's entry points is a few milliseconds.
    (The ``openstack stack plan`` plugin is loaded by openstackclient, which
    scans entry points as it always does.)
    """

    #: heatplan's commands read their cliff hooks the same way (cli/base.py)
    own_entry_points = True

    def load_commands(self, namespace):
        try:
            eps = importlib.metadata.distribution('heatplan').entry_points
        except importlib.metadata.PackageNotFoundError:  # not installed: cliff's way
            return super().load_commands(namespace)
        self.group_list.append(namespace)
        for ep in eps.select(group=namespace):
            name = ep.name.replace('_', ' ') if self.convert_underscores else ep.name
            self.commands[name] = ep


class HeatParser:
    """Mixin for cliff's global parser: parse only the words before the verb.

    Everything from the verb on is the command's (its ``--timeout`` is not
    the session's, its ``--os-cloud`` is its own); cliff gets it back whole.
    """

    #: First words of the commands (set by the app).
    commands = frozenset()

    def parse_known_args(self, args=None, namespace=None):
        head, tail = osopts.split(self, list(args or ()), self.commands)
        moved, tail = _output_options(tail)
        options, extra = super().parse_known_args(head + moved, namespace)
        return options, extra + tail


#: cliff's own output options, taken after the verb too (as ``openstack server
#: list --debug``): no heatplan command has an option of these names.
_ANYWHERE = ('-v', '--verbose', '-q', '--quiet', '--debug')


def _output_options(tail):
    """``(cliff's -v/-q/--debug/--log-file found in tail, the rest of tail)``."""
    moved, rest, words = [], [], iter(tail)
    for word in words:
        if word == '--':
            rest.append(word)
            rest.extend(words)
            break
        if word in _ANYWHERE or (word.startswith('-v') and set(word[1:]) == {'v'}):
            moved.append(word)
        elif word == '--log-file':
            moved.append(word)
            moved.append(next(words, ''))
        elif word.startswith('--log-file='):
            moved.append(word)
        else:
            rest.append(word)
    return moved, rest


_GLOBALS_HINT = (
    'before the command go openstack\'s options (--os-cloud, --os-auth-url, '
    '--os-username, --os-password, --os-project-name, --os-token, --os-endpoint, '
    '--os-region-name, --os-interface, --os-cacert, --insecure ...; "heatplan --help" '
    'lists them) and -v, -q, --debug, --log-file; heatplan\'s own options (--local, '
    '--heat-url, --stack ...) go after it: "heatplan help COMMAND" lists a command\'s')


class HeatplanApp(app.App):
    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser.__class__ = type('HeatplanParser', (HeatParser, parser.__class__), {})
        return parser

    def split_argv(self, argv):
        """``(head, tail)`` of ``argv``: the global options and the command.

        Registers openstack's options first if the head uses them.
        """
        argv = list(argv)
        commands = {'help', 'complete'}
        commands.update(name.split()[0] for name, _ep in self.command_manager)
        self.parser.commands = frozenset(commands)
        head, tail = osopts.split(self.parser, argv, commands)
        if osopts.wanted(head) and not getattr(self.parser, 'openstack_options', False):
            osopts.register(self.parser)
            self.parser.openstack_options = True
            head, tail = osopts.split(self.parser, argv, commands)
        return head, tail

    def run(self, argv):
        argv = list(argv)
        head, tail = self.split_argv(argv)
        wrong = osopts.misplaced(self.parser, head)
        if wrong:
            where = ('heatplan %s ... %s' % (tail[0], wrong[0])) if tail else \
                'heatplan COMMAND ... %s' % wrong[0]
            if wrong[0].startswith(('--os-', '--os_')):
                what = ('%s is not an option openstack (osc-lib, keystoneauth1\'s auth '
                        'plugins) knows, nor one of heatplan\'s before the command'
                        % wrong[0])
            else:
                what = ('%s is not an option of heatplan itself: if it is a command\'s, '
                        'it goes after the command (%s)' % (wrong[0], where))
            exc = errors.UsageError(what, hint=_GLOBALS_HINT)
            sys.stderr.write('heatplan: error: %s\n' % secrets.redact(str(exc)))
            return exc.exit_code
        return super().run(argv)

    def __init__(self):
        super().__init__(
            description=(
                'Store and deploy OpenStack Heat deployment plans: assemble a '
                'plan directory or archive into one exact request and send it '
                'to Heat in one call.'),
            version=heatplan.__version__,
            command_manager=OwnCommandManager('heatplan.cli'),
            deferred_help=True,
        )


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    return HeatplanApp().run(argv)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
