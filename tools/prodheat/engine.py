"""``heat-engine``, with an optional injected delay between a stack's row and its tags.

Heat stores a stack's row (``Stack.create``) and then, in a separate
transaction, its tags (``Stack._store_tags``).  ``PRODHEAT_TAG_DELAY=SECONDS``
makes every tag write wait a random time in ``[0, SECONDS]`` first, so the
window in which another client sees the stack without its tags is as wide as
the test wants (doc/source/reliability.rst, "The deploy lock").  Without
the variable this is plain ``heat-engine``.  Run by the services' venv Python.
"""

import os
import random
import sys
import time


def _delay_tags(delay):
    from heat.engine import stack

    real = stack.Stack._store_tags

    def delayed(self):
        if self._tags is not None and not self._tags_stored and self.id is not None:
            time.sleep(random.uniform(0, delay))
        return real(self)

    stack.Stack._store_tags = delayed
    sys.stderr.write('prodheat: tag writes delayed by up to %.1f s\n' % delay)
    sys.stderr.flush()


def main():
    from heat.cmd import engine

    delay = float(os.environ.get('PRODHEAT_TAG_DELAY') or 0)
    if delay > 0:
        _delay_tags(delay)
    return engine.main()


if __name__ == '__main__':
    sys.exit(main())
