"""The lint rule registry: every diagnostic heatplan emits has a rule here.

A rule has a stable code (``HP104``, printed as ``warning[HP104]``), a name
(``duplicate-key``; ``--ignore`` takes either), a default severity, whether
a team may ignore it, a one-line doc and an example.  Severity follows the
consequence:

* **error**: Heat would reject the plan for certain, or heatplan cannot
  assemble it faithfully (it cannot read a file, follow a reference or
  rewrite it exactly).  Errors stop ``build`` and ``deploy``.
* **warning**: Heat accepts the plan (or only Heat can decide, and Heat's
  own validate runs in ``deploy`` and ``--dry-run``), but it is probably a
  mistake.  ``--strict`` turns warnings into errors.

Codes are grouped by family: HP1xx YAML, HP2xx files and references, HP3xx
template content, HP4xx environments and parameters, HP5xx the plan
definition, HP6xx limits.  doc/source/lint.rst is generated from this table
(``python -m heatplan.lint.registry``) and a unit test keeps the two equal.
"""

import dataclasses
import sys

from heatplan.lint import diagnostics as diag

ERROR = diag.ERROR
WARNING = diag.WARNING


@dataclasses.dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    doc: str
    example: str
    #: False for rules whose finding leaves heatplan unable to assemble the
    #: plan faithfully: ``--ignore`` and ``lint: ignore`` refuse them.
    ignorable: bool = True


_RULES = (
    # -- YAML -----------------------------------------------------------
    Rule('HP101', 'yaml-syntax', ERROR,
         'A template or environment is not valid YAML; Heat cannot load it.',
         'resources:\n  a: {type: OS::Heat::None\n', ignorable=False),
    Rule('HP102', 'yaml-depth', ERROR,
         'YAML nested too deep to read.', '[[[[[[ ... ]]]]]]', ignorable=False),
    Rule('HP103', 'yaml-alias', ERROR,
         'A recursive YAML alias, or aliases that expand a file past a million '
         'nodes (an alias bomb).',
         'a: &a [*a]', ignorable=False),
    Rule('HP104', 'duplicate-key', WARNING,
         'A mapping gives a key twice. YAML (PyYAML, Heat, heatclient and '
         'heatplan alike) keeps the last occurrence; the earlier ones are '
         'ignored.',
         'parameters:\n  ContainerCli: {type: string}\n  ContainerCli: {type: string}'),
    Rule('HP105', 'empty', ERROR,
         'A template is empty; Heat rejects it ("Template format version not '
         'found").', '', ignorable=False),
    Rule('HP106', 'empty-environment', WARNING,
         'An environment file is empty; Heat accepts it as an environment '
         'with no content.', '# nothing but comments'),
    Rule('HP107', 'not-mapping', ERROR,
         'A template or environment is not a YAML mapping; Heat rejects it.',
         '- a\n- b', ignorable=False),
    # -- files and references -------------------------------------------
    Rule('HP201', 'missing', ERROR,
         'A file the plan references (get_file, a template type, a registry '
         'value, a chain member) does not exist in the plan.',
         'config: {get_file: scripts/missing.sh}', ignorable=False),
    Rule('HP202', 'confinement', ERROR,
         'A reference leaves the plan root, names an absolute path outside it, '
         'or uses a URL scheme heatplan cannot read.',
         'config: {get_file: ../../etc/passwd}', ignorable=False),
    Rule('HP203', 'unreadable', ERROR,
         'A referenced file cannot be read faithfully: not UTF-8, not a '
         'regular file, or reached through an archive member that is skipped '
         '(a symlink leaving the root, a device, ...).',
         'config: {get_file: latin1.txt}', ignorable=False),
    Rule('HP204', 'yml-type', ERROR,
         'A resource type or registry value ends in .yml: Heat only treats '
         'names ending .yaml or .template as templates ("Resource Type could '
         'not be found").',
         'type: nested.yml', ignorable=False),
    Rule('HP205', 'registry-value', WARNING,
         'A resource_registry value is neither a resource type (A::B) nor a '
         'template ending .yaml or .template. The file is sent as it is (as '
         'python-heatclient does); Heat fails only if a resource uses it.',
         'resource_registry:\n  My::Thing: thing.txt'),
    Rule('HP206', 'cycle', ERROR,
         'Templates reference each other in a cycle; Heat would nest until '
         'its depth limit.', 'a.yaml: type: b.yaml / b.yaml: type: a.yaml',
         ignorable=False),
    Rule('HP207', 'remote', WARNING,
         'A reference is an http(s) URL: Heat fetches it at deploy time; it is '
         'not part of the plan (not versioned, not checked).',
         'type: https://example.com/t.yaml'),
    Rule('HP208', 'unparsed-file', WARNING,
         'A get_file target looks like a template but is not valid YAML: it is '
         'sent as plain text, with no reference inside it rewritten (as '
         'python-heatclient does).',
         'config: {get_file: broken-template.yaml}'),
    Rule('HP209', 'skipped-member', WARNING,
         'An archive member that no plan file reads was skipped: a symlink or '
         'hard link leaving the root, a device, fifo or other special file, or '
         'a name outside the root. Reading a file through it is an error '
         '(HP203).',
         'repo/docs/link -> ../../outside'),
    # -- template content -----------------------------------------------
    Rule('HP301', 'not-a-template', ERROR,
         'The root template has no heat_template_version (nor a CloudFormation '
         'format version); Heat rejects it.',
         'description: no version\nresources: {}', ignorable=False),
    Rule('HP302', 'version', WARNING,
         'An unknown heat_template_version, or a nested template with none. '
         "Heat's validate decides; a template no resource instantiates is "
         'never loaded.',
         'heat_template_version: 2099-01-01'),
    Rule('HP303', 'section', WARNING,
         'An unknown top-level template section. Heat rejects it in every '
         'template it loads.', 'outputz: {}'),
    Rule('HP304', 'resource', WARNING,
         'A resource definition that is not a mapping, has no type, or has an '
         'unknown keyword.', 'resources:\n  a: {typ: OS::Heat::None}'),
    Rule('HP305', 'undeclared-param', WARNING,
         'get_param of a parameter the template does not declare. Heat '
         'evaluates it only where it is used (an unused condition never is).',
         'conditions:\n  c: {equals: [{get_param: Undeclared}, x]}'),
    Rule('HP306', 'undefined-resource', WARNING,
         'get_resource, get_attr or depends_on naming no resource of the '
         'template.', 'value: {get_attr: [nosuch, x]}'),
    # -- environments and parameters ------------------------------------
    Rule('HP401', 'env-section', ERROR,
         'An environment has an unknown or empty section; Heat\'s environment '
         'parser rejects the file ("environment has wrong/empty section").',
         'resource_registry:\n# every entry commented out', ignorable=False),
    Rule('HP402', 'env-param', ERROR,
         'An environment\'s parameters: names a parameter the root template '
         'does not declare, and Heat keeps it: Heat rejects the stack '
         '("The Parameter (x) was not defined in template").',
         'parameters:\n  NestedOnly: 1'),
    Rule('HP403', 'dropped-param', WARNING,
         'An environment\'s parameters: names a parameter no template in the '
         'plan declares; Heat silently drops it.',
         'parameters:\n  Typo: 1'),
    Rule('HP404', 'unused-default', WARNING,
         'parameter_defaults names a parameter no template in the plan '
         'declares (from the second environment on Heat silently drops it).',
         'parameter_defaults:\n  Typo: 1'),
    Rule('HP405', 'shadowed-param', WARNING,
         'A parameter given on the command line or in heatplan.yaml is also '
         'set in an environment file\'s parameters: section, whose value Heat '
         'uses instead.',
         '--parameter node_count=5 with env parameters: {node_count: 3}'),
    Rule('HP406', 'param', ERROR,
         'A parameter is given (command line, heatplan.yaml) that the root '
         'template does not declare; Heat rejects it.',
         '--parameter nosuch=1', ignorable=False),
    # -- the plan definition --------------------------------------------
    Rule('HP501', 'definition', ERROR,
         'The plan definition (plan-environment.yaml parameter data, inline '
         'environment data) cannot be read.',
         'parameter_defaults: !!python/object x', ignorable=False),
    Rule('HP502', 'definition-key', WARNING,
         'A key of a TripleO plan-environment.yaml heatplan does not use, or a '
         'section (passwords) it does not deploy.',
         'passwords: {AdminPassword: x}'),
    # -- limits ---------------------------------------------------------
    Rule('HP601', 'file-size', ERROR,
         "A file is over Heat's default max_template_size (512 KiB), which "
         'Heat applies to the template and to every file. Ignore it only for '
         'a cloud whose max_template_size is raised.',
         '(a 600 KiB script)'),
    Rule('HP602', 'body-size', ERROR,
         "The request body is over the client-side limit (Heat's "
         'max_json_body_size, 1 MiB by default; --max-body-bytes).',
         '(a 2 MB plan)', ignorable=False),
)

