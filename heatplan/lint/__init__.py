"""Lint: what Heat would reject, or accept but probably not as meant.

One registry (:mod:`heatplan.lint.registry`) holds every rule: its code,
name, default severity, doc and whether it may be ignored.  The checks are
grouped by family: :mod:`heatplan.lint.yaml` (per-file YAML), the per-file
template rules (:mod:`heatplan.lint.template`) and the whole-plan rules
(:mod:`heatplan.lint.plan`).  :mod:`heatplan.lint.policy` applies a team's
``--strict`` / ``--ignore`` / ``heatplan.yaml`` ``lint:`` choices.

To add a rule: add it to the registry, write its check in the family's
module, regenerate doc/source/lint.rst (``python -m heatplan.lint.registry``)
and add a unit test for its code and severity.
"""

from heatplan.lint.plan import DEFAULT_MAX_BODY_BYTES
from heatplan.lint.plan import ENV_SECTIONS
from heatplan.lint.plan import HEAT_MAX_FILE_BYTES
from heatplan.lint.plan import check_body
from heatplan.lint.plan import lint
from heatplan.lint.policy import Policy
from heatplan.lint.registry import RULES
from heatplan.lint.registry import rule
from heatplan.lint.template import HOT_SECTIONS
from heatplan.lint.template import HOT_VERSIONS

__all__ = ['check_body', 'DEFAULT_MAX_BODY_BYTES', 'ENV_SECTIONS', 'HEAT_MAX_FILE_BYTES',
           'HOT_SECTIONS', 'HOT_VERSIONS', 'lint', 'Policy', 'rule', 'RULES']
