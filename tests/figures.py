"""Figures the suites measure (case counts, timings) for the docs.

``figure(name, value)`` prints ``FIGURE name = value`` (pytest shows it with
``-s`` or on failure) and appends ``name<TAB>value`` to ``$HEATPLAN_FIGURES``
when set, which doc/source/reliability.rst's figures come from.
"""

import os


def figure(name, value):
    """Print a figure for doc/source/reliability.rst; append it to $HEATPLAN_FIGURES."""
    print('FIGURE %s = %s' % (name, value))
    path = os.environ.get('HEATPLAN_FIGURES')
    if path:
        with open(path, 'a', encoding='utf-8') as f:
            f.write('%s\t%s\n' % (name, value))
