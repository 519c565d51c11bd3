"""Lint: what Heat would reject or silently get wrong, with file:line:col.

Works on an :class:`heatplan.assemble.Analysis` (the composed YAML nodes of
every plan file); no network.  Reference problems (missing targets, cycles,
``.yml`` types, files outside the root, YAML syntax, duplicate keys, alias
bombs) are found while analysing; this module adds the checks that need the
whole plan.
"""

from heatplan import assemble
from heatplan import diagnostics as diag
from heatplan import yamlnodes as yn

KiB = 1024
MiB = 1024 * KiB
#: Heat's default max_template_size, applied to the template and every file.
HEAT_MAX_FILE_BYTES = 512 * KiB
#: Heat's default max_json_body_size.
DEFAULT_MAX_BODY_BYTES = 1 * MiB

HOT_VERSIONS = frozenset((
    '2013-05-23', '2014-10-16', '2015-04-30', '2015-10-15', '2016-04-08',
    '2016-10-14', 'newton', '2017-02-24', 'ocata', '2017-09-01', 'pike',
    '2018-03-02', 'queens', '2018-08-31', 'rocky', '2021-04-16', 'wallaby',
))
HOT_SECTIONS = frozenset((
    'heat_template_version', 'description', 'parameter_groups', 'parameters',
    'resources', 'outputs', 'conditions',
))
CFN_SECTIONS = frozenset((
    'AWSTemplateFormatVersion', 'HeatTemplateFormatVersion', 'Description',
    'Mappings', 'Parameters', 'Resources', 'Outputs', 'Conditions', 'Metadata',
))
RESOURCE_KEYS = frozenset((
    'type', 'properties', 'metadata', 'depends_on', 'deletion_policy',
    'update_policy', 'condition', 'external_id',
))
ENV_SECTIONS = frozenset((
    'parameters', 'parameter_defaults', 'encrypted_param_names', 'event_sinks',
    'resource_registry', 'parameter_merge_strategies',
))
PSEUDO_PARAMS = frozenset(('OS::stack_name', 'OS::stack_id', 'OS::project_id'))


def _first_scalar(node):
    if isinstance(node, yn.SequenceNode) and node.value:
        node = node.value[0]
    return node if isinstance(node, yn.ScalarNode) else None


def _check_template(pf, add):
    key = pf.key
    section_names = {name for name, _k in pf.sections}
    if 'AWSTemplateFormatVersion' in section_names or 'HeatTemplateFormatVersion' in \
            section_names:
        for name, knode in pf.sections:
            if name not in CFN_SECTIONS:
                add(diag.at_node(key, knode, diag.ERROR,
                                 'unknown template section %r' % name, 'section'))
        return
    version_node = yn.get(pf.node, 'heat_template_version')
    if version_node is None:
        add(diag.Diagnostic(key, 1, 1, diag.ERROR,
                            'not a Heat template: no heat_template_version', 'version'))
    elif pf.version not in HOT_VERSIONS:
        add(diag.at_node(key, version_node, diag.ERROR,
                         'unknown heat_template_version %r (known: %s)'
                         % (pf.version, ', '.join(sorted(HOT_VERSIONS))), 'version'))
    for name, knode in pf.sections:
        if name not in HOT_SECTIONS:
            add(diag.at_node(key, knode, diag.ERROR,
                             'unknown template section %r (Heat rejects it; known: %s)'
                             % (name, ', '.join(sorted(HOT_SECTIONS))), 'section'))
    for rname, rdef in pf.resources.items():
        if not isinstance(rdef, yn.MappingNode):
            add(diag.at_node(key, rdef, diag.ERROR,
                             'resource %r must be a mapping' % rname, 'resource'))
            continue
        if yn.get(rdef, 'type') is None:
            add(diag.at_node(key, rdef, diag.ERROR,
                             'resource %r has no type' % rname, 'resource'))
        for kname, knode, _v in yn.items(rdef):
            if kname not in RESOURCE_KEYS:
                add(diag.at_node(key, knode, diag.ERROR,
                                 '%r is not a valid keyword in resource %r' % (kname, rname),
                                 'resource'))
    for fn, node in pf.uses:
        if fn == 'get_param':
            target = _first_scalar(node)
            if target is None or not yn.is_str(target):
                continue
            name = target.value
            if name not in pf.params and name not in PSEUDO_PARAMS:
                add(diag.at_node(key, target, diag.ERROR,
                                 'get_param %r: no such parameter in this template' % name,
                                 'undeclared-param'))
            continue
        if fn == 'depends_on' and isinstance(node, yn.SequenceNode):
            targets = [n for n in node.value if yn.is_str(n)]
        else:
            target = _first_scalar(node)
            targets = [target] if target is not None and yn.is_str(target) else []
        for target in targets:
            if target.value not in pf.resources:
                add(diag.at_node(key, target, diag.ERROR,
                                 '%s %r: no such resource in this template' % (fn, target.value),
                                 'undefined-resource'))


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
        if pf.kind == 'template' and pf.node is not None:
            declared_anywhere.update(pf.params)
    for key in sorted(an.files):
        pf = an.files[key]
        if len(pf.raw) > HEAT_MAX_FILE_BYTES:
            add(diag.Diagnostic(key, 0, 0, diag.ERROR,
                                'file is %d bytes, over Heat\'s default max_template_size '
                                '(%d bytes) applied to every file'
                                % (len(pf.raw), HEAT_MAX_FILE_BYTES), 'file-size'))
        if pf.node is None:
            continue
        if pf.kind == 'template':
            _check_template(pf, add)
    for position, env in enumerate(d.environments):
        pf = an.files.get(env)
        if pf is not None and pf.node is not None:
            _check_environment(pf, root if root is not None and root.node is not None
                               else None, declared_anywhere, add, position)
    if root is not None and root.node is not None:
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
