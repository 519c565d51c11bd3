"""Secrets: values of ``hidden: true`` parameters given on the command line.

They are sent to Heat (which masks them itself) and nowhere else:

* manifests and revision records hold ``******`` and a slow keyed hash
  (scrypt, salted with the parameter's name), enough to tell that a value
  changed without making a weak password cheap to guess;
* the plan digest covers that hash, not the value (digests are public tags);
* a logging filter replaces every registered secret in every log record
  (``--debug`` included: keystoneauth logs request bodies at debug level).
  Values of 4 characters or more are masked wherever they appear; every
  value, whatever its length, is masked where it stands as the value of its
  parameter's name (``"pin": "Zq7"`` in a request body, ``pin: Zq7`` in an
  environment file's text, JSON-escaped or not): masking a 3-character
  string everywhere would shred unrelated text, masking it by structure
  does not.
"""

import hashlib
import json
import logging
import re
import threading

MASK = '******'
_lock = threading.Lock()
_secrets = set()
#: (name, value form) -> compiled pattern masking the value after its name
_pairs = {}
#: an optional quote, JSON-escaped any number of times
_Q = r'(?:\\*["\'])?'


def fingerprint(name, value):
    """A slow keyed hash of a hidden parameter's value (hex)."""
    data = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    digest = hashlib.scrypt(data.encode('utf-8'), salt=('heatplan:param:%s' % name).encode(),
                            n=2 ** 14, r=8, p=1, dklen=16)
    return 'scrypt:' + digest.hex()


def _forms(value):
    """Every way a value may be written in a log: raw, JSON-escaped, stripped."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _forms(v)
        yield json.dumps(value)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _forms(v)
        yield json.dumps(value)
        return
    if value is None or isinstance(value, bool):
        return
    text = value if isinstance(value, str) else str(value)
    for candidate in (text, text.strip()):
        yield candidate
        yield json.dumps(candidate)[1:-1]
        yield json.dumps(candidate, ensure_ascii=False)[1:-1]
        yield repr(candidate)[1:-1]


def _pair_pattern(name, form):
    return re.compile(r'(?<![\w.-])(%s%s%s\s*[:=]\s*%s)%s(?=%s(?:[\s,}\]\\)]|$))' % (
        _Q, re.escape(name), _Q, _Q, re.escape(form), _Q))


def register(value, name=None):
    """Remember a secret (any JSON value) so that output and logs never show it.

    With ``name`` (the hidden parameter's), the value is also masked wherever
    it stands as that name's value, however short it is.
    """
    added = False
    for text in _forms(value):
        if not text:
            continue
        with _lock:
            if name is not None and (name, text) not in _pairs:
                _pairs[(name, text)] = _pair_pattern(name, text)
                added = True
            if len(text) >= 4 and text not in _secrets:
                # a tiny string masked everywhere would shred every log line
                _secrets.add(text)
                added = True
    if added:
        install_filter()


def redact(text):
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
        pairs = list(_pairs.values())
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in pairs:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record):
        if not _secrets and not _pairs:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to logging's own handling
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install_filter():
    """Put the filter on every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
