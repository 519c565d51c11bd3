"""Actions: one module per verb, what the commands (and tests) call.

Each verb's module has its options (a dataclass, where there are several)
and a ``run``-style entry point; commands in :mod:`heatplan.cli` only parse,
call one action and format what it returns.  See doc/source/design.rst.
"""
