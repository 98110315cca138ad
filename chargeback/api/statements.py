"""API: chargeback statements, for finance across tenants and for each unit.

``/api/v1/statements/`` lists every tenant's statements to finance and platform admins (others get
a 403); a statement's detail and export are also open to the members of its tenant, and to
nobody else (404, the same as a missing one). Review, finalize, void, credit notes and dispute
rejections are finance's (a unit member gets a 403). Under ``/api/v1/tenants/{tenant}/statements/``
the unit reads its own statements, and its owners dispute lines. ``/api/v1/billing-periods/``
shows each month's close and its progress; POST ``close/`` queues a close.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from chargeback.exports import EXPORT_FORMATS, statement_csv, statement_focus, statement_pdf
from chargeback.filters import StatementFilter
from chargeback.models import (
    BillingPeriod,
    CreditNote,
    LineDispute,
    Statement,
    StatementLine,
)
from chargeback.selectors import is_finance, visible_statements
from chargeback.serializers import (
    BillingPeriodSerializer,
    ClosePeriodSerializer,
    CreditNoteSerializer,
    CreditSerializer,
    DisputeCreateSerializer,
    DisputeRejectSerializer,
    DisputeSerializer,
    StatementDetailSerializer,
    StatementSerializer,
    VoidSerializer,
)
from chargeback.services.close import billing_period_close_queue
from chargeback.services.statements import (
    credit_issue,
    dispute_reject,
    line_dispute,
    statement_finalize,
    statement_review,
    statement_void,
)
from portal.core.api.renderers import CsvRenderer, FileRenderer, FileViewMixin
from portal.core.audit import Actor
from portal.core.downloads import content_disposition
from portal.core.errors import InvalidRequest, NotAllowed, NotFound
from tenants.access import FINANCE_ROLES, person_of
from tenants.routing import PlatformWideAPIView, TenantScopedAPIView
from tenants.scoping import tenant_scope


def _visible(request: Request, statement_id: int) -> Statement:
    statement = visible_statements(request.user).filter(pk=statement_id).first()
    if statement is None:
        raise NotFound("Not found.")
    return statement


def _for_finance(request: Request, statement_id: int) -> Statement:
    statement = _visible(request, statement_id)
    if not is_finance(request.user):
        raise NotAllowed("Only finance and platform admins act on statements.")
    return statement


def _lines(statement: Statement) -> list[StatementLine]:
    """The statement's lines with their disputes (inside the statement's tenant scope)."""
    return list(_lines_queryset().filter(statement=statement))


def _detail(statement: Statement) -> dict:
    with tenant_scope(statement.tenant_id):
        statement = (
            Statement.objects.select_related("tenant", "period")
            .prefetch_related(
                Prefetch("lines", queryset=_lines_queryset()),
                Prefetch("credit_notes", queryset=CreditNote.objects.order_by("id")),
            )
            .get(pk=statement.pk)
        )
        return StatementDetailSerializer(statement).data


def _lines_queryset() -> QuerySet[StatementLine]:
    return StatementLine.objects.prefetch_related(
        Prefetch("disputes", queryset=LineDispute.objects.order_by("id"))
    ).order_by("position")


class StatementListView(PlatformWideAPIView, generics.ListAPIView):
    """Every tenant's statements, newest month first (finance and platform admins)."""

    serializer_class = StatementSerializer
    platform_roles = FINANCE_ROLES
    platform_denied = "Only finance and platform admins see every tenant's statements."
    filter_backends = [DjangoFilterBackend]
    filterset_class = StatementFilter

    def get_queryset(self) -> QuerySet[Statement]:
        if getattr(self, "swagger_fake_view", False):  # the schema: no request, no tenant
            return Statement._base_manager.none()
        return visible_statements(self.request.user).order_by(
            "-period__month", "tenant__slug", "id"
        )


class StatementDetailView(generics.GenericAPIView):
    """A statement with its lines, their disputes and the credit notes issued on it."""

    serializer_class = StatementDetailSerializer

    def get(self, request: Request, statement_id: int) -> Response:
        return Response(_detail(_visible(request, statement_id)))


