"""Per-file template checks, run on the YAML nodes while a file is scanned.

Assembly keeps only compact facts of each file (its references, parameter
and resource names, positions), never the whole node graph: these checks
need the graph, so they run while it exists and their diagnostics are kept
on the file for :func:`heatplan.lint.lint` to report.  Pure: no network.
"""

from heatplan import diagnostics as diag
from heatplan import yamlnodes as yn

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
PSEUDO_PARAMS = frozenset(('OS::stack_name', 'OS::stack_id', 'OS::project_id'))


def _first_scalar(node):
    if isinstance(node, yn.SequenceNode) and node.value:
        node = node.value[0]
    return node if isinstance(node, yn.ScalarNode) else None


def check_template(key, root, sections, version, params, resources, uses, add):
    """Template-level problems Heat would reject, as diagnostics via ``add``.

    ``root`` is the template's mapping node, ``sections`` its ``(name, key
    node)`` pairs, ``params`` the declared parameter names, ``resources``
    ``{name: definition node}`` and ``uses`` the ``(function, argument
    node)`` pairs of get_param/get_resource/get_attr/depends_on.
    """
    section_names = {name for name, _k in sections}
    if 'AWSTemplateFormatVersion' in section_names or 'HeatTemplateFormatVersion' in \
            section_names:
        for name, knode in sections:
            if name not in CFN_SECTIONS:
                add(diag.at_node(key, knode, diag.ERROR,
                                 'unknown template section %r' % name, 'section'))
        return
    version_node = yn.get(root, 'heat_template_version')
    if version_node is None:
        add(diag.Diagnostic(key, 1, 1, diag.ERROR,
                            'not a Heat template: no heat_template_version', 'version'))
    elif version not in HOT_VERSIONS:
        add(diag.at_node(key, version_node, diag.ERROR,
                         'unknown heat_template_version %r (known: %s)'
                         % (version, ', '.join(sorted(HOT_VERSIONS))), 'version'))
    for name, knode in sections:
        if name not in HOT_SECTIONS:
            add(diag.at_node(key, knode, diag.ERROR,
                             'unknown template section %r (Heat rejects it; known: %s)'
                             % (name, ', '.join(sorted(HOT_SECTIONS))), 'section'))
    scalar = yn.ScalarNode
    for rname, rdef in resources.items():
        if not isinstance(rdef, yn.MappingNode):
            add(diag.at_node(key, rdef, diag.ERROR,
                             'resource %r must be a mapping' % rname, 'resource'))
            continue
        has_type = False
        for knode, _v in rdef.value:
            if knode.__class__ is not scalar:
                continue
            kname = knode.value
            if kname == 'type':
                has_type = True
            elif kname not in RESOURCE_KEYS:
                add(diag.at_node(key, knode, diag.ERROR,
                                 '%r is not a valid keyword in resource %r' % (kname, rname),
                                 'resource'))
        if not has_type:
            add(diag.at_node(key, rdef, diag.ERROR,
                             'resource %r has no type' % rname, 'resource'))
    for fn, node in uses:
        if fn == 'get_param':
            target = _first_scalar(node)
            if target is None or not yn.is_str(target):
                continue
            name = target.value
            if name not in params and name not in PSEUDO_PARAMS:
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
            if target.value not in resources:
                add(diag.at_node(key, target, diag.ERROR,
                                 '%s %r: no such resource in this template' % (fn, target.value),
                                 'undefined-resource'))
