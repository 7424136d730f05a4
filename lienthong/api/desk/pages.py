"""The operator's desk: server-rendered pages over the same services as the CLI and the API.

Every page needs a signed-in operator (``operator:<commune>``) or administrator; every form
carries the session's CSRF token (session.py). An operator sees and acts on its own
commune's dossiers only: anything else is a 403, kept on the audit trail (api/access.py).
Routes are documented in docs/desk.md.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations at runtime.

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from lienthong.api.access import permitted
from lienthong.api.chains import announce_action, continue_chain
from lienthong.api.desk import content, display, fields
from lienthong.api.desk.forms import BadForm, posted_form
from lienthong.api.desk.session import CSRF_FIELD, Session, Sessions
from lienthong.flows.announce import Action as Announced
from lienthong.models.client_secrets import credential
from lienthong.models.clients import Action, Client, RoleKind
from lienthong.models.duplicates import CannotResolve, Decision
from lienthong.models.lifecycle import (
    CannotHandBack,
    CannotWithdraw,
    ConcurrentChange,
    DossierNotFound,
)
from lienthong.models.report import Scope
from lienthong.models.status import Chain, DossierStatus, StepStatus
from lienthong.models.supplements import SupplementNotAllowed
from lienthong.models.validation import DossierInvalid, Problem, parse_dossier
from lienthong.models.worklist import DossierQuery, WorkFilter
from lienthong.models.worklist_text import line
from lienthong.services.authenticate import active_client, authenticate
from lienthong.services.container import Container
from lienthong.services.dossier_status import DossierStatusReport, dossier_status
from lienthong.services.duplicates import NotHeld, held_dossier, resolve
from lienthong.services.hand_back import hand_back
from lienthong.services.intake import DuplicateReference, receive
from lienthong.services.ledger import Actor
from lienthong.services.list_clients import list_clients
from lienthong.services.receipt_slip import NoSlip, receipt_slip
from lienthong.services.supplements import NotAwaitingSupplement, record_supplement
from lienthong.services.views import waiting_of
from lienthong.services.withdrawal import withdraw
from lienthong.services.worklist import worklist

PREFIX = "/desk"
TEMPLATE_DIRECTORY = Path(__file__).parent / "templates"
_DESK_ROLES = frozenset({RoleKind.OPERATOR, RoleKind.ADMIN})
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Operator:
    client: Client
    session: Session

    @property
    def commune_code(self) -> str | None:
        """The operator's commune; None for an administrator (any commune)."""
        return self.client.role.scope if self.client.role.kind is RoleKind.OPERATOR else None