class StatementReviewView(generics.GenericAPIView):
    """Put a draft in review (finance)."""

    serializer_class = StatementSerializer

    @extend_schema(request=None, responses=StatementSerializer)
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _for_finance(request, statement_id)
        with tenant_scope(statement.tenant_id):
            statement = statement_review(actor=Actor.from_request(request), statement=statement)
            return Response(StatementSerializer(statement).data)


class StatementFinalizeView(generics.GenericAPIView):
    """Number the statement (CB-<year>-<0001>) and freeze it; a finalized statement is a 409."""

    serializer_class = StatementSerializer

    @extend_schema(request=None, responses=StatementSerializer)
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _for_finance(request, statement_id)
        with tenant_scope(statement.tenant_id):
            statement = statement_finalize(actor=Actor.from_request(request), statement=statement)
            return Response(StatementSerializer(statement).data)


class StatementVoidView(generics.GenericAPIView):
    """Void a draft or a statement in review, with a reason."""

    serializer_class = VoidSerializer

    @extend_schema(request=VoidSerializer, responses=StatementSerializer)
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _for_finance(request, statement_id)
        data = VoidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with tenant_scope(statement.tenant_id):
            statement = statement_void(
                actor=Actor.from_request(request),
                statement=statement,
                reason=data.validated_data["reason"],
            )
            return Response(StatementSerializer(statement).data)


class StatementCreditView(generics.GenericAPIView):
    """Issue a credit note on the statement (for a line, or settling a line's dispute); it
    appears on the tenant's next statement as a negative line."""

    serializer_class = CreditSerializer

    @extend_schema(request=CreditSerializer, responses={201: CreditNoteSerializer})
    def post(self, request: Request, statement_id: int) -> Response:
        statement = _for_finance(request, statement_id)
        data = CreditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        with tenant_scope(statement.tenant_id):
            line = dispute = None
            if "dispute" in given:
                dispute = LineDispute.objects.filter(
                    pk=given["dispute"], line__statement=statement
                ).first()
                if dispute is None:
                    raise InvalidRequest(
                        f"Statement {statement.pk} has no dispute {given['dispute']}."
                    )
            elif "line" in given:
                line = StatementLine.objects.filter(pk=given["line"], statement=statement).first()
                if line is None:
                    raise InvalidRequest(f"Statement {statement.pk} has no line {given['line']}.")
            credit = credit_issue(
                actor=Actor.from_request(request),
                statement=statement,
                amount=given["amount"],
                reason=given["reason"],
                line=line,
                dispute=dispute,
            )
            return Response(CreditNoteSerializer(credit).data, status=status.HTTP_201_CREATED)


class DisputeRejectView(generics.GenericAPIView):
    """Keep a disputed line as it is, saying why (finance)."""

    serializer_class = DisputeRejectSerializer

    @extend_schema(request=DisputeRejectSerializer, responses=DisputeSerializer)
    def post(self, request: Request, statement_id: int, dispute_id: int) -> Response:
        statement = _for_finance(request, statement_id)
        data = DisputeRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with tenant_scope(statement.tenant_id):
            dispute = LineDispute.objects.filter(pk=dispute_id, line__statement=statement).first()
            if dispute is None:
                raise NotFound("Not found.")
            dispute = dispute_reject(
                actor=Actor.from_request(request),
                dispute=dispute,
                resolution=data.validated_data["resolution"],
            )
            return Response(DisputeSerializer(dispute).data)


class FocusRenderer(FileRenderer):
    media_type = "text/csv"
    format = "focus"


