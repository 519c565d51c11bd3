"""The standalone ``heatplan`` cliff application."""

import sys

from cliff import app
from cliff import commandmanager

import heatplan


class HeatplanApp(app.App):
    def __init__(self):
        super().__init__(
            description=(
                'Store and deploy OpenStack Heat deployment plans: assemble a '
                'plan directory or archive into one exact request and send it '
                'to Heat in one call.'),
            version=heatplan.__version__,
            command_manager=commandmanager.CommandManager('heatplan.cli'),
            deferred_help=True,
        )


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    return HeatplanApp().run(argv)


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
