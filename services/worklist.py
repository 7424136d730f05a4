"""The worklist of a commune, a province or the whole country: what needs a person today.

The rule is :mod:`lienthong.models.worklist`; this reads the dossiers in scope in one unit of
work and applies it at the container's clock. ``lienthong list``, the worklist artifacts
and the desk all come here, so they show the same items.
"""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.models.jurisdictions import successor_province
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


def units_of(container: Container, reference: str) -> list[Scope]:
    """The worklists a dossier is on: its commune's and its (current) province's."""
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
    return [Scope(commune=dossier.commune_code), Scope(province=_province(dossier.province_code))]


def _province(code: str) -> str:
    """The current province that groups ``code``; an unknown code (a rejected dossier's) as
    it is."""
    try:
        return successor_province(code)
    except ValueError:
        return code


def by_unit(container: Container) -> dict[Scope, list[WorkItem]]:
    """Every commune's and province's worklist (what needs a person), in one read: for the
    sweep, which republishes them all."""
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossiers = uow.dossiers.matching(DossierQuery())
        items = [work_item(d, now, container.deadlines) for d in dossiers]
    units: dict[Scope, list[WorkItem]] = {}
    for item in ordered([i for i in items if i.needs_action]):
        units.setdefault(Scope(commune=item.commune_code), []).append(item)
        units.setdefault(Scope(province=_province(item.province_code)), []).append(item)
    return units
