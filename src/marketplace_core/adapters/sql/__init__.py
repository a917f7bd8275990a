"""What the SQL storage adapters share: each aggregate as key columns plus a JSON document.

Modules: :mod:`.tables` (each aggregate's key columns), :mod:`.codec` (entities and events
to JSON and back, exactly), :mod:`.database` (what a database must offer), :mod:`.staging`
(a unit's staged writes, merged into reads and applied at commit), :mod:`.repositories` and
:mod:`.storage` (the unit of work and outbox). :mod:`marketplace_core.adapters.sqlite` and
:mod:`marketplace_core.adapters.postgres` each add a connection and a schema.
"""

from marketplace_core.adapters.sql.storage import SqlOutbox, SqlUnitOfWork

__all__ = ["SqlOutbox", "SqlUnitOfWork"]
