"""Who the caller is and what they may see: `Reader`, the `reader` gate every router carries, DAG rights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, HTTPException, status

from inbound.config.catalog import Catalog, current_catalog
from inbound.config.model import Integration


@dataclass(frozen=True)
class Reader:
    """The caller and what they may read: the integrations and broken configs of DAGs they may read."""

    user: BaseUser
    catalog: Catalog  # the readable part of the current catalog (its `errors`: the readable broken configs)
    others: frozenset[str]  # every other loaded integration's name (reports of shared files)

    def integration(self, name: str) -> Integration:
        """The integration `name` if its config loads and the caller may read its DAG.

        404 otherwise, with the same answer for both: whether an integration the caller
        may not read exists is not told.
        """
        integration = self.catalog.integrations.get(name)
        if integration is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no integration named {name!r} that you may read")
        return integration


def broken_dag_id(file: str) -> str:
    """The DAG a broken config would define: its name is its file's stem (`inbound.config.model`)."""
    return f"inbound_{Path(file).stem}"


def reader(user: GetUserDep) -> Reader:
    """The gate of every route: what this caller may read, from the auth manager (403 for nothing).

    The auth manager is asked about the inbound DAGs by their IDs (`filter_authorized_dag_ids`),
    so a per-DAG right (`DAG:inbound_crm` with the FAB auth manager) is enough and nothing
    the request names (a `dag_id` query parameter) changes the answer.
    """
    catalog = current_catalog()
    every = {i.dag_id for i in catalog.integrations.values()} | {broken_dag_id(e.file) for e in catalog.errors}
    manager = get_auth_manager()
    allowed = manager.filter_authorized_dag_ids(dag_ids=every, user=user, method="GET") if every else set()
    if not allowed and (every or not manager.is_authorized_dag(method="GET", user=user)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may read no integration's DAG (inbound_<name>)")
    readable = Catalog(
        integrations={n: i for n, i in catalog.integrations.items() if i.dag_id in allowed},
        errors=[e for e in catalog.errors if broken_dag_id(e.file) in allowed],
    )
    return Reader(user=user, catalog=readable, others=frozenset(catalog.integrations))


ReaderDep = Annotated[Reader, Depends(reader)]
READ = [Depends(reader)]  # on every router of the app (FastAPI computes it once per request)


def dag_rights(user: BaseUser, dag_id: str) -> tuple[bool, bool]:
    """May the caller edit the DAG (pause it) and trigger a run of it? Asked of the auth manager."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager, details = get_auth_manager(), DagDetails(id=dag_id)
    edit = manager.is_authorized_dag(method="PUT", details=details, user=user)
    trigger = manager.is_authorized_dag(method="POST", access_entity=DagAccessEntity.RUN, details=details, user=user)
    return bool(edit), bool(trigger)
