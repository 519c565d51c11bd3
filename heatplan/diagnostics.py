"""Diagnostics: what lint and assembly found, with file:line:col."""

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

    def format(self):
        where = self.path
        if self.line:
            where = '%s:%d:%d' % (self.path, self.line, self.col)
        return '%s: %s: %s' % (where, self.severity, self.message)

    def as_dict(self):
        return dataclasses.asdict(self)

    def sort_key(self):
        return (self.path, self.line, self.col, self.code, self.message)


def at_node(path, node, severity, message, code=''):
    """A diagnostic positioned at a YAML node (1-based line and column)."""
    if node is None:
        return Diagnostic(path, 0, 0, severity, message, code)
    mark = node.start_mark
    return Diagnostic(path, mark.line + 1, mark.column + 1, severity, message, code)
