"""What the receipt and appointment slip lists: the papers the dossier was received with."""

from __future__ import annotations

from lienthong.models.receipt_slip import applicant, papers_received, receipt_number
from lienthong.models.status import Chain
from tests.helpers import example


def test_a_birth_dossiers_papers_name_its_birth_certificate() -> None:
    papers = papers_received(Chain.BIRTH, example("birth-valid"))
    assert papers[1] == (
        "Giấy chứng sinh số GCS-2026-004512 do Bệnh viện Đa khoa tỉnh Ninh Thuận cấp ngày "
        "10/11/2026"
    )
    assert "Ý kiến đồng ý của chủ hộ cho đăng ký thường trú" in papers


def test_without_consent_the_slip_does_not_list_it() -> None:
    dossier = example("birth-valid")
    dossier["residence"]["household_head_consent"] = False
    assert not any("chủ hộ" in p for p in papers_received(Chain.BIRTH, dossier))


def test_a_death_dossiers_papers_follow_the_procedures_asked_for() -> None:
    dossier = example("death-valid-insured")
    three = papers_received(Chain.DEATH, dossier)
    assert "Tờ khai đề nghị hưởng trợ cấp mai táng" in three
    assert "Tờ khai đề nghị hưởng trợ cấp tuất" not in three
    dossier["scope"] = 2
    assert not any("trợ cấp" in p for p in papers_received(Chain.DEATH, dossier))


def test_the_receipt_number_and_the_applicant() -> None:
    assert receipt_number("HT-2026-000123") == "000123/TNHS"
    name, address = applicant(example("birth-valid"))
    assert name == "Nguyễn Văn Minh"
    assert address.startswith("12 Trần Quang Khải")
