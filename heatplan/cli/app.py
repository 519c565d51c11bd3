"""The standalone ``heatplan`` cliff application."""

import importlib.metadata
import sys

from cliff import app
from cliff import commandmanager

import heatplan


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


class HeatplanApp(app.App):
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
