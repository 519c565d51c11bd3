"""Whole-plan rules: environments, parameters, sizes (HP4xx, HP6xx).

Works on an :class:`heatplan.plan.assemble.Analysis` (the facts kept of every
plan file); no network.  Per-file rules ran while each file's node graph
existed (:mod:`heatplan.lint.template`, :mod:`heatplan.lint.yaml`); this
module reports those and adds the rules that need the whole plan.

Parameter rules follow Heat's own merge (heat.common.environment_util.
merge_environments): the body's ``parameters`` come first; each
environment's non-empty ``parameters`` section then merges in.  While the
merged parameters are still empty a section is taken whole; once they are
not, keys no template in the files map declares are dropped silently.
What survives must be declared by the root template, or Heat rejects the
stack.
"""

from heatplan.lint import registry as reg

KiB = 1024
MiB = 1024 * KiB
#: Heat's default max_template_size, applied to the template and every file.
HEAT_MAX_FILE_BYTES = 512 * KiB
#: Heat's default max_json_body_size.
DEFAULT_MAX_BODY_BYTES = 1 * MiB

ENV_SECTIONS = frozenset((
    'parameters', 'parameter_defaults', 'encrypted_param_names', 'event_sinks',
    'resource_registry', 'parameter_merge_strategies',
))


def _check_sections(pf, add):
    for name, knode in pf.sections:
        if name not in ENV_SECTIONS:
            add(reg.at_node('env-section', pf.key, knode,
                            'unknown environment section %r: Heat rejects the file '
                            '("environment has wrong section"); known: %s'
                            % (name, ', '.join(sorted(ENV_SECTIONS)))))
    for name, knode in pf.empty_sections:
        add(reg.at_node('env-section', pf.key, knode,
                        'environment section %r is empty: Heat rejects the file '
                        '("environment has empty section"); give it a value ({}) '
                        'or remove it' % name))


def _check_parameters(an, root, declared_anywhere, body_params, add):
    """Follow Heat's merge of ``parameters:`` sections over the body's."""
    merged = set(body_params)
    for env in an.definition.environments:
        pf = an.files.get(env)
        if pf is None or not pf.parsed or not pf.env_params:
            continue
        taken_whole = not merged
        for name, knode, is_null in pf.env_params:
            if name in body_params and not is_null:
                add(reg.at_node(
                    'shadowed-param', pf.key, knode,
                    'parameter %r is given by %s but this environment\'s parameters: '
                    'sets it too, and Heat uses the environment\'s value; remove one '
                    'of them (or move this one to parameter_defaults, which the '
                    'given value overrides)' % (name, body_params[name])))
            if not taken_whole and (is_null or name not in declared_anywhere):
                if name not in declared_anywhere:
                    add(reg.at_node(
                        'dropped-param', pf.key, knode,
                        'parameters: %r is not declared by any template in the plan; '
                        'Heat silently drops it' % name))
                continue
            merged.add(name)
            if root is not None and name not in root.params:
                where = ('a nested template declares it; pass it with '
                         'parameter_defaults' if name in declared_anywhere
                         else 'no template declares it')
                add(reg.at_node(
                    'env-param', pf.key, knode,
                    'parameters: %r is not declared by the root template %s and Heat '
                    'keeps it, so Heat rejects the stack (%s)' % (name, root.key, where)))


def lint(an):
    """Add whole-plan diagnostics to ``an``; return the sorted list of all."""
    found = []
    add = found.append
    d = an.definition
    root = an.files.get(d.template)
    if root is not None and not root.parsed:
        root = None
    declared_anywhere = set()
    for pf in an.files.values():
        if pf.kind == 'template' and pf.parsed and pf.version is not None:
            declared_anywhere.update(pf.params)
    for key in sorted(an.files):
        pf = an.files[key]
        if pf.size > HEAT_MAX_FILE_BYTES:
            add(reg.make('file-size', key, 0, 0,
                         'file is %d bytes, over Heat\'s default max_template_size '
                         '(%d bytes) applied to every file; if the cloud\'s '
                         'max_template_size is raised, accept it with --ignore HP601'
                         % (pf.size, HEAT_MAX_FILE_BYTES)))
        if pf.parsed and pf.kind == 'template':
            found.extend(pf.checks)
    body_params = {}
    for name in d.parameters:
        body_params[name] = 'the command line or %s' % d.origin.split('+')[-1] \
            if d.origin != 'flags' else 'the command line'
    for name, key in d.parameter_files.items():
        body_params[name] = '--parameter-file/parameter_files (%s)' % key
    for position, env in enumerate(d.environments):
        pf = an.files.get(env)
        if pf is None or not pf.parsed:
            continue
        _check_sections(pf, add)
        for name, knode in pf.env_defaults:
            if name not in declared_anywhere:
                note = ''
                if position > 0:
                    note = '; from the second environment on Heat silently drops it'
                add(reg.at_node('unused-default', pf.key, knode,
                                'parameter_defaults: %r is not declared by any template '
                                'in the plan%s' % (name, note)))
    _check_parameters(an, root, declared_anywhere, body_params, add)
    if root is not None:
        for name in list(d.parameters) + list(d.parameter_files):
            if name not in root.params:
                add(reg.make('param', root.key, 0, 0,
                             'parameter %r is given but the root template does not '
                             'declare it (Heat rejects it)' % name))
    for member, reason in sorted(getattr(an.source, 'skipped', {}).items()):
        add(reg.make('skipped-member', member, 0, 0,
                     'archive member skipped, no plan file reads it: %s' % reason))
    an.diagnostics.extend(found)
    an.diagnostics.sort(key=lambda x: x.sort_key())
    return an.diagnostics


def check_body(plan, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
    """Diagnostics about the assembled request (its size)."""
    size = plan.body_size
    if max_body_bytes and size > max_body_bytes:
        return [reg.make(
            'body-size', plan.definition.template, 0, 0,
            'the request body is %d bytes, over the limit of %d bytes (Heat\'s '
            'max_json_body_size, 1 MiB by default); if the cloud allows more '
            '([DEFAULT] max_json_body_size in heat.conf), pass --max-body-bytes N'
            % (size, max_body_bytes))]
    return []
