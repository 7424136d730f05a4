"""Hospitals' notifications (services/hospital_notifications.py, models/hospital.py) on the
fake unit of work: once per certificate, the commune told, the chain started only with the
family's consent and complete data, completed later through the submit path."""

from __future__ import annotations

from typing import Any

import pytest

from lienthong.models.hospital import (
    HospitalStatus,
    completed,
    family_consents,
    hospital_reference,
)
from lienthong.models.status import Agency, Chain, DossierStatus
from lienthong.models.validation import DossierInvalid
from lienthong.services.container import Container
from lienthong.services.hospital_notifications import (
    DifferentNotification,
    mark_started,
    notify,
    prefilled,
)
from lienthong.services.ledger import Actor
from lienthong.services.submit_once import submit_once
from tests.fakes import FakeStore
from tests.helpers import example

HOSPITAL = Actor("client:hospital-1")
PORTAL = Actor("client:portal-1")


def certificate(**changes: Any) -> dict[str, Any]:
    """A birth certificate with everything the family gave at the hospital."""
    body = {
        k: v for k, v in example("birth-valid").items() if k not in ("reference", "received_at")
    }
    return {**body, **changes}


def at_birth_only() -> dict[str, Any]:
    """What the hospital alone knows: the child, the mother, the certificate, the commune."""
    full = certificate()
    keep = ("chain", "jurisdiction", "child", "mother", "medical_birth_certificate")
    return {k: full[k] for k in keep}


def family_part() -> dict[str, Any]:
    full = certificate()
    keep = ("requester", "father", "residence", "healthcare_facility", "chain_opt_in")
    return {k: full[k] for k in keep}


def commune_notices(store: FakeStore) -> list[dict[str, Any]]:
    return [n.notice.payload for n in store.notices if n.notice.agency is Agency.COMMUNE]


