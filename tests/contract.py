"""What a verb declares about itself (exit codes), for the tests that run the CLI.

Every ``app.main(argv)`` the unit and functional helpers make goes through
:func:`check_exit_code`: a verb exiting with a code it does not declare (its
``EXIT_CODES``, plus 2 usage error and 130 interrupted) fails the test, so
the codes doc/source/cli.rst lists and ``--help`` shows are the codes the
verbs really give, wherever the suites exercise them.
"""

from heatplan.cli import app
from heatplan.cli import base

_manager = None


def command_class(argv):
    """The command class ``argv`` runs, or None (``--version``, ``help``...)."""
    global _manager
    if _manager is None:
        _manager = app.HeatplanApp().command_manager
    words = [str(a) for a in argv]
    while words and words[0].startswith('-'):
        words.pop(0)  # global options before the verb
    try:
        cls, _name, _rest = _manager.find_command(words)
    except ValueError:
        return None
    return cls if hasattr(cls, 'EXIT_CODES') else None


def allowed_exit_codes(argv):
    cls = command_class(argv)
    if cls is None:
        return None
    return set(cls.EXIT_CODES) | (set(base.ANY_VERB) - {base.E.DIFFERENT})


def check_exit_code(argv, code):
    allowed = allowed_exit_codes(argv)
    if allowed is None or any(str(a) in ('-h', '--help') for a in argv):
        return
    assert (code or 0) in allowed, (
        '%s exited %s, which it does not declare (EXIT_CODES: %s)'
        % (' '.join(str(a) for a in argv[:2]), code, sorted(allowed)))
