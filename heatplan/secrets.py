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
import hmac
import json
import logging
import os
import re
import threading

from heatplan import errors

MASK = '******'
_lock = threading.Lock()
_secrets = set()
#: (name, value form) -> compiled pattern masking the value after its name
_pairs = {}
#: an optional quote, JSON-escaped any number of times
_Q = r'(?:\\*["\'])?'


#: A file holding a key only the operator has: fingerprints become
#: HMAC-SHA256 under it, which read access to the records cannot brute-force.
KEY_FILE_ENV = 'HEATPLAN_FINGERPRINT_KEY_FILE'
MIN_KEY_BYTES = 16


def _operator_key():
    path = os.environ.get(KEY_FILE_ENV)
    if not path:
        return None
    try:
        with open(path, 'rb') as f:
            key = f.read().strip()
    except OSError as exc:
        # fail closed: never fall back to the weaker fingerprint silently
        raise errors.UsageError(
            '%s=%s: cannot read the fingerprint key: %s' % (KEY_FILE_ENV, path, exc.strerror),
            hint='fix the path, or unset %s to use the unkeyed fingerprint' % KEY_FILE_ENV)
    if len(key) < MIN_KEY_BYTES:
        raise errors.UsageError(
            '%s: the fingerprint key in %s is shorter than %d bytes'
            % (KEY_FILE_ENV, path, MIN_KEY_BYTES),
            hint='make one with: head -c 32 /dev/urandom | base64 > %s' % path)
    return key


def fingerprint(name, value):
    """A fingerprint of a hidden parameter's value: tells a change, not the value.

    With an operator key (:data:`KEY_FILE_ENV`): ``hmac:`` HMAC-SHA256 of the
    name and value under the key.  Without: ``scrypt:`` (N=2**14, r=8, p=1,
    salted with the public parameter name): slow, but a weak value can be
    guessed offline by anyone who reads the records (doc/source/reliability.rst).
    """
    data = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    key = _operator_key()
    if key is not None:
        mac = hmac.new(key, ('%s\0%s' % (name, data)).encode('utf-8'), hashlib.sha256)
        return 'hmac:' + mac.hexdigest()[:32]
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
