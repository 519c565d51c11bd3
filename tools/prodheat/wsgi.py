"""WSGI entry points uWSGI serves: Keystone's and Heat's apps, plus a ``Date`` header.

uWSGI's ``http-socket`` sends no ``Date`` header (HTTP requires one from an
origin server with a clock; the proxy in front of uWSGI adds it in a real
deployment).  heatplan measures the age of revision records on Heat's clock,
read from ``Date``: without it the grace period falls back on the client's
clock.  These wrappers add what the front proxy would.
"""

import email.utils
import os


def with_date(app):
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            if not any(name.lower() == 'date' for name, _value in headers):
                headers = list(headers) + [('Date', email.utils.formatdate(usegmt=True))]
            return start_response(status, headers, exc_info)
        return app(environ, start)
    return wrapped


def _load(name):
    if name == 'keystone':
        from keystone.wsgi import api
    elif name == 'heat-api':
        from heat.wsgi import api
    else:
        raise RuntimeError('PRODHEAT_APP must be keystone or heat-api, not %r' % name)
    return with_date(api.application)


#: What uWSGI serves (``--module tools.prodheat.wsgi:application``), chosen by
#: ``$PRODHEAT_APP``; each worker imports it after the fork (``--lazy-apps``).
application = _load(os.environ.get('PRODHEAT_APP', ''))
