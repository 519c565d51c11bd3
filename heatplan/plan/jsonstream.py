"""JSON text in pieces: exactly ``json.dumps(obj, sort_keys=True)``, never whole.

A plan's request body is as large as the plan (20 MiB for 5,000 files):
``heatplan build`` used to hold its JSON text, that text plus a newline and
its UTF-8 bytes at once, three copies of the plan on top of the plan.
:func:`chunks` yields the same text a mapping at a time (each file of the
files map is one piece), so what is written is never held whole.
"""

import json

_dumps = json.dumps


def chunks(obj):
    """Yield pieces whose concatenation is ``json.dumps(obj, sort_keys=True)``.

    Mappings whose keys are all strings are written key by key (sorted);
    anything else is one ``json.dumps`` piece (the same encoder settings, so
    the same text).
    """
    if not isinstance(obj, dict) or not obj or \
            not all(k.__class__ is str for k in obj):
        yield _dumps(obj, sort_keys=True)
        return
    first = True
    for key in sorted(obj):
        yield ('{' if first else ', ') + _dumps(key) + ': '
        first = False
        value = obj[key]
        if isinstance(value, dict):
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
