"""`AttributeStore`: the one store object callers hold, composed of its responsibilities.

    StoreBase (base.py)          backend hooks: connect, transaction/lock, bulk moves, dialect
    ├── Schema (schema.py)       migrations, per-integration tables, the SQL view
    ├── ImportLog (importlog.py) the import log
    ├── Writes (writes.py)       a file's write and dry run, purge, erasure
    └── Contract (contract.py)   the reads targeting uses, running a segment query

A backend (`SqliteStore`, `PostgresStore`) subclasses it and fills in the hooks. It is a
context manager: `with open_store(url) as store: ...` closes the connection.
"""

from __future__ import annotations

from inbound.store.contract import Contract
from inbound.store.writes import Writes


class AttributeStore(Writes, Contract):
    """The store's interface; a backend provides the connection and the bulk moves."""
