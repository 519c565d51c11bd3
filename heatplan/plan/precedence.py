"""Which value of a parameter Heat uses: the request's, or an environment file's.

Heat merges the body's top-level ``parameters`` first and then the
``parameters:`` section of each environment file, in order: a value set in an
environment file's ``parameters:`` wins over ``--parameter`` and the
manifest's ``parameters`` (heat/common/environment_util.py,
``merge_environments``).  Only a ``merge``/``deep_merge`` strategy
(``parameter_merge_strategies``) combines the two instead, and a ``null``
value is ignored.  ``parameter_defaults`` never win over a given value.

Pure: works on an assembled request body, no network.
"""

import yaml

_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)

OVERWRITE = 'overwrite'


def _environment(text):
    """The parsed YAML mapping (an environment file, a template), or ``{}``."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def shadowed(body):
    """``{name: environment file key}`` of body parameters an environment overrides.

    ``body`` is the request body (``parameters``, ``environment_files`` and
    ``files``).  The key named is the last environment file that sets the
    name, whose value Heat uses.
    """
    given = body.get('parameters') or {}
    files = body.get('files') or {}
    out = {}
    if not given:
        return out
    for key in body.get('environment_files') or ():
        env = _environment(files.get(key, ''))
        section = env.get('parameters')
        if not isinstance(section, dict):
            continue
        strategies = env.get('parameter_merge_strategies')
        strategies = strategies if isinstance(strategies, dict) else {}
        default = strategies.get('default', OVERWRITE)
        for name, value in section.items():
            if name in given and value is not None and \
                    strategies.get(name, default) == OVERWRITE:
                out[name] = key
    return out


def environment_values(body):
    """Names the environment files give a value (``parameters`` or ``parameter_defaults``)."""
    files = body.get('files') or {}
    names = set()
    for key in body.get('environment_files') or ():
        env = _environment(files.get(key, ''))
        for section in ('parameters', 'parameter_defaults'):
            values = env.get(section)
            if isinstance(values, dict):
                names.update(k for k, v in values.items() if v is not None)
    return names


def declared(body):
    """Parameter names the root template declares; ``None`` if it cannot be read."""
    data = body.get('template')
    if isinstance(data, str):
        try:
            data = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            return None
    if not isinstance(data, dict):
        return None
    params = data.get('parameters')
    return set(params) if isinstance(params, dict) else set()