class PdfRenderer(FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class StatementExportView(FileViewMixin, generics.GenericAPIView):
    """The statement as CSV, PDF or FOCUS 1.2 CSV (``?format=csv|pdf|focus``, default csv)."""

    renderer_classes = [CsvRenderer, PdfRenderer, FocusRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except (Http404, exceptions.NotFound):
            raise InvalidRequest(f"format must be one of: {', '.join(EXPORT_FORMATS)}.") from None

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=EXPORT_FORMATS, description="Default: csv.")
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def get(self, request: Request, statement_id: int) -> HttpResponse:
        statement = _visible(request, statement_id)
        chosen = request.query_params.get("format", "csv")
        with tenant_scope(statement.tenant_id):
            lines = _lines(statement)
        name = f"{statement.number or f'statement-{statement.pk}'}-{statement.period.label}"
        if chosen == "pdf":
            body, content_type, suffix = statement_pdf(statement, lines), "application/pdf", "pdf"
        elif chosen == "focus":
            body, content_type = statement_focus(statement, lines), "text/csv; charset=utf-8"
            name, suffix = f"{name}-focus", "csv"
        else:
            body, content_type, suffix = (
                statement_csv(statement, lines),
                "text/csv; charset=utf-8",
                "csv",
            )
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = content_disposition(f"{name}.{suffix}")
        return response


# --- The unit's own statements -------------------------------------------------------------------

TENANT_READERS = ("read", "billing")


class TenantStatementListView(TenantScopedAPIView, generics.ListAPIView):
    """The unit's statements, newest month first."""

    serializer_class = StatementSerializer
    required_capabilities = {"GET": TENANT_READERS, "HEAD": TENANT_READERS, "OPTIONS": None}

    def get_queryset(self) -> QuerySet[Statement]:
        return Statement.objects.select_related("tenant", "period").order_by("-period__month", "id")


class TenantStatementDetailView(TenantScopedAPIView, generics.GenericAPIView):
    """One of the unit's statements, with lines, disputes and credit notes."""

    serializer_class = StatementDetailSerializer
    required_capabilities = {"GET": TENANT_READERS, "OPTIONS": None}

    def get(self, request: Request, tenant: str, statement_id: int) -> Response:
        statement = Statement.objects.filter(pk=statement_id).first()
        if statement is None:
            raise NotFound("Not found.")
        return Response(_detail(statement))


class LineDisputeView(TenantScopedAPIView, generics.GenericAPIView):
    """A tenant owner disputes one line of a statement, saying what is wrong."""

    serializer_class = DisputeCreateSerializer
    required_capabilities = {"POST": "manage", "OPTIONS": None}

    @extend_schema(request=DisputeCreateSerializer, responses={201: DisputeSerializer})
    def post(self, request: Request, tenant: str, statement_id: int, line_id: int) -> Response:
        line = (
            StatementLine.objects.filter(pk=line_id, statement_id=statement_id)
            .select_related("statement")
            .first()
        )
        if line is None:
            raise NotFound("Not found.")
        data = DisputeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = line_dispute(
            actor=Actor.from_request(request),
            user=person_of(request),
            line=line,
            comment=data.validated_data["comment"],
        )
        return Response(DisputeSerializer(dispute).data, status=status.HTTP_201_CREATED)


# --- Billing periods -------------------------------------------------------------------------------


class BillingPeriodListView(PlatformWideAPIView, generics.ListAPIView):
    """Each month's close: state, tenants processed of the total, the last error (finance)."""

    serializer_class = BillingPeriodSerializer
    platform_roles = FINANCE_ROLES
    platform_denied = "Only finance and platform admins see the month closes."

    def get_queryset(self) -> QuerySet[BillingPeriod]:
        return BillingPeriod.objects.order_by("-month")


class BillingPeriodCloseView(PlatformWideAPIView, generics.GenericAPIView):
    """Queue the close of a month (default: the previous one); follow it on the list."""

    serializer_class = ClosePeriodSerializer
    platform_roles = FINANCE_ROLES
    platform_denied = "Only finance and platform admins close a month."

    @extend_schema(request=ClosePeriodSerializer, responses={202: None})
    def post(self, request: Request) -> Response:
        data = ClosePeriodSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        billing_period_close_queue(
            actor=Actor.user(request.user), label=data.validated_data.get("period")
        )
        return Response(
            {"detail": "The close is queued; follow it on GET /api/v1/billing-periods/."},
            status=status.HTTP_202_ACCEPTED,
        )
