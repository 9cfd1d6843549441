"""Targeting routes: one user's attributes, the attributes a rule may use, a segment rule's evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, NotRequired

from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import JsonValue
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from inbound.airflow.connections import store
from inbound.errors import RuleError
from inbound.rules import evaluate
from inbound.store import AttributeStore, UserAttributes
from inbound.store.base import not_text
from inbound.store.contract import served
from inbound.web.access import READ, ReaderDep

router = APIRouter(dependencies=READ)


# response_model=None: FastAPI would build a pydantic model of the store's `UserAttributes`, a
# typing.TypedDict that pydantic reads only from Python 3.12 on; the answer is plain JSON already.
# `:path`: a user ID may contain '/' (`a/b@x`, or `a%2Fb@x` as a browser encodes it).
@router.get("/api/users/{user_id:path}", response_model=None)
def user_attributes(user_id: str, caller: ReaderDep) -> UserAttributes:
    """One user's attributes, only from integrations whose DAG the caller may read.

    400 for an ID no store holds (`/api/users/a%00b`: PostgreSQL refuses a NUL character).
    """
    problem = not_text(user_id)
    if problem is not None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"user ID {problem}; no user ID holds one")
    readable = caller.catalog
    with store() as s:
        found = s.user_attributes(user_id, readable.declared_types, readable.owners)
    keep = [name for name, source in found["sources"].items() if source["integration"] in readable.integrations]
    return UserAttributes(
        user_id=found["user_id"],
        attributes={name: found["attributes"][name] for name in keep},
        sources={name: found["sources"][name] for name in keep},
    )


class AttributeView(TypedDict):
    attribute: str
    type: str
    integration: str
    # With ?imports=true: whether the integration has ever imported (a rule on an attribute of one
    # that never did matches nobody; the rule builder marks them).
    imported: NotRequired[bool]


@router.get("/api/attributes")
def attributes(
    caller: ReaderDep,
    imports: Annotated[bool, Query(description="also say whether each attribute's integration ever imported")] = False,
) -> list[AttributeView]:
    """The attributes a rule may use: those of the integrations the caller may read, with their types."""
    found = [
        AttributeView(attribute=a.attribute, type=a.type, integration=integration.name)
        for integration in sorted(caller.catalog.integrations.values(), key=lambda i: i.name)
        for a in integration.attributes
    ]
    if imports:
        with store() as s:  # one entry read per integration the caller may read
            imported = set(s.last_success(caller.catalog.integrations))
        for view in found:
            view["imported"] = view["integration"] in imported
    return found


class SegmentView(TypedDict):
    """A segment's size, the first few of its users and, with ?total=true, the users it is drawn from."""

    count: int
    sample: list[str]
    # With ?total=true: the users a rule can match (of the integrations the caller may read), for "N of M".
    total: NotRequired[int]


def users_in_scope(s: AttributeStore, declared: dict[str, str], owners: Mapping[str, str]) -> int:
    """The users of the tables that hold an attribute the caller may read: every user a rule can match.

    The same scope as a `not_exists` rule's candidates (`inbound.rules.evaluate`), counted once each.
    """
    tables = {
        a.table
        for a in s.stored_attributes()
        if declared.get(a.name) == a.type and served(a.name, a.type, a.integration, declared, owners)
    }
    return s.match_users("1 = 1", (), tables, 0).count if tables else 0


@router.post("/api/segments/evaluate")
def evaluate_segment(
    caller: ReaderDep,
    rule: Annotated[
        JsonValue, Body(description='a segment rule, e.g. {"attribute": "plan", "op": "eq", "value": "premium"}')
    ],
    sample: Annotated[int, Query(ge=0, le=1000)] = 20,
    total: Annotated[bool, Query(description="also count the users the rule is drawn from")] = False,
) -> SegmentView:
    """How many users match the rule, and a sample of them (400 with the reason for a bad rule)."""
    readable = caller.catalog
    try:
        with store() as s:
            found = evaluate(s, rule, readable.declared_types, sample=sample, owners=readable.owners)
            view = SegmentView(count=found.count, sample=list(found.sample))
            if total:
                view["total"] = users_in_scope(s, readable.declared_types, readable.owners)
            return view
    except RuleError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
