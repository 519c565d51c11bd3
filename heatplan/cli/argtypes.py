"""argparse ``type=`` callables for numeric options (a bad value is a usage error, exit 2)."""

import argparse


def _integer(value, least, what):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError('%r is not a whole number' % (value,)) from None
    if number < least:
        raise argparse.ArgumentTypeError('%d is not allowed: give %s' % (number, what))
    return number


def count(value):
    """A whole number, 0 or more (sizes, caps, counts: what 0 means is in each help)."""
    return _integer(value, 0, '0 or more')


def positive(value):
    """A whole number, 1 or more (minutes)."""
    return _integer(value, 1, '1 or more')


def revision(value):
    """A revision number: revisions count from 1."""
    return _integer(value, 1, 'a revision number, 1 or more (see "heatplan history")')
