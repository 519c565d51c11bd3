"""JSON text in pieces: exactly ``json.dumps(obj, sort_keys=True)``, never whole.

A plan's request body is as large as the plan (20 MiB for 5,000 files):
``heatplan build`` used to hold its JSON text, that text plus a newline and
its UTF-8 bytes at once, three copies of the plan on top of the plan.
:func:`chunks` yields the same text a mapping at a time (each file of the
files map is one piece), so what is written is never held whole.
"""

import collections.abc
import json

_dumps = json.dumps
_Mapping = collections.abc.Mapping


def chunks(obj):
    """Yield pieces whose concatenation is ``json.dumps(obj, sort_keys=True)``.

    Mappings whose keys are all strings are written key by key (sorted),
    each value looked up as it is written: a mapping that makes its values
    on demand (:class:`heatplan.plan.assemble.RewrittenTexts`) is never held
    whole.  Anything else is one ``json.dumps`` piece (the same encoder
    settings, so the same text); a mapping that is not a ``dict`` is written
    as ``json.dumps(dict(obj))`` would.
    """
    if not isinstance(obj, _Mapping) or not obj or \
            not all(k.__class__ is str for k in obj):
        if isinstance(obj, _Mapping) and not isinstance(obj, dict):
            obj = dict(obj)
        yield _dumps(obj, sort_keys=True)
        return
    first = True
    for key in sorted(obj):
        yield ('{' if first else ', ') + _dumps(key) + ': '
        first = False
        value = obj[key]
        if isinstance(value, _Mapping):
            yield from chunks(value)
        else:
            yield _dumps(value, sort_keys=True)
    yield '}'


def encoded(pieces, encoding='utf-8', end=''):
    """The pieces as bytes (ASCII JSON: one byte per character), then ``end``."""
    for piece in pieces:
        yield piece.encode(encoding)
    if end:
        yield end.encode(encoding)
