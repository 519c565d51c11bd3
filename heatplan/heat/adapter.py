"""The Heat adapter: the only module that talks HTTP to Heat.

It wraps python-heatclient (v1 API) over a keystoneauth1 session, made on
first use: the two reads every deploy starts with (a stack, a list of
stacks) are plain GETs on the session, so a deploy answered "unchanged"
never imports heatclient.  It turns Heat's and the transport's failures into
heatplan's exceptions, the same way on either path:

* Heat answered 4xx/5xx -> :class:`~heatplan.errors.HeatRejected` carrying
  Heat's own message (a too-large request says how to raise
  ``max_json_body_size``);
* Heat could not be reached, or authentication failed ->
  :class:`~heatplan.errors.ConnectionFailed` naming the URL.

Plans are always sent whole: ``update_stack`` is a full PUT (template,
files, environment files, parameters and tags all replaced), never a PATCH.
"""

import contextlib
import datetime
import email.utils
import functools
import logging
import re
import sys
import time

from heatplan import errors

LOG = logging.getLogger(__name__)

#: Delays (seconds) between attempts of an idempotent read.
READ_RETRY_DELAYS = (0.5, 1.0, 2.0)
_RETRY_STATUS = (500, 502, 503, 504)


def idempotent_read(method):
    """Retry a read (GET) with backoff on connection faults and 5xx answers.

    Only reads are retried: a create, update or delete could apply twice.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        for delay in self.read_retry_delays + (None,):
            try:
                return method(self, *args, **kwargs)
            except (errors.ConnectionFailed, errors.HeatRejected) as exc:
                transient = isinstance(exc, errors.ConnectionFailed) and \
                    'authentication' not in exc.message and 'credentials' not in exc.message
                transient = transient or getattr(exc, 'status_code', None) in _RETRY_STATUS
                if delay is None or not transient:
                    raise
                LOG.debug('%s failed (%s); retrying in %.1f s', method.__name__,
                          exc.message.splitlines()[0], delay)
                time.sleep(delay)
    return wrapper

#: The User-Agent of the reads heatplan makes without heatclient.
_USER_AGENT = 'heatplan'

#: :meth:`HeatAdapter._get_json`'s answer for a 404 it was told to expect.
_NOT_FOUND = object()

#: Keys of a plan body (what ``assemble`` produces).
BODY_KEYS = ('template', 'files', 'environment_files', 'parameters')



#: Heat's default ``max_json_body_size`` (what a cloud accepts unless raised).
HEAT_DEFAULT_MAX_JSON_BODY_SIZE = 1024 * 1024


def body_limit_hint(local=False, limit=None, size=None):
    """How to get a request body of ``size`` bytes past Heat's ``max_json_body_size``.

    ``local``: the Heat is heatplan's local one, whose limit is ``limit``.
    """
    at_least = 'N at least %d' % size if size else 'N at least the request size'
    if local:
        now = ' (%d bytes now)' % limit if limit else ''
        return ('the local Heat accepts request bodies up to its max_json_body_size%s: '
                'restart it with a larger one, "heatplan local down" then "heatplan '
                'local up --max-json-body-size N" (%s); --local deploys then check '
                'plans against it' % (now, at_least))
    return ('Heat refuses request bodies over its max_json_body_size (%d bytes unless '
            'raised; TripleO undercloud Heat runs 4-8 MiB). On the cloud set '
            '"[DEFAULT] max_json_body_size = N" in heat.conf (%s) and restart heat-api; '
            'then pass --max-body-bytes N so heatplan checks plans against the new limit '
            '(0 skips the check). heatplan\'s local Heat: "heatplan local up '
            '--max-json-body-size N"' % (HEAT_DEFAULT_MAX_JSON_BODY_SIZE, at_least))


@contextlib.contextmanager
def _without_osprofiler():
    """Imports that leave osprofiler out, unless this process already loaded it.

    keystoneauth1's session and heatclient's HTTP layer import
    ``osprofiler.web`` when it is installed (openstack-heat brings it), only
    to add the headers of a trace that ``osprofiler.profiler.init`` started;
    importing it (webob, oslo.config, its drivers) was a third of the Heat
    client's import time (0.04-0.05 s of CPU), before every first Heat call.
    heatplan starts no trace; where something in the process did
    (openstackclient's ``--os-profile``) osprofiler is loaded already and is
    used as before.
    """
    if 'osprofiler' in sys.modules:
        yield
        return
    sys.modules['osprofiler'] = None   # "import osprofiler.web" raises ImportError
    try:
        yield
    finally:
        if sys.modules.get('osprofiler', False) is None:
            del sys.modules['osprofiler']


def noauth_session(url, timeout=None, verify=True):
    """A keystoneauth1 session for a Heat without authentication.

    ``url`` is the orchestration endpoint (``http://host:port/v1/<project>``);
    requests carry a fixed, meaningless token.
    """
    with _without_osprofiler():
        from keystoneauth1 import noauth
        from keystoneauth1 import session as ks_session

    auth = noauth.NoAuth(endpoint=url)
    return ks_session.Session(auth=auth, timeout=timeout, verify=verify)


def stack_to_dict(stack):
    """A heatclient ``Stack`` resource (or a dict) as a plain dict."""
    if stack is None:
        return None
    data = dict(stack) if isinstance(stack, dict) else stack.to_dict()
    if 'tags' in data:
        data['tags'] = [t for t in data['tags'] or () if t]
    return data


class HeatAdapter:
    """Stack operations against one Heat orchestration endpoint."""

    def __init__(self, client=None, url=None, local=False, session=None,
                 client_kwargs=None):
        """Use ``client`` (a heatclient v1 ``Client``), or one made when first needed.

        ``session`` and ``client_kwargs`` (heatclient's ``Client('1', **kwargs)``,
        the session among them): the client is made on first use, and the two
        reads every deploy starts with (:meth:`get_stack`, :meth:`list_stacks`)
        go over the session without it, so an unchanged plan is answered
        without importing heatclient (0.04-0.05 s of CPU).
        ``url`` names the endpoint in error messages; ``local`` says it is
        heatplan's local Heat (messages then suggest ``heatplan local up``).
        """
        self._client = client
        self._client_kwargs = client_kwargs
        self._session = session if session is not None else (client_kwargs or {}).get('session')
        self._reader = None
        self.url = url
        self.local = local
        self.read_retry_delays = READ_RETRY_DELAYS
        #: The local Heat's port and data dir when known, for hints.
        self.local_port = self.local_data_dir = None
        #: The Heat's max_json_body_size when known (the local Heat's), for hints.
        self.max_json_body_size = None
        #: ``(Date header, time.monotonic() when it arrived)`` of Heat's last answer.
        self._clock = None
        #: An answer came without a Date header (its URL).
        self._undated = None

    @property
    def client(self):
        """The heatclient v1 ``Client`` (made on first use)."""
        if self._client is None:
            with _without_osprofiler():
                from heatclient import client as heat_client
                from heatclient.v1 import client as _v1  # noqa: F401 (imported by Client('1'))

            self._client = heat_client.Client('1', **self._client_kwargs)
        return self._client

    @client.setter
    def client(self, client):
        self._client = client
        self._reader = None

    def _get_json(self, path, params=None, not_found=False):
        """``GET path`` (relative to the orchestration endpoint) over the session.

        Returns the decoded JSON body, or ``None`` for a 404 when ``not_found``.
        Heat's error answers raise what heatclient raises for them (so
        :meth:`_errors` maps them the same way); redirects are followed as
        heatclient's session client follows them.
        """
        if self._reader is None:
            if self._session is None or self._client_kwargs is None:
                return None   # a client given whole: callers use it
            from keystoneauth1 import adapter as ks_adapter

            kwargs = dict(self._client_kwargs)
            session = kwargs.pop('session')
            if kwargs.get('region_name'):
                kwargs['additional_headers'] = {'X-Region-Name': kwargs['region_name']}
            self._reader = ks_adapter.Adapter(session, user_agent=_USER_AGENT, **kwargs)
        resp = self._reader.get(path, params=params, raise_exc=False,
                                headers={'Accept': 'application/json'})
        status = resp.status_code
        if status == 404 and not_found:
            return _NOT_FOUND
        if status >= 300:
            from heatclient import exc as heat_exc

            raise heat_exc.from_response(resp)
        return resp.json()

    # -- Heat's clock ---------------------------------------------------------

    def watch_clock(self, session):
        """Note the ``Date`` header of every answer that comes through ``session``.

        ``session`` is a keystoneauth1 session; its requests session runs the
        hook on each response.  Ages of revision records are then measured
        on Heat's clock, which stamps them, not on this machine's.
        """
        hooks = getattr(getattr(session, 'session', None), 'hooks', None)
        if isinstance(hooks, dict):
            hooks.setdefault('response', []).append(self._note_date)

    def _note_date(self, response, *args, **kwargs):
        date = getattr(response, 'headers', {}).get('Date')
        if date:
            self._clock = (date, time.monotonic())
        else:
            self._undated = getattr(response, 'url', None) or True

    def server_now(self):
        """Heat's clock now (aware UTC datetime), or ``None`` before any dated answer.

        ``None`` after answers without a ``Date`` header (uWSGI's
        ``http-socket`` sends none) warns once: the caller then measures on
        this machine's clock.
        """
        clock = self._clock
        if clock is None:
            if getattr(self, '_undated', None):
                _warn_undated(self._where())
            return None
        try:
            when = email.utils.parsedate_to_datetime(clock[0])
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return when + datetime.timedelta(seconds=time.monotonic() - clock[1])

    # -- construction -----------------------------------------------------

    @classmethod
    def from_url(cls, url, timeout=600, verify=True, local=False):
        """Adapter for a Heat without authentication at ``url``.

        ``url`` is the full orchestration endpoint, e.g.
        ``http://127.0.0.1:8006/v1/admin``.
        """
        url = url.rstrip('/')
        if not url.startswith(('http://', 'https://')):
            raise errors.UsageError(
                'Heat URL %r is not an http(s) URL' % url,
                hint='e.g. --heat-url http://127.0.0.1:8006/v1/admin')
        session = noauth_session(url, timeout=timeout, verify=verify)
        return cls.from_session(session, endpoint_override=url, local=local)

    @classmethod
    def from_session(cls, session, endpoint_override=None, interface=None,
                     region_name=None, service_type='orchestration', local=False):
        """Adapter over a keystoneauth1 ``session``.

        Without ``endpoint_override`` the endpoint comes from the session's
        service catalog (``service_type``, ``interface``, ``region_name``).
        """
        kwargs = {'session': session, 'service_type': service_type}
        if endpoint_override:
            kwargs['endpoint_override'] = endpoint_override
        if interface:
            kwargs['interface'] = interface
        if region_name:
            kwargs['region_name'] = region_name
        adapter = cls(url=endpoint_override, local=local, session=session,
                      client_kwargs=kwargs)
        adapter.watch_clock(session)
        return adapter

    # -- error mapping ----------------------------------------------------

    def _where(self):
        if self.url:
            return self.url
        try:
            return self.client.http_client.get_endpoint() or 'Heat'
        except Exception:
            return 'Heat (from the service catalog)'

    @contextlib.contextmanager
    def _errors(self, doing, fields=None):
        """Map heatclient/keystoneauth exceptions raised while ``doing``.

        ``fields``: the request sent, if any (its size goes into a 413's hint).
        """
        try:
            yield
        except Exception as exc:
            mapped = self._mapped(exc, doing, fields)
            if mapped is None:
                raise
            raise mapped

    def _mapped(self, exc, doing, fields):
        """heatplan's exception for a heatclient/keystoneauth one, else ``None``."""
        from heatclient import exc as heat_exc
        from keystoneauth1 import exceptions as ks_exc

        try:
            raise exc
        except heat_exc.HTTPException as exc:
            return self._rejected(exc, doing, fields)
        except (ks_exc.ConnectFailure, ks_exc.ConnectionError) as exc:
            return self._unreachable(exc, doing)
        except ks_exc.Unauthorized as exc:
            keystone = _identity_url(self._session)
            if keystone:
                return errors.ConnectionFailed(
                    'authentication failed: Keystone at %s refused the credentials '
                    'while %s: %s'
                    % (keystone, doing, _short(exc)),
                    hint='check the user, password/token, project and domains of '
                         '--os-cloud\'s cloud (clouds.yaml), the --os-* options or '
                         'OS_* variables')
            return errors.ConnectionFailed(
                'authentication failed for Heat at %s: %s' % (self._where(), _short(exc)),
                hint='check your credentials (--os-cloud, OS_* variables)')
        except (ks_exc.EndpointNotFound, ks_exc.EmptyCatalog) as exc:
            return errors.ConnectionFailed(
                'no orchestration (Heat) endpoint in the service catalog: %s'
                % _short(exc),
                hint='check --os-region-name/--os-interface, or pass --heat-url')
        except ks_exc.MissingAuthPlugin as exc:
            return errors.ConnectionFailed(
                'no OpenStack credentials: %s' % _short(exc),
                hint='pass --os-cloud or set OS_* variables, or use --local / --heat-url')
        except ks_exc.ClientException as exc:
            return errors.ConnectionFailed(
                'talking to Heat at %s failed while %s: %s'
                % (self._where(), doing, _short(exc)))
        except heat_exc.BaseException as exc:
            return errors.ConnectionFailed(
                'talking to Heat at %s failed while %s: %s'
                % (self._where(), doing, exc.message or exc))
        except BaseException:
            return None

    def _unreachable(self, exc, doing):
        """The error for a transport failure: which component, and why, whole.

        Heat is asked only once a token is in hand: a failure while the
        session has none (and authenticates with Keystone) is Keystone's.
        """
        keystone = _identity_url(self._session, unauthenticated=True, failure=exc)
        cause = _transport_cause(exc)
        if keystone:
            return errors.ConnectionFailed(
                'cannot reach Keystone (identity) at %s while %s: %s'
                % (keystone, doing, cause),
                hint='check the cloud\'s auth_url (clouds.yaml, --os-auth-url or '
                     'OS_AUTH_URL) and that Keystone runs there')
        if self.local or self._is_loopback():
            hint = self.local_hint()
        else:
            hint = 'check the Heat endpoint and your network'
        return errors.ConnectionFailed(
            'cannot reach Heat at %s while %s: %s' % (self._where(), doing, cause),
            hint=hint)

    def local_hint(self):
        """How to start the local Heat this adapter talks to (its port and data dir).

        The command layer sets ``local_port`` and ``local_data_dir`` (it knows
        the local Heat's defaults; this layer does not import it).
        """
        port = getattr(self, 'local_port', None) or _url_port(self.url)
        data_dir = getattr(self, 'local_data_dir', None)
        command = 'heatplan local up%s%s' % (' --port %d' % port if port else '',
                                             ' --data-dir %s' % data_dir if data_dir else '')
        if self.local:
            return 'start the local Heat with "%s"' % command
        return ('if this is heatplan\'s local Heat, start it with "%s" (its data dir '
                'if not that one), or use --local' % command)

    def _is_loopback(self):
        url = self.url or ''
        return '//127.0.0.1' in url or '//localhost' in url or '//[::1]' in url

    def _rejected(self, exc, doing, fields=None):
        code = getattr(exc, 'code', None)
        error = getattr(exc, 'error', None) or {}
        detail = error.get('error', {}) if isinstance(error, dict) else {}
        detail = detail if isinstance(detail, dict) else {}
        message = detail.get('message')
        if isinstance(message, bytes):  # heatclient keeps a non-JSON body as bytes
            message = message.decode('utf-8', 'replace')
        if isinstance(message, str) and message.lstrip().startswith('<'):
            message = re.sub(r'<[^>]*>', ' ', message)  # a proxy's HTML page
        if message:
            # Heat's own words, whole: a cut message hides why (issue 11)
            message = ' '.join(str(message).split())
        if not message:
            # not Heat's JSON (a proxy's or load balancer's page): keep it short
            try:
                message = str(exc)
            except Exception:
                message = ''
            if isinstance(error, bytes):
                message = error.decode('utf-8', 'replace')
            message = ' '.join(message.split())[:300] or 'HTTP %s' % code
        kind = detail.get('type')
        hint = None
        lowered = message.lower()
        if code == 413 or 'json body size' in lowered or 'request entity too large' in lowered:
            hint = 'the request is larger than Heat accepts. ' + body_limit_hint(
                local=self.local, limit=self.max_json_body_size, size=_body_size(fields))
        elif 'template size' in lowered or 'max_template_size' in lowered:
            hint = ('a template or file is larger than Heat\'s max_template_size '
                    '(heatplan local up --max-template-size N)')
        elif code == 409 and 'already exists' in lowered:
            hint = 'stack names are unique per project; pick another name or update it'
        text = 'Heat rejected %s (HTTP %s%s): %s' % (
            doing, code, ', %s' % kind if kind else '', message.strip())
        rejected = errors.HeatRejected(text, hint=hint)
        rejected.status_code = code
        rejected.heat_type = kind
        rejected.heat_message = message
        return rejected

    # -- helpers ----------------------------------------------------------

    @staticmethod
    def _fields(body, tags=None, timeout_mins=None, disable_rollback=None):
        unknown = set(body) - set(BODY_KEYS) - {'environment'}
        if unknown:
            raise ValueError('unknown plan body key(s): %s' % ', '.join(sorted(unknown)))
        if 'template' not in body:
            raise ValueError('plan body has no template')
        fields = {
            'template': body['template'],
            'files': dict(body.get('files') or {}),
            'environment_files': list(body.get('environment_files') or []),
            'parameters': dict(body.get('parameters') or {}),
        }
        if body.get('environment'):
            fields['environment'] = body['environment']
        if tags:
            # Omitted when empty: a PUT without tags clears them (tags='' would
            # store one empty tag).
            fields['tags'] = ','.join([tags] if isinstance(tags, str) else tags)
        if timeout_mins is not None:
            fields['timeout_mins'] = int(timeout_mins)
        if disable_rollback is not None:
            fields['disable_rollback'] = bool(disable_rollback)
        return fields

    # -- stack operations -------------------------------------------------

    def create_stack(self, name, body, tags=None, timeout_mins=None, disable_rollback=True):
        """Create stack ``name`` from a plan body; return ``{'id', 'links'}``.

        Returns as soon as Heat accepted the request (the stack is then
        ``CREATE_IN_PROGRESS``); use :meth:`wait_for_stack`.
        """
        fields = self._fields(body, tags, timeout_mins, disable_rollback)
        fields['stack_name'] = name
        with self._errors('creating stack %s' % name, fields):
            result = self.client.stacks.create(**fields)
        return (result or {}).get('stack', result)

    def update_stack(self, stack_id, body, tags=None, timeout_mins=None,
                     disable_rollback=True):
        """Replace the stack's whole plan (one PUT; tags too: None clears them)."""
        fields = self._fields(body, tags, timeout_mins, disable_rollback)
        with self._errors('updating stack %s' % stack_id, fields):
            self.client.stacks.update(stack_id, **fields)

    def update_tags(self, stack_id, tags):
        """Set only the stack's tags (PATCH with ``existing``; no plan change)."""
        with self._errors('tagging stack %s' % stack_id):
            self.client.stacks.update(stack_id, existing=True, tags=','.join(tags))

    def patch_files(self, stack_id, files):
        """Add ``files`` to the stack's files map (PATCH with ``existing``).

        Heat merges them into the stored map and keeps the template,
        parameters and tags: only what is sent is new.
        """
        with self._errors('updating the files of stack %s' % stack_id,
                          {'files': files}):
            self.client.stacks.update(stack_id, existing=True, files=dict(files))

    @idempotent_read
    def get_stack(self, name_or_id, resolve_outputs=False):
        """The stack as a dict, or ``None`` if Heat has no such stack."""
        with self._errors('reading stack %s' % name_or_id):
            body = self._get_json('/stacks/%s' % name_or_id, not_found=True, params=None
                                  if resolve_outputs else {'resolve_outputs': False})
            if body is _NOT_FOUND:
                return None
            if body is not None:
                return stack_to_dict(body.get('stack'))
            from heatclient import exc as heat_exc

            try:
                stack = self.client.stacks.get(name_or_id, resolve_outputs=resolve_outputs)
            except heat_exc.HTTPNotFound:
                return None
        return stack_to_dict(stack)

    def wait_for_stack(self, name_or_id, timeout=3600, poll=2.0, callback=None):
        """Poll until the stack's operation ends; return its final status.

        Returns e.g. ``'CREATE_COMPLETE'`` or ``'UPDATE_FAILED'``; a stack
        that disappeared (deleted) gives ``'DELETE_COMPLETE'``.  Raises
        :class:`~heatplan.errors.DeployTimedOut` after ``timeout`` seconds.
        ``callback(stack_dict)`` is called after each poll.
        """
        from heatplan.heat import waiting

        def too_long(status):
            return errors.DeployTimedOut(
                'stack %s still %s after %ss' % (name_or_id, status, timeout),
                hint='the operation goes on in Heat; check it later')

        return waiting.until_over(lambda: self.get_stack(name_or_id), timeout, too_long,
                                  poll=poll, on_read=callback)

    def delete_stack(self, name_or_id, wait=False, timeout=3600, poll=2.0):
        """Delete a stack; with ``wait`` return the final status."""
        with self._errors('deleting stack %s' % name_or_id):
            self.client.stacks.delete(name_or_id)
        if wait:
            return self.wait_for_stack(name_or_id, timeout=timeout, poll=poll)
        return None

    @idempotent_read
    def list_stacks(self, tags=None, show_hidden=False, **filters):
        """Stacks (dicts) of the project; ``tags`` must all be present."""
        kwargs = {}
        if tags:
            kwargs['tags'] = ','.join(tags) if not isinstance(tags, str) else tags
        if show_hidden:
            kwargs['show_hidden'] = True
        with self._errors('listing stacks'):
            # one page, as heatclient asks for it without a limit
            body = self._get_json('/stacks', params=dict(filters, **kwargs))
            if body is not None:
                return [stack_to_dict(s) for s in body.get('stacks') or ()]
            if filters:
                kwargs['filters'] = filters
            return [stack_to_dict(s) for s in self.client.stacks.list(**kwargs)]

    def validate(self, body, show_nested=False):
        """Validate a plan body with Heat; return Heat's answer (parameters...)."""
        fields = self._fields(body)
        if show_nested:
            fields['show_nested'] = True
        with self._errors('validating the plan', fields):
            return self.client.stacks.validate(**fields)

    def preview_create(self, name, body, timeout_mins=None, disable_rollback=True):
        """What a create would make (``POST /stacks/preview``)."""
        fields = self._fields(body, None, timeout_mins, disable_rollback)
        fields['stack_name'] = name
        with self._errors('previewing stack %s' % name, fields):
            return stack_to_dict(self.client.stacks.preview(**fields))

    def preview_update(self, stack_id, body, tags=None, timeout_mins=None,
                       disable_rollback=True, show_nested=False):
        """Resource changes an update would make (``PUT .../preview``)."""
        fields = self._fields(body, tags, timeout_mins, disable_rollback)
        if show_nested:
            fields['show_nested'] = True
        with self._errors('previewing the update of stack %s' % stack_id, fields):
            result = self.client.stacks.preview_update(stack_id, **fields)
        return (result or {}).get('resource_changes', result)

    @idempotent_read
    def get_files(self, stack):
        """The stack's stored files map (byte-identical to what was sent)."""
        with self._errors('reading the files of stack %s' % stack):
            return self.client.stacks.files(stack)

    @idempotent_read
    def get_template(self, stack):
        """The stack's stored template (parsed)."""
        with self._errors('reading the template of stack %s' % stack):
            return self.client.stacks.template(stack)

    @idempotent_read
    def get_environment(self, stack):
        """The stack's merged environment (hidden parameters masked)."""
        with self._errors('reading the environment of stack %s' % stack):
            return self.client.stacks.environment(stack)

    @idempotent_read
    def get_outputs(self, stack):
        """The stack's outputs as ``{key: value}``."""
        with self._errors('reading the outputs of stack %s' % stack):
            outputs = self.client.stacks.output_list(stack).get('outputs', [])
            result = {}
            for item in outputs:
                key = item['output_key']
                shown = self.client.stacks.output_show(stack, key).get('output', {})
                result[key] = shown.get('output_value')
        return result

    @idempotent_read
    def list_events(self, stack, nested_depth=None, limit=None, marker=None):
        """Events of a stack (dicts), oldest first; with ``marker`` only those after it.

        ``marker``: the id of an event already seen; Heat then lists, oldest
        first, the events after it in its (creation time, id) order.
        """
        kwargs = {}
        if nested_depth:
            kwargs['nested_depth'] = nested_depth
        if limit:
            kwargs['limit'] = limit
        if marker:
            kwargs.update(marker=marker, sort_dir='asc')
        with self._errors('reading the events of stack %s' % stack):
            events = [_with_stack_name(e.to_dict())
                      for e in self.client.events.list(stack, **kwargs)]
        if not marker:
            # Heat lists newest first; callers want the order things happened in.
            events.reverse()
        events.sort(key=lambda e: e.get('event_time') or '')
        return events

    @idempotent_read
    def list_resources(self, stack, nested_depth=None):
        """Resources of a stack (dicts), nested ones too with ``nested_depth``."""
        kwargs = {}
        if nested_depth:
            kwargs['nested_depth'] = nested_depth
        with self._errors('reading the resources of stack %s' % stack):
            return [_with_stack_name(r.to_dict())
                    for r in self.client.resources.list(stack, **kwargs)]


def _body_size(fields):
    """Bytes of the JSON body heatclient sends for ``fields`` (None if unknown)."""
    if not fields:
        return None
    try:
        from oslo_serialization import jsonutils

        return len(jsonutils.dumps(fields).encode('utf-8'))
    except Exception:  # only for a hint: never mask Heat's own error
        return None


#: Set once the missing-Date warning was given (once per process).
_UNDATED_WARNED = []


def _warn_undated(where):
    if _UNDATED_WARNED:
        return
    _UNDATED_WARNED.append(where)
    LOG.warning(
        'Heat at %s answers without a Date header (uWSGI\'s http-socket sends none): '
        'the age of a pending revision (its grace period) is measured on '
        'this machine\'s clock, not Heat\'s; if this clock runs ahead of Heat\'s, '
        '"heatplan recover" may settle a deploy still sending its plan. Keep the '
        'clocks in sync (NTP), or serve heat-api behind a proxy that adds Date '
        '(Apache, nginx, haproxy do)', where)


def _identity_url(session, unauthenticated=False, failure=None):
    """Keystone's URL if the keystoneauth1 ``session`` authenticates with Keystone.

    ``unauthenticated``: only if it has no token yet (the failure then
    happened while getting one) or the ``failure`` names Keystone's URL
    (a token renewal).
    """
    auth = getattr(session, 'auth', None)
    url = getattr(auth, 'auth_url', None)
    if not url:
        return None
    if unauthenticated and getattr(auth, 'auth_ref', None) is not None and \
            url.rstrip('/') not in str(failure or ''):
        return None
    return url


def _url_port(url):
    import urllib.parse

    try:
        return urllib.parse.urlsplit(url or '').port
    except ValueError:
        return None


_ERRNO = re.compile(r'\[Errno -?\d+\][^\'"()\]]*')


def _transport_cause(exc):
    """What went wrong on the wire, whole: the errno text (Connection refused,
    Name or service not known, ...) or a timeout, not urllib3's wrapping."""
    text = ' '.join(str(exc).split()) or exc.__class__.__name__
    found = [m.group(0).strip() for m in _ERRNO.finditer(text)]
    if found:
        return found[-1]
    for needle in ('timed out', 'Read timed out', 'Connection aborted',
                   'Connection reset', 'RemoteDisconnected', 'BadStatusLine'):
        if needle.lower() in text.lower():
            tail = text[text.lower().rindex(needle.lower()):]
            return tail.rstrip(")'\" ")[:500]
    return text[:1000]


def _short(exc):
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:300]


def _with_stack_name(item):
    """Add ``stack_name``: the (nested) stack an event or resource belongs to."""
    for link in item.get('links') or ():
        if link.get('rel') == 'stack':
            parts = link.get('href', '').rstrip('/').split('/')
            if len(parts) >= 2 and 'stacks' in parts:
                item.setdefault('stack_name', parts[parts.index('stacks') + 1])
    return item