RULES = {r.code: r for r in _RULES}
BY_NAME = {r.name: r for r in _RULES}
assert len(RULES) == len(BY_NAME) == len(_RULES)


def rule(code_or_name):
    """The rule for a code (``HP104``) or name (``duplicate-key``), else None."""
    if code_or_name is None:
        return None
    return RULES.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())


def make(name, path, line, col, message):
    """A diagnostic of rule ``name``, with the rule's severity and code."""
    r = BY_NAME[name]
    return diag.Diagnostic(path, line, col, r.severity, message, r.code, r.name)


def at_node(name, path, node, message):
    """:func:`make` positioned at a YAML node (1-based line and column)."""
    if node is None:
        return make(name, path, 0, 0, message)
    mark = node.start_mark
    return make(name, path, mark.line + 1, mark.column + 1, message)


def rst():
    """The rule table as reStructuredText (doc/source/lint.rst's list)."""
    out = []
    for r in _RULES:
        title = '%s %s (%s%s)' % (r.code, r.name, r.severity,
                                  '' if r.ignorable else ', cannot be ignored')
        out.append(title)
        out.append('-' * len(title))
        out.append('')
        out.append(r.doc)
        out.append('')
        if r.example:
            out.append('Example::')
            out.append('')
            out.extend('    ' + line if line else '' for line in r.example.split('\n'))
            out.append('')
    return '\n'.join(out)


if __name__ == '__main__':  # pragma: no cover
    sys.stdout.write(rst())
