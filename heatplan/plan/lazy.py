"""A plan known by its digest before its request body is built (issue 18).

:func:`heatplan.actions.prepare_plan` answers an unchanged plan from a
stored plan summary (:mod:`heatplan.plan.cache`): its digest, lint findings
and body size, without analysing a file.  :class:`LazyPlan` carries those,
and builds the real :class:`heatplan.plan.assemble.Plan` (a full assembly) the
first time anything else is asked for: a deploy that finds the digest
deployed never asks.
"""

from heatplan import errors


class LazyPlan:
    """``digest``, ``definition``, ``diagnostics``, ``body_size`` now; the rest on demand."""

    def __init__(self, definition, digest, body_size, diagnostics, build):
        self.definition = definition
        self.digest = digest
        self.body_size = body_size
        self.diagnostics = diagnostics
        self._build = build
        self._plan = None

    @property
    def built(self):
        """True once the request body has been built."""
        return self._plan is not None

    def __getattr__(self, name):
        # only for attributes not set above: body, manifest, texts, files, ...
        if name.startswith('__') or name in ('_plan', '_build'):
            raise AttributeError(name)
        if self._plan is None:
            plan = self._build()
            if plan.digest != self.digest:
                raise errors.PlanError(
                    'the plan changed while heatplan read it: its files hashed to digest '
                    '%s, and assembling them now gives %s; nothing was sent'
                    % (self.digest, plan.digest),
                    hint='run the command again once nothing writes to the plan; if it '
                         'happens again with an unchanging plan, run it with --no-cache '
                         '(or HEATPLAN_NO_CACHE=1) and report it as a heatplan bug')
            self._plan = plan
        return getattr(self._plan, name)