@dataclass(frozen=True)
class Acting:
    who: Operator
    report: DossierStatusReport
    form: dict[str, str]


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def build_router(container: Container) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    api = container.settings.api
    sessions = Sessions(
        api.desk_session_secret.get_secret_value(), int(api.desk_session_hours * 3600)
    )
    limits = container.settings.limits
    language = container.settings.language
    templates = Jinja2Templates(directory=TEMPLATE_DIRECTORY)
    display.install(templates.env, language, container.settings.calendar.timezone)
    templates.env.filters["unit_name"] = lambda who: content.unit_name(who.commune_code)

    def page(
        request: Request,
        template: str,
        session: Session,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        response = templates.TemplateResponse(
            request,
            template,
            {"csrf_field": CSRF_FIELD, "csrf": session.csrf, **context},
            status_code=status_code,
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'"
        )
        return response

    async def signed_in(request: Request) -> Operator:
        """The operator of the session, or a redirect to the login page."""
        session = sessions.read(request)
        client = None
        if session is not None and session.client_id is not None:
            client = await run_in_threadpool(active_client, container, session.client_id)
        if session is None or client is None or client.role.kind not in _DESK_ROLES:
            raise HTTPException(303, "đăng nhập", headers={"Location": f"{PREFIX}/login"})
        return Operator(client, session)

    def forbidden(request: Request, who: Operator, reference: str) -> HTMLResponse:
        return page(request, "forbidden.html", who.session, 403, operator=who, reference=reference)

    async def dossier_for(
        request: Request, who: Operator, reference: str, action: Action
    ) -> DossierStatusReport | HTMLResponse:
        """The dossier if the operator may do ``action`` to it; else the page to answer."""
        try:
            report = await run_in_threadpool(dossier_status, container, reference)
        except DossierNotFound:
            return page(
                request, "not_found.html", who.session, 404, operator=who, reference=reference
            )
        view = report.view
        if not await permitted(
            container, who.client, action, reference, view.province_code, view.commune_code
        ):
            return forbidden(request, who, reference)
        return report

    async def form_of(request: Request, session: Session) -> dict[str, str] | HTMLResponse:
        """The posted form, or the 403 page for one the desk did not serve."""
        try:
            return await posted_form(request, session, limits)
        except BadForm as refused:
            return page(request, "bad_form.html", session, 403, operator=None, why=str(refused))

    async def acting(
        request: Request, reference: str, action: Action, *, posted: bool = False
    ) -> Acting | HTMLResponse:
        """The signed-in operator on the dossier it may do ``action`` to (and the posted
        form, its CSRF token checked first); else the page to answer with."""
        who = await signed_in(request)
        form: dict[str, str] = {}
        if posted:
            read = await form_of(request, who.session)
            if isinstance(read, HTMLResponse):
                return read
            form = read
        report = await dossier_for(request, who, reference, action)
        if isinstance(report, HTMLResponse):
            return report
        return Acting(who, report, form)

    # Login and logout

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        session = sessions.anonymous(request)
        response = page(request, "login.html", session, error=None, client_id="")
        sessions.store(response, session, request)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        session = sessions.anonymous(request)
        form = await form_of(request, session)
        if isinstance(form, HTMLResponse):
            return form
        client_id = form.get("client_id", "").strip()[:64]
        secret = form.get("secret", "")[:256]
        client = await run_in_threadpool(authenticate, container, credential(client_id, secret))
        if client is None or client.role.kind not in _DESK_ROLES:
            error = (
                "Mã tài khoản hoặc mật khẩu không đúng"
                if client is None
                else "Tài khoản này không dùng được bàn làm việc một cửa"
            )
            return page(request, "login.html", session, 401, error=error, client_id=client_id)
        response = _see_other(f"{PREFIX}/")
        sessions.store(response, Sessions.logged_in(client.client_id), request)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        who = await signed_in(request)
        refused = await form_of(request, who.session)
        if isinstance(refused, HTMLResponse):
            return refused
        response = _see_other(f"{PREFIX}/login")
        Sessions.clear(response)
        return response

    # The worklist

    @router.get("/")
    async def worklist_page(request: Request, all: bool = False) -> Response:
        who = await signed_in(request)
        scope = Scope(commune=who.commune_code)
        wanted = WorkFilter(query=DossierQuery(include_settled=all), needs_action=not all)
        listed = await run_in_threadpool(worklist, container, scope, wanted)
        timezone = container.settings.calendar.timezone
        return page(
            request,
            "worklist.html",
            who.session,
            operator=who,
            items=[(item, line(item, language, timezone)) for item in listed.items],
            everything=all,
        )

    # A dossier

    @router.get("/dossiers/{reference}")
    async def dossier_page(request: Request, reference: str) -> Response:
        acted = await acting(request, reference, Action.READ)
        if isinstance(acted, Response):
            return acted
        who, report = acted.who, acted.report
        return await dossier_page_for(request, who, report)

    async def dossier_page_for(
        request: Request,
        who: Operator,
        report: DossierStatusReport,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        waiting = await run_in_threadpool(waiting_of, container, report.view.reference)
        clients = await run_in_threadpool(list_clients, container)
        return page(
            request,
            "dossier.html",
            who.session,
            status_code,
            operator=who,
            report=report,
            waiting=waiting,
            missing=content.missing(report, waiting),
            actions=content.actions(report),
            rejection=[content.problem_line(p) for p in content.rejection(report)],
            actors={c.actor_id: c.name for c in clients},
            error=error,
        )

    @router.post("/dossiers/{reference}/hand-back")
    async def hand_back_result(
        request: Request, reference: str, background: BackgroundTasks
    ) -> Response:
        acted = await acting(request, reference, Action.HAND_BACK, posted=True)
        if isinstance(acted, Response):
            return acted
        who = acted.who
        try:
            await run_in_threadpool(hand_back, container, reference, Actor(who.client.actor_id))
        except (CannotHandBack, ConcurrentChange):
            report = await run_in_threadpool(dossier_status, container, reference)
            error = "Chưa ghi nhận được: hồ sơ chưa có kết quả để trả, hoặc đã trả rồi"
            return await dossier_page_for(request, who, report, error, 409)
        background.add_task(
            announce_action, container, reference, Announced.HANDED_BACK, who.client.actor_id
        )
        return _see_other(f"{PREFIX}/dossiers/{reference}")

    @router.get("/find")
    async def find(request: Request, q: str = "") -> Response:
        await signed_in(request)
        return _see_other(f"{PREFIX}/dossiers/{quote(q.strip()[:64], safe='')}")

    @router.get("/dossiers/{reference}/slip")
    async def slip(request: Request, reference: str) -> Response:
        acted = await acting(request, reference, Action.READ)
        if isinstance(acted, Response):
            return acted
        who, report = acted.who, acted.report
        procedure = content.procedure(report)
        try:
            made = await run_in_threadpool(receipt_slip, container, reference, procedure)
        except NoSlip:
            return _see_other(f"{PREFIX}/dossiers/{reference}")
        return page(request, "slip.html", who.session, operator=who, slip=made)

    # Entering a dossier

    def new_dossier_page(
        request: Request,
        who: Operator,
        chain: Chain,
        values: Mapping[str, str],
        problems: list[Problem] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        sections = fields.SECTIONS[chain]
        known = fields.input_names(sections) | {"jurisdiction"}
        errors, general = content.problems_by_field(problems or [], known)
        return page(
            request,
            "new_dossier.html",
            who.session,
            status_code,
            operator=who,
            chain=chain,
            sections=sections,
            values=values,
            errors=errors,
            general=general,
        )

    async def may_replace(who: Operator, reference: str) -> bool:
        """Whether the operator may submit under ``reference``: free, or its commune's."""
        try:
            report = await run_in_threadpool(dossier_status, container, reference)
        except DossierNotFound:
            return True
        view = report.view
        return await permitted(
            container, who.client, Action.SUBMIT, reference, view.province_code, view.commune_code
        )

    @router.get("/dossiers/{reference}/correction")
    async def correction(request: Request, reference: str) -> Response:
        """A dossier rejected at intake, in the entry form to be corrected and entered again
        under its reference (services/intake.py keeps the rejection in the audit trail)."""
        acted = await acting(request, reference, Action.SUBMIT)
        if isinstance(acted, Response):
            return acted
        who, report = acted.who, acted.report
        chain = report.view.chain
        if report.view.status != DossierStatus.REJECTED or chain is None:
            return _see_other(f"{PREFIX}/dossiers/{reference}")
        values = fields.form_values(report.payload, fields.SECTIONS[chain])
        if who.commune_code is None:
            values["jurisdiction"] = report.view.commune_code
        return new_dossier_page(request, who, chain, values, content.rejection(report))

    @router.get("/dossiers/new/{chain}")
    async def new_dossier(request: Request, chain: Chain) -> Response:
        who = await signed_in(request)
        now = container.deadlines.calendar.to_local(container.clock.now())
        values = {"received_at": now.strftime("%Y-%m-%dT%H:%M")}
        if who.commune_code is None:
            values["jurisdiction"] = ""
        return new_dossier_page(request, who, chain, values)

    @router.post("/dossiers/new/{chain}")
    async def enter_dossier(
        request: Request, chain: Chain, background: BackgroundTasks
    ) -> Response:
        who = await signed_in(request)
        form = await form_of(request, who.session)
        if isinstance(form, HTMLResponse):
            return form
        commune_code = who.commune_code or form.get("jurisdiction", "").strip()[:8]
        raw = fields.dossier_from_form(chain, form, content.jurisdiction_of(commune_code))
        reference = raw.get("reference", "")
        place = raw["jurisdiction"]
        if not await permitted(
            container,
            who.client,
            Action.SUBMIT,
            reference if isinstance(reference, str) else "",
            place.get("province_code", ""),
            place.get("commune_code", ""),
        ):
            return forbidden(request, who, reference if isinstance(reference, str) else "")
        # A reference on record is another commune's business (a resubmission replaces
        # the rejected dossier: services/intake.py): the operator must be allowed on it.
        if isinstance(reference, str) and not await may_replace(who, reference):
            return forbidden(request, who, reference)
        # At the counter, a dossier with problems is corrected there and then: it is shown
        # again with them, everything typed kept, and nothing is recorded until it is valid.
        try:
            parse_dossier(raw, now=container.clock.now(), limits=limits)
        except DossierInvalid as invalid:
            return new_dossier_page(request, who, chain, form, invalid.problems, 422)
        try:
            result = await run_in_threadpool(receive, container, raw, Actor(who.client.actor_id))
        except DuplicateReference as duplicate:
            problem = Problem(
                path="reference",
                message=f"mã hồ sơ {duplicate.reference} đã có trong sổ: dùng mã khác",
            )
            return new_dossier_page(request, who, chain, form, [problem], 409)
        if not result.accepted:
            return new_dossier_page(request, who, chain, form, list(result.problems), 422)
        background.add_task(continue_chain, container, result.reference)
        return _see_other(f"{PREFIX}/dossiers/{result.reference}/slip")

    # Supplement, withdrawal

    @router.get("/dossiers/{reference}/supplement")
    async def supplement_form(request: Request, reference: str) -> Response:
        acted = await acting(request, reference, Action.SUPPLEMENT)
        if isinstance(acted, Response):
            return acted
        who, report = acted.who, acted.report
        return await supplement_page(request, who, report, None, [])

    async def supplement_page(
        request: Request,
        who: Operator,
        report: DossierStatusReport,
        form: Mapping[str, str] | None,
        problems: list[Problem],
        status_code: int = 200,
    ) -> HTMLResponse:
        waiting = await run_in_threadpool(waiting_of, container, report.view.reference)
        sections: tuple[fields.Section, ...] = ()
        if waiting is not None and waiting.status == StepStatus.AWAITING_SUPPLEMENT:
            assert report.view.chain is not None
            sections = fields.supplement_sections(report.view.chain, waiting.kind)
        values = fields.form_values(report.payload, sections) if form is None else form
        known = fields.input_names(sections)
        errors, general = content.problems_by_field(problems, known)
        return page(
            request,
            "supplement.html",
            who.session,
            status_code,
            operator=who,
            report=report,
            waiting=waiting,
            missing=content.missing(report, waiting),
            sections=sections,
            values=values,
            errors=errors,
            general=general,
        )

    @router.post("/dossiers/{reference}/supplement")
    async def supplement(request: Request, reference: str, background: BackgroundTasks) -> Response:
        acted = await acting(request, reference, Action.SUPPLEMENT, posted=True)
        if isinstance(acted, Response):
            return acted
        who, report, form = acted.who, acted.report, acted.form
        waiting = await run_in_threadpool(waiting_of, container, reference)
        if waiting is None or waiting.status != StepStatus.AWAITING_SUPPLEMENT:
            problem = Problem(path="", message="hồ sơ không còn chờ bổ sung")
            return await supplement_page(request, who, report, form, [problem], 409)
        assert report.view.chain is not None
        sections = fields.supplement_sections(report.view.chain, waiting.kind)
        raw = fields.supplement_from_form(sections, form)
        actor = Actor(who.client.actor_id)
        try:
            await run_in_threadpool(record_supplement, container, reference, raw, actor)
        except DossierInvalid as invalid:
            return await supplement_page(request, who, report, form, invalid.problems, 422)
        except SupplementNotAllowed as exc:
            problem = Problem(path="", message=str(exc))
            return await supplement_page(request, who, report, form, [problem], 422)
        except (NotAwaitingSupplement, ConcurrentChange):
            problem = Problem(path="", message="hồ sơ vừa thay đổi: hãy xem lại và thử lại")
            return await supplement_page(request, who, report, form, [problem], 409)
        background.add_task(continue_chain, container, reference)
        return _see_other(f"{PREFIX}/dossiers/{reference}")

    @router.get("/dossiers/{reference}/withdrawal")
    async def withdrawal_form(request: Request, reference: str) -> Response:
        acted = await acting(request, reference, Action.WITHDRAW)
        if isinstance(acted, Response):
            return acted
        who, report = acted.who, acted.report
        return page(
            request,
            "withdrawal.html",
            who.session,
            operator=who,
            report=report,
            reason="",
            error=None,
        )

    @router.post("/dossiers/{reference}/withdrawal")
    async def withdrawal(request: Request, reference: str, background: BackgroundTasks) -> Response:
        acted = await acting(request, reference, Action.WITHDRAW, posted=True)
        if isinstance(acted, Response):
            return acted
        who, report, form = acted.who, acted.report, acted.form
        reason = " ".join(form.get("reason", "").split())
        error = None
        if not reason:
            error = "Ghi lý do rút hồ sơ"
        elif len(reason) > MAX_REASON_LENGTH:
            error = f"Lý do dài {len(reason)} ký tự, tối đa {MAX_REASON_LENGTH} ký tự"
        else:
            try:
                await run_in_threadpool(
                    withdraw, container, reference, reason, Actor(who.client.actor_id)
                )
            except (CannotWithdraw, ConcurrentChange):
                error = (
                    "Chưa rút được: hồ sơ đang được xử lý hoặc đã kết thúc; hãy thử lại sau ít phút"
                )
        if error is not None:
            return page(
                request,
                "withdrawal.html",
                who.session,
                409 if reason and len(reason) <= MAX_REASON_LENGTH else 422,
                operator=who,
                report=report,
                reason=form.get("reason", ""),
                error=error,
            )
        background.add_task(
            announce_action, container, reference, Announced.WITHDRAWN, who.client.actor_id
        )
        return _see_other(f"{PREFIX}/dossiers/{reference}")

    # A potential duplicate held at intake (issue 14): a person decides.

    async def duplicate_page(
        request: Request,
        who: Operator,
        reference: str,
        *,
        decision: str = "",
        reason: str = "",
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        try:
            held = await run_in_threadpool(held_dossier, container, reference)
        except NotHeld:
            return _see_other(f"{PREFIX}/dossiers/{reference}")
        return page(
            request,
            "duplicate.html",
            who.session,
            status_code,
            operator=who,
            held=held,
            decision=decision,
            reason=reason,
            error=error,
        )

    @router.get("/dossiers/{reference}/duplicate")
    async def duplicate_form(request: Request, reference: str) -> Response:
        acted = await acting(request, reference, Action.READ)
        if isinstance(acted, Response):
            return acted
        return await duplicate_page(request, acted.who, reference)

    @router.post("/dossiers/{reference}/duplicate")
    async def decide_duplicate(
        request: Request, reference: str, background: BackgroundTasks
    ) -> Response:
        acted = await acting(request, reference, Action.RESOLVE, posted=True)
        if isinstance(acted, Response):
            return acted
        who, form = acted.who, acted.form
        chosen = form.get("decision", "")
        reason = " ".join(form.get("reason", "").split())
        decision, _, into = chosen.partition(":")
        error = None
        if decision not in {d.value for d in Decision} or (decision == Decision.MERGE) != bool(
            into
        ):
            error = "Chọn một quyết định"
        elif not reason:
            error = "Ghi lý do (đã đối chiếu giấy tờ nào)"
        elif len(reason) > MAX_REASON_LENGTH:
            error = f"Lý do dài {len(reason)} ký tự, tối đa {MAX_REASON_LENGTH} ký tự"
        else:
            try:
                await run_in_threadpool(
                    partial(
                        resolve,
                        container,
                        reference,
                        Decision(decision),
                        reason=reason,
                        actor=Actor(who.client.actor_id),
                        into=into or None,
                    )
                )
            except (CannotResolve, NotHeld, ConcurrentChange) as refused:
                error = f"Chưa ghi nhận được: {refused}"
        if error is not None:
            return await duplicate_page(
                request,
                who,
                reference,
                decision=chosen,
                reason=reason,
                error=error,
                status_code=422,
            )
        if decision == Decision.DISTINCT:
            background.add_task(continue_chain, container, reference)
        return _see_other(f"{PREFIX}/dossiers/{reference}")

    return router
