"""Plan history kept in Heat: revision records and their state machine.

* :mod:`heatplan.store.records`: a record's name, tags and format;
* :mod:`heatplan.store.machine`: the rules (the deploy lock, settle,
  confirm, prune, recover) over a driver;
* :mod:`heatplan.store.driver`: the interface a driver provides; the heat
  driver is :class:`heatplan.heat.adapter.HeatAdapter`;
* :mod:`heatplan.store.memory`: an in-memory Heat for the state machine's
  unit tests, with torn and late reads on demand.

The names below are the package's interface to the rest of heatplan.
"""

from heatplan.store.history import HISTORY_TAG  # noqa: F401
from heatplan.store.history import LOCK_TAG  # noqa: F401
from heatplan.store.history import history_name  # noqa: F401
from heatplan.store.history import lock_name  # noqa: F401
from heatplan.store.machine import APPLIED  # noqa: F401
from heatplan.store.machine import IN_PROGRESS  # noqa: F401
from heatplan.store.machine import STALE_AFTER  # noqa: F401
from heatplan.store.machine import Locked  # noqa: F401
from heatplan.store.machine import Store  # noqa: F401
from heatplan.store.machine import check_locks  # noqa: F401
from heatplan.store.machine import confirm_read  # noqa: F401
from heatplan.store.machine import in_progress  # noqa: F401
from heatplan.store.machine import prune  # noqa: F401
from heatplan.store.machine import recover  # noqa: F401
from heatplan.store.machine import settle  # noqa: F401
from heatplan.store.machine import status_of  # noqa: F401
from heatplan.store.records import DEPLOYED  # noqa: F401
from heatplan.store.records import FAILED  # noqa: F401
from heatplan.store.records import MAX_TAG  # noqa: F401
from heatplan.store.records import OWN_TAG_PREFIXES  # noqa: F401
from heatplan.store.records import PENDING  # noqa: F401
from heatplan.store.records import RECORD_FILE  # noqa: F401
from heatplan.store.records import RECORD_TAG  # noqa: F401
from heatplan.store.records import STACK_DIGEST_TAG  # noqa: F401
from heatplan.store.records import STACK_REV_TAG  # noqa: F401
from heatplan.store.records import STATUSES  # noqa: F401
from heatplan.store.records import SUPERSEDED  # noqa: F401
from heatplan.store.records import Record  # noqa: F401
from heatplan.store.records import digest_tag  # noqa: F401
from heatplan.store.records import held_digest  # noqa: F401
from heatplan.store.records import held_revision  # noqa: F401
from heatplan.store.records import record_name  # noqa: F401
from heatplan.store.records import stack_tag  # noqa: F401
from heatplan.store.records import tag_value  # noqa: F401
from heatplan.store.records import tags_of  # noqa: F401
from heatplan.store.records import who  # noqa: F401
