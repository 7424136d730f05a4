"""The worklist of a commune, a province or the whole country: what needs a person today.

The rule is :mod:`lienthong.models.worklist`; this reads the dossiers in scope in one unit of
work and applies it at the container's clock. ``lienthong list``, the worklist artifacts
and the desk all come here, so they show the same items.
"""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.models.report import Scope
from lienthong.models.worklist import DossierQuery, WorkFilter, WorkItem, ordered, work_item
from lienthong.services.container import Container


@dataclass(frozen=True)
class Worklist:
    scope: Scope
    items: list[WorkItem]


def worklist(container: Container, scope: Scope, wanted: WorkFilter | None = None) -> Worklist:
    """The dossiers of ``scope`` the filter keeps, most urgent first (default: those that
    need a person)."""
    wanted = wanted or WorkFilter(needs_action=True)
    base = wanted.query
    query = DossierQuery(
        province_codes=scope.province_codes(),
        commune=scope.commune,
        chain=base.chain,
        statuses=base.statuses,
        include_settled=base.include_settled,
        limit=base.limit,
    )
    now = container.clock.now()
    with container.unit_of_work() as uow:
        items = [work_item(d, now, container.deadlines) for d in uow.dossiers.matching(query)]
    return Worklist(scope, ordered([i for i in items if wanted.keeps(i)]))
