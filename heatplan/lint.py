"""Lint: what Heat would reject or silently get wrong, with file:line:col.

Works on an :class:`heatplan.assemble.Analysis` (the facts kept of every
plan file); no network.  Reference problems (missing targets, cycles,
``.yml`` types, files outside the root, YAML syntax, duplicate keys, alias
bombs) and per-template checks (:mod:`heatplan.templatecheck`) are found
while analysing, when each file's node graph exists; this module reports
the latter and adds the checks that need the whole plan.
"""

from heatplan import assemble
from heatplan import diagnostics as diag
from heatplan import templatecheck

KiB = 1024
MiB = 1024 * KiB
#: Heat's default max_template_size, applied to the template and every file.
HEAT_MAX_FILE_BYTES = 512 * KiB
#: Heat's default max_json_body_size.
DEFAULT_MAX_BODY_BYTES = 1 * MiB

HOT_VERSIONS = templatecheck.HOT_VERSIONS
HOT_SECTIONS = templatecheck.HOT_SECTIONS
CFN_SECTIONS = templatecheck.CFN_SECTIONS
RESOURCE_KEYS = templatecheck.RESOURCE_KEYS
PSEUDO_PARAMS = templatecheck.PSEUDO_PARAMS
ENV_SECTIONS = frozenset((
    'parameters', 'parameter_defaults', 'encrypted_param_names', 'event_sinks',
    'resource_registry', 'parameter_merge_strategies',
))


def _check_environment(pf, root, declared_anywhere, add, position):
    key = pf.key
    for name, knode in pf.sections:
        if name not in ENV_SECTIONS:
            add(diag.at_node(key, knode, diag.ERROR,
                             'unknown environment section %r (Heat rejects it; known: %s)'
                             % (name, ', '.join(sorted(ENV_SECTIONS))), 'env-section'))
    for name, knode in pf.env_params:
        if root is not None and name not in root.params:
            add(diag.at_node(key, knode, diag.ERROR,
                             'parameters: %r is not declared by the root template %s '
                             '(Heat rejects it; use parameter_defaults for nested '
                             'templates)' % (name, root.key), 'env-param'))
    for name, knode in pf.env_defaults:
        if name not in declared_anywhere:
            sev = diag.WARNING
            note = ''
            if position > 0:
                note = '; from the second environment on Heat silently drops it'
            add(diag.at_node(key, knode, sev,
                             'parameter_defaults: %r is not declared by any template in '
                             'the plan%s' % (name, note), 'unused-default'))


@assemble.without_gc
def lint(an):
    """Add whole-plan diagnostics to ``an``; return the sorted list of all."""
    found = []
    add = found.append
    d = an.definition
    root = an.files.get(d.template)
    declared_anywhere = set()
    for pf in an.files.values():
        if pf.kind == 'template' and pf.parsed:
            declared_anywhere.update(pf.params)
    for key in sorted(an.files):
        pf = an.files[key]
        if pf.size > HEAT_MAX_FILE_BYTES:
            add(diag.Diagnostic(key, 0, 0, diag.ERROR,
                                'file is %d bytes, over Heat\'s default max_template_size '
                                '(%d bytes) applied to every file'
                                % (pf.size, HEAT_MAX_FILE_BYTES), 'file-size'))
        if pf.parsed and pf.kind == 'template':
            found.extend(pf.checks)
    for position, env in enumerate(d.environments):
        pf = an.files.get(env)
        if pf is not None and pf.parsed:
            _check_environment(pf, root if root is not None and root.parsed
                               else None, declared_anywhere, add, position)
    if root is not None and root.parsed:
        for name in list(d.parameters) + list(d.parameter_files):
            if name not in root.params:
                add(diag.Diagnostic(root.key, 0, 0, diag.ERROR,
                                    'parameter %r is given but the root template does not '
                                    'declare it (Heat rejects it)' % name, 'param'))
    an.diagnostics.extend(found)
    an.diagnostics.sort(key=diag.Diagnostic.sort_key)
    return an.diagnostics


@assemble.without_gc
def check_body(plan, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
    """Diagnostics about the assembled request (its size)."""
    size = plan.body_size
    if max_body_bytes and size > max_body_bytes:
        return [diag.Diagnostic(
            plan.definition.template, 0, 0, diag.ERROR,
            'the request body is %d bytes, over the limit of %d bytes (Heat\'s '
            'max_json_body_size); raise it on the server and pass --max-body-bytes'
            % (size, max_body_bytes), 'body-size')]
    return []