def test_a_complete_consented_certificate_starts_the_dossier_and_tells_the_commune(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app

    answer = notify(container, certificate(), HOSPITAL)

    assert answer.status is HospitalStatus.STARTED
    assert (answer.waiting_for, answer.replayed) == ([], False)
    assert answer.reference.startswith("BV-2026-")
    dossier = store.dossiers[answer.reference]
    assert dossier.status == DossierStatus.RECEIVED
    assert dossier.payload["medical_birth_certificate"]["number"] == "GCS-2026-004512"
    (told,) = commune_notices(store)
    assert told["event"] == "hospital.birth_certificate"
    assert told["certificate"]["number"] == "GCS-2026-004512"
    assert "Nguyễn" not in str(told), "the commune's notice names no one"
    actions = [
        e.record.action for e in store.audit if e.record.dossier_reference == answer.reference
    ]
    assert actions[0] == "hospital_notification_received"
    assert actions[-1] == "hospital_notification_started"


def test_without_the_familys_consent_nothing_starts(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    body = {k: v for k, v in certificate().items() if k != "chain_opt_in"}

    answer = notify(container, body, HOSPITAL)

    assert answer.status is HospitalStatus.AWAITING_FAMILY
    assert answer.waiting_for[0] == "chain_opt_in"
    assert answer.reference not in store.dossiers, "no dossier, so no agency is called"
    assert commune_notices(store)[0]["waiting_for"] == answer.waiting_for


def test_a_refusal_to_opt_in_is_respected(app: tuple[Container, FakeStore]) -> None:
    container, store = app

    answer = notify(container, certificate(chain_opt_in=False), HOSPITAL)

    assert answer.status is HospitalStatus.AWAITING_FAMILY
    assert "chain_opt_in" in answer.waiting_for
    assert store.dossiers == {}


def test_the_family_completes_a_waiting_dossier_through_the_submit_path(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    waiting = notify(container, at_birth_only(), HOSPITAL)
    assert waiting.status is HospitalStatus.AWAITING_FAMILY
    assert {"requester", "residence", "chain_opt_in"} <= set(waiting.waiting_for)

    given = {"reference": waiting.reference, **family_part()}
    dossier = prefilled(container, given)
    submitted = submit_once(container, dossier, PORTAL)
    mark_started(container, waiting.reference, PORTAL)

    assert submitted.result.accepted
    stored = store.dossiers[waiting.reference]
    assert stored.payload["child"] == certificate()["child"], "prefilled from the certificate"
    again = notify(container, at_birth_only(), HOSPITAL)
    assert (again.status, again.replayed) == (HospitalStatus.STARTED, True)


def test_a_completion_may_not_change_the_certificate(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    waiting = notify(container, at_birth_only(), HOSPITAL)
    other = {**certificate()["medical_birth_certificate"], "number": "GCS-2026-999999"}
    given = {"reference": waiting.reference, **family_part(), "medical_birth_certificate": other}

    with pytest.raises(DossierInvalid, match="hospital"):
        prefilled(container, given)


def test_the_same_certificate_twice_is_one_notification(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    first = notify(container, at_birth_only(), HOSPITAL)
    audit, notices = len(store.audit), len(store.notices)

    again = notify(container, at_birth_only(), HOSPITAL)
    changed = {**at_birth_only(), "child": {**certificate()["child"], "sex": "male"}}
    with pytest.raises(DifferentNotification):
        notify(container, changed, HOSPITAL)

    assert (again.reference, again.replayed) == (first.reference, True)
    assert (len(store.audit), len(store.notices)) == (audit, notices)
    assert len(store.hospitals) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({**at_birth_only(), "chain": "marriage"}, "chain"),
        ({**at_birth_only(), "reference": "HT-2026-000001"}, "reference"),
        ({k: v for k, v in at_birth_only().items() if k != "jurisdiction"}, "jurisdiction"),
        (
            {**at_birth_only(), "medical_birth_certificate": {"issuer": "BV", "issued_on": "x"}},
            "medical_birth_certificate.number",
        ),
        ({**at_birth_only(), "hospital_ward": "3B"}, "hospital_ward"),
        (
            {
                **at_birth_only(),
                "medical_birth_certificate": {
                    **certificate()["medical_birth_certificate"],
                    "number": "GCS-" + "9" * 61,
                },
            },
            "medical_birth_certificate.number",
        ),
    ],
    ids=["chain", "reference", "no commune", "no number", "unknown field", "long number"],
)
def test_the_hospitals_own_mistakes_are_refused_and_kept_nowhere(
    app: tuple[Container, FakeStore], body: dict[str, Any], path: str
) -> None:
    container, store = app

    with pytest.raises(DossierInvalid) as refused:
        notify(container, body, HOSPITAL)

    assert path in {p.path for p in refused.value.problems}
    assert (store.hospitals, store.audit, store.notices) == ({}, [], [])


def test_hostile_text_in_the_familys_part_is_kept_as_waiting_not_a_crash(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app
    body = {**at_birth_only(), "requester": {"full_name": "\ud800\x00", "personal_id": 1.5}}

    first = notify(container, body, HOSPITAL)
    again = notify(container, body, HOSPITAL)

    assert first.status is HospitalStatus.AWAITING_FAMILY
    assert (again.reference, again.replayed) == (first.reference, True)


def test_consent_is_the_familys_own_answer() -> None:
    assert family_consents(Chain.BIRTH, {"chain_opt_in": True})
    assert not family_consents(Chain.BIRTH, {"chain_opt_in": "yes"})
    assert not family_consents(Chain.BIRTH, {})
    assert family_consents(Chain.DEATH, {"scope": 2})
    assert not family_consents(Chain.DEATH, {"scope": True})
    assert hospital_reference(2026, 42) == "BV-2026-00000042"
    assert completed({"chain": "birth", "a": 1}, {"b": 2}) == {"chain": "birth", "a": 1, "b": 2}


def test_a_death_notice_waits_for_the_familys_choice_of_procedures(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    death = {k: v for k, v in example("death-valid-insured").items() if k != "reference"}
    without_choice = {k: v for k, v in death.items() if k != "scope"}

    waiting = notify(container, without_choice, HOSPITAL)
    chosen = notify(
        container, {**death, "death_notice": {**death["death_notice"], "number": "GBT-2"}}, HOSPITAL
    )

    assert (waiting.status, waiting.waiting_for[0]) == (HospitalStatus.AWAITING_FAMILY, "scope")
    assert waiting.reference not in store.dossiers
    assert chosen.status is HospitalStatus.STARTED
    assert store.dossiers[chosen.reference].chain is Chain.DEATH
    events = {n["event"] for n in commune_notices(store)}
    assert "hospital.death_notice" in events
