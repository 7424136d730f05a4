"""The receipt and appointment slip of a dossier received (models/receipt_slip.py)."""

from __future__ import annotations

from lienthong.models.jurisdictions import current_commune, current_province
from lienthong.models.receipt_slip import ReceiptSlip, applicant, papers_received, receipt_number
from lienthong.models.status import DossierStatus, StepStatus
from lienthong.services.container import Container


class NoSlip(ValueError):
    """A rejected dossier gets no appointment: its problems are shown instead."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"dossier {reference} was rejected at intake: it has no appointment")
        self.reference = reference


def receipt_slip(container: Container, reference: str, procedure: str) -> ReceiptSlip:
    """The slip for ``reference``, asking for ``procedure`` (the chain's name as shown).

    Raises ``DossierNotFound``, or :class:`NoSlip` for a dossier rejected at intake. The
    appointment is the chain's due date on record (fixed at receipt, moved by a
    supplement); the working days are the chain's limit from the day of receipt.
    """
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
    if dossier.status == DossierStatus.REJECTED or dossier.chain is None or dossier.due_at is None:
        raise NoSlip(reference)
    deadlines = container.deadlines
    planned = [s.kind for s in dossier.steps if s.status != StepStatus.SKIPPED]
    working_days = deadlines.chain_limit(
        dossier.chain, deadlines.start_day(dossier.received_at), steps=planned
    )
    commune, province = (
        current_commune(dossier.commune_code),
        current_province(dossier.province_code),
    )
    name, address = applicant(dossier.payload)
    timezone = deadlines.calendar
    return ReceiptSlip(
        reference=reference,
        receipt_number=receipt_number(reference),
        province_name=province.name if province else dossier.province_code,
        commune_name=commune.name if commune else dossier.commune_code,
        applicant=name,
        applicant_address=address,
        procedure=procedure,
        papers=papers_received(dossier.chain, dossier.payload),
        working_days=working_days,
        received_at=timezone.to_local(dossier.received_at),
        appointment_at=timezone.to_local(dossier.due_at),
    )
