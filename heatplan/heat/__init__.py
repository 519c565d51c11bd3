"""heatplan's only HTTP: python-heatclient over a keystoneauth1 session.

* :mod:`heatplan.heat.adapter`: stack operations, Heat's clock, failures
  mapped to heatplan's exceptions;
* :mod:`heatplan.heat.faults`: what a failure proves (was the request sent?
  did Heat itself answer?), decided by exception type;
* :mod:`heatplan.heat.waiting`: the one loop that waits for a stack.
"""
