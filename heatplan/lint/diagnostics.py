"""Diagnostics: what lint and assembly found, with file:line:col.

Every diagnostic belongs to a rule of :mod:`heatplan.lint.registry`
(``code`` ``HP104``, ``rule`` ``duplicate-key``); build them with
:func:`heatplan.lint.registry.make` / ``at_node`` so that the severity is
the registry's.
"""

import dataclasses

ERROR = 'error'
WARNING = 'warning'


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    col: int
    severity: str
    message: str
    code: str = ''
    rule: str = ''

    def format(self):
        where = self.path
        if self.line:
            where = '%s:%d:%d' % (self.path, self.line, self.col)
        sev = '%s[%s]' % (self.severity, self.code) if self.code else self.severity
        return '%s: %s: %s' % (where, sev, self.message)

    def as_dict(self):
        return dataclasses.asdict(self)

    def sort_key(self):
        return (self.path, self.line, self.col, self.code, self.message)
