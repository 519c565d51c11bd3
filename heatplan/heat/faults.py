"""What a failed call proves, decided by the exception's type, never its text.

After a create or update fails in transit, deploy must know whether Heat may
have taken the plan (deploy.rst, "When the connection fails"):

* :func:`never_sent`: no TCP connection was made (refused, no route, the
  name did not resolve, the connect timed out), so no byte of the request
  left this machine;
* :func:`heat_answered`: Heat's API itself answered 500 with its JSON error
  (its type named), other than an RPC timeout, after which the engine may
  still take the request.

keystoneauth raises ``ConnectFailure`` for every ``requests`` connection
error, including a connection dropped after the request was sent, so its
type alone does not tell; the chain of causes does (urllib3's
``NewConnectionError`` / ``ConnectTimeoutError`` happen before sending).
"""

from heatplan import errors


def _chain(exc, seen=None):
    """``exc`` and every exception it carries: causes, contexts, reasons, args."""
    seen = set() if seen is None else seen
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        for inner in [getattr(exc, 'reason', None)] + list(getattr(exc, 'args', ()) or ()):
            if isinstance(inner, BaseException):
                yield from _chain(inner, seen)
        exc = exc.__cause__ or exc.__context__


def _before_sending():
    kinds = [ConnectionRefusedError]
    try:
        from urllib3 import exceptions as u3
    except ImportError:  # pragma: no cover - requests always brings urllib3
        return tuple(kinds)
    kinds += [u3.NewConnectionError, u3.ConnectTimeoutError]
    return tuple(kinds)


def never_sent(exc):
    """True when the request certainly never left this machine."""
    if not isinstance(exc, errors.ConnectionFailed):
        return False
    kinds = _before_sending()
    return any(isinstance(e, kinds) for e in _chain(exc))


def heat_answered(exc):
    """True for a 500 Heat's API itself answered (its JSON names the error type).

    A gateway's 502/503/504 (or its HTML page) may come before or after Heat
    took the request.  Heat answers an RPC timeout (``MessagingTimeout``)
    with a 500 too, but the engine may still take the request: that one
    proves nothing either.
    """
    kind = getattr(exc, 'heat_type', None) or ''
    return isinstance(exc, errors.HeatRejected) and \
        getattr(exc, 'status_code', None) == 500 and bool(kind) and \
        'timeout' not in kind.lower()
