"""A team's lint choices: ``--strict``, ``--ignore`` and ``heatplan.yaml`` ``lint:``.

::

    # heatplan.yaml
    lint:
      strict: true              # warnings become errors (as --strict)
      ignore:
        - HP207                 # a code (or a rule name) everywhere
        - code: duplicate-key   # ... or only in files matching a glob
          paths: [common/*.yaml, deployment/**]

Command-line choices add to the manifest's: ``--strict`` turns strict on,
each ``--ignore CODE`` ignores that rule everywhere.  Rules whose finding
leaves heatplan unable to assemble the plan faithfully cannot be ignored.
Globs use :func:`fnmatch.fnmatchcase` on the file's plan-root-relative path
(``*`` also matches ``/``).
"""

import dataclasses
import fnmatch

from heatplan import errors
from heatplan.lint import diagnostics as diag
from heatplan.lint import registry as reg


@dataclasses.dataclass
class Policy:
    strict: bool = False
    #: [(rule code, [path globs] or None for everywhere, where it was given)]
    ignore: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_options(cls, strict=False, ignore=(), manifest=None):
        """Combine the manifest's ``lint:`` (a :class:`Policy`) and the flags."""
        policy = cls(strict=bool(strict))
        if manifest is not None:
            policy.strict = policy.strict or manifest.strict
            policy.ignore.extend(manifest.ignore)
        for code in ignore or ():
            policy.ignore.append((resolve(code, '--ignore'), None, '--ignore'))
        return policy

    def ignores(self, d):
        for code, globs, _where in self.ignore:
            if code != d.code:
                continue
            if globs is None or any(fnmatch.fnmatchcase(d.path, g) for g in globs):
                return True
        return False

    def apply(self, diagnostics):
        """``(kept, ignored)``: warnings made errors when strict, ignored ones apart."""
        kept, ignored = [], []
        for d in diagnostics:
            if d.code and self.ignores(d):
                ignored.append(d)
                continue
            if self.strict and d.severity == diag.WARNING:
                d = dataclasses.replace(d, severity=diag.ERROR,
                                        message=d.message + ' (strict)')
            kept.append(d)
        return kept, ignored


def resolve(code, where):
    """The code of a rule given by code or name; refuse unknown or fatal ones."""
    r = reg.rule(str(code))
    if r is None:
        raise errors.UsageError(
            '%s: unknown lint rule %r' % (where, code),
            hint='codes and names are listed by "heatplan lint rules" '
                 'and in doc/source/lint.rst')
    if not r.ignorable:
        raise errors.UsageError(
            '%s: rule %s (%s) cannot be ignored: with it heatplan cannot assemble '
            'the plan faithfully, or Heat rejects it for certain' % (where, r.code, r.name),
            hint='fix the plan instead')
    return r.code
