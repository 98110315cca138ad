"""Render a model card, after SageMaker model cards, as Markdown or as a PDF.

Both renderers take the same plain mapping (see ``card_markdown``) and produce the same headings in
the same order. They are pure: no models, no database, no network. Every key may be missing or
empty; an empty text field reads "Not provided yet". User text is Markdown written by people and
is kept as-is in Markdown, except that raw HTML is not: ``<`` and ``&`` are written as entities,
so a renderer shows a tag as text instead of running it (a model's name comes from MLflow), and
inside table cells pipes and line breaks are escaped so the table holds. The PDF prints user
text literally and uses DejaVu Sans when the system has it (any Unicode), otherwise Helvetica
with characters outside latin-1 replaced by "?". Its creation date comes from ``updated_at`` so
the same card always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace, XPos, YPos

NOT_PROVIDED = "Not provided yet"
NO_METRICS = "No metrics logged"
NO_DATASETS = "No datasets logged"
NO_PARAMS = "No parameters logged"

SECTIONS = (
    "Model overview",
    "Intended uses",
    "Risk rating",
    "Training data",
    "Evaluation",
    "Limitations",
    "Ethical considerations",
    "Lineage",
)

STATUS_WORDS = {"draft": "Draft", "in_review": "In review", "approved": "Approved"}
RISK_WORDS = {
    "prohibited": "Prohibited",
    "high": "High risk",
    "limited": "Limited risk",
    "minimal": "Minimal risk",
}
NOT_CLASSIFIED = "Not classified"
DIGEST_LENGTH = 12

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
UNICODE_FONT = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}
# A card without a timestamp still renders the same bytes every time.
FALLBACK_DATE = datetime(2000, 1, 1, tzinfo=UTC)

DATASET_HEADINGS = ("Name", "Context", "Source", "Digest")
METRIC_HEADINGS = ("Metric", "Value")
PARAM_HEADINGS = ("Parameter", "Value")


# Shared reading of the card


def _text(card: Mapping[str, Any], key: str) -> str:
    value = card.get(key)
    return "" if value is None else str(value).strip()


def _parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _day(value: Any) -> str:
    parsed = _parse_datetime(value)
    return parsed.date().isoformat() if parsed else str(value or "").strip()


def format_metric(value: Any) -> str:
    """Up to four decimals without trailing zeros; tiny values keep four significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    if not math.isfinite(number):
        return str(number)
    fixed = f"{number:.4f}".rstrip("0").rstrip(".")
    if fixed in ("0", "-0"):
        return "0" if number == 0 else f"{number:.4g}"
    return fixed


def short_digest(value: Any) -> str:
    return str(value or "").strip()[:DIGEST_LENGTH]


def title_line(card: Mapping[str, Any]) -> str:
    version = _text(card, "version")
    return f"Model card: {_text(card, 'model_name')}" + (f" v{version}" if version else "")


def _status_words(card: Mapping[str, Any]) -> str:
    status = _text(card, "status")
    words = STATUS_WORDS.get(status, status.replace("_", " ").capitalize() or "Draft")
    if status == "approved":
        approver, day = _text(card, "approved_by"), _day(card.get("approved_at"))
        words += (f" by {approver}" if approver else "") + (f" on {day}" if day else "")
    return words


def _completeness(card: Mapping[str, Any]) -> int:
    try:
        return max(0, min(100, int(card.get("completeness") or 0)))
    except (TypeError, ValueError):
        return 0


def summary_line(card: Mapping[str, Any]) -> str:
    """Tenant, status and completeness on one line, with what is still missing."""
    parts = [
        f"Tenant: {_text(card, 'tenant_name') or NOT_PROVIDED}",
        f"Status: {_status_words(card)}",
        f"Completeness: {_completeness(card)}%",
    ]
    missing = [str(label) for label in card.get("missing") or () if str(label).strip()]
    if missing:
        parts.append(f"Missing: {', '.join(missing)}")
    return " · ".join(parts)


def risk_words(card: Mapping[str, Any]) -> str:
    return RISK_WORDS.get(_text(card, "risk_rating").lower(), NOT_CLASSIFIED)


def dataset_rows(card: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for dataset in card.get("datasets") or ():
        if not isinstance(dataset, Mapping):
            continue
        rows.append(
            (
                _text(dataset, "name"),
                _text(dataset, "context"),
                _text(dataset, "source"),
                short_digest(dataset.get("digest")),
            )
        )
    return rows


def metric_rows(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    metrics = card.get("metrics") or {}
    return [(str(name), format_metric(metrics[name])) for name in sorted(metrics, key=str)]


def param_rows(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    params = card.get("params") or {}
    return [(str(name), _cell_value(params[name])) for name in sorted(params, key=str)]


def _cell_value(value: Any) -> str:
    return "" if value is None else str(value)


# Markdown


def _md_html(value: str) -> str:
    """``value`` with no HTML a Markdown renderer would pass through: tags, comments and
    entities read as the characters typed."""
    return value.replace("&", "&amp;").replace("<", "&lt;")


def _md_text(value: str) -> str:
    return _md_html(value) or f"*{NOT_PROVIDED}*"


def _md_cell(value: str) -> str:
    # A line break ends a table row and a bare pipe starts a new cell.
    return _md_html(" ".join(value.split())).replace("|", "\\|")


def _md_code(value: str) -> str:
    if not value:
        return f"*{NOT_PROVIDED}*"
    fence = "`"
    while fence in value:
        fence += "`"
    padding = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{padding}{value}{padding}{fence}"


def _md_table(headings: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    rows = list(rows)
    if not rows:
        return f"*{empty}*"
    lines = [
        "| " + " | ".join(headings) + " |",
        "| " + " | ".join("---" for _ in headings) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown.

    Keys (any may be missing or empty): model_name, version, tenant_name, status, completeness,
    missing, purpose, intended_uses, factors, risk_rating, risk_explanation, training_data,
    limitations, ethical_considerations, owner, metrics, params, datasets (name, digest, source,
    context), run_id, artifact_digest, updated_at, approved_by, approved_at.
    """
    blocks = [
        f"# {_md_html(title_line(card))}",
        _md_html(summary_line(card)),
        "## Model overview",
        "### Purpose",
        _md_text(_text(card, "purpose")),
        f"**Owner:** {_md_text(_text(card, 'owner'))}",
        "## Intended uses",
        "### Intended uses",
        _md_text(_text(card, "intended_uses")),
        "### Factors affecting performance",
        _md_text(_text(card, "factors")),
        "## Risk rating",
        f"**EU AI Act tier:** {risk_words(card)}",
        "### Explanation",
        _md_text(_text(card, "risk_explanation")),
        "## Training data",
        _md_text(_text(card, "training_data")),
        "### Datasets",
        _md_table(DATASET_HEADINGS, dataset_rows(card), NO_DATASETS),
        "## Evaluation",
        _md_table(METRIC_HEADINGS, metric_rows(card), NO_METRICS),
        "## Limitations",
        _md_text(_text(card, "limitations")),
        "## Ethical considerations",
        _md_text(_text(card, "ethical_considerations")),
        "## Lineage",
        f"**Run ID:** {_md_code(_text(card, 'run_id'))}",
        f"**Artifact digest:** {_md_code(_text(card, 'artifact_digest'))}",
        "### Parameters",
        _md_table(PARAM_HEADINGS, param_rows(card), NO_PARAMS),
    ]
    return "\n\n".join(blocks) + "\n"


# PDF

BODY_SIZE = 10
LINE_HEIGHT = 5
PDF_CELL_LIMIT = 500
MUTED = (110, 110, 110)
BLACK = (0, 0, 0)


def _latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _unicode_font_available() -> bool:
    return all(path.is_file() for path in UNICODE_FONT.values())


class _CardPDF(FPDF):
    """An A4 document with the card's name in the header and "Page N of M" in the footer."""

    def __init__(self, *, running_title: str) -> None:
        super().__init__(format="A4")
        self.latin1_only = not _unicode_font_available()
        if self.latin1_only:
            self.card_font = "Helvetica"
        else:
            for style, path in UNICODE_FONT.items():
                self.add_font("DejaVu", style, str(path))
            self.card_font = "DejaVu"
        self.running_title = self.clean(running_title)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(left=18, top=18, right=18)

    def clean(self, text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
        return _latin1(text) if self.latin1_only else text

    def header(self) -> None:
        self.set_font(self.card_font, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 6, self.running_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)
        self.set_text_color(*BLACK)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self.card_font, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(*BLACK)

    def heading(self, text: str, *, size: int) -> None:
        self.set_font(self.card_font, "B", size)
        self.multi_cell(0, size * 0.5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def keep_with_next(self, height: float) -> None:
        # A heading alone at the foot of a page reads as if its section were empty.
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()

    def section(self, text: str) -> None:
        self.ln(4)
        self.keep_with_next(25)
        self.heading(text, size=13)

    def subheading(self, text: str) -> None:
        self.ln(1)
        self.keep_with_next(18)
        self.heading(text, size=11)

    def paragraph(self, text: str) -> None:
        self.set_font(self.card_font, "", BODY_SIZE)
        if not text:
            self.set_text_color(*MUTED)
        self.multi_cell(
            0, LINE_HEIGHT, self.clean(text or NOT_PROVIDED), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_text_color(*BLACK)
        self.ln(1.5)

    def field(self, label: str, value: str) -> None:
        self.set_font(self.card_font, "B", BODY_SIZE)
        self.cell(text=self.clean(f"{label}: "))
        self.paragraph(value)

    def table_or(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[int],
        empty: str,
    ) -> None:
        if not rows:
            self.set_font(self.card_font, "", BODY_SIZE)
            self.set_text_color(*MUTED)
            self.multi_cell(0, LINE_HEIGHT, empty, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(*BLACK)
            self.ln(1.5)
            return
        self.set_font(self.card_font, "", 9)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=LINE_HEIGHT,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        ) as table:
            for row in [headings, *rows]:
                cells = table.row()
                for value in row:
                    cells.cell(self.clean(_pdf_cell(value)))
        self.ln(3)


def _pdf_cell(value: str) -> str:
    # fpdf2 refuses a table row taller than a page, so a cell keeps one bounded paragraph.
    flat = " ".join(value.split())
    return flat if len(flat) <= PDF_CELL_LIMIT else flat[: PDF_CELL_LIMIT - 3] + "..."


def _creation_date(card: Mapping[str, Any]) -> datetime:
    updated = _parse_datetime(card.get("updated_at")) or FALLBACK_DATE
    return updated if updated.tzinfo else updated.replace(tzinfo=UTC)


def card_pdf(card: Mapping[str, Any]) -> bytes:
    """The card as an A4 PDF, with the same keys and headings as ``card_markdown``."""
    version = _text(card, "version")
    running_title = _text(card, "model_name") + (f" v{version}" if version else "")
    pdf = _CardPDF(running_title=running_title)
    pdf.set_creation_date(_creation_date(card))
    pdf.set_title(title_line(card))
    pdf.set_creator("MLOps portal")
    pdf.add_page()

    pdf.heading(title_line(card), size=17)
    pdf.set_font(pdf.card_font, "", 9)
    pdf.multi_cell(
        0, LINE_HEIGHT, pdf.clean(summary_line(card)), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )

    pdf.section("Model overview")
    pdf.subheading("Purpose")
    pdf.paragraph(_text(card, "purpose"))
    pdf.field("Owner", _text(card, "owner"))

    pdf.section("Intended uses")
    pdf.subheading("Intended uses")
    pdf.paragraph(_text(card, "intended_uses"))
    pdf.subheading("Factors affecting performance")
    pdf.paragraph(_text(card, "factors"))

    pdf.section("Risk rating")
    pdf.field("EU AI Act tier", risk_words(card))
    pdf.subheading("Explanation")
    pdf.paragraph(_text(card, "risk_explanation"))

    pdf.section("Training data")
    pdf.paragraph(_text(card, "training_data"))
    pdf.subheading("Datasets")
    pdf.table_or(DATASET_HEADINGS, dataset_rows(card), (3, 2, 4, 2), NO_DATASETS)

    pdf.section("Evaluation")
    pdf.table_or(METRIC_HEADINGS, metric_rows(card), (3, 1), NO_METRICS)

    pdf.section("Limitations")
    pdf.paragraph(_text(card, "limitations"))

    pdf.section("Ethical considerations")
    pdf.paragraph(_text(card, "ethical_considerations"))

    pdf.section("Lineage")
    pdf.field("Run ID", _text(card, "run_id"))
    pdf.field("Artifact digest", _text(card, "artifact_digest"))
    pdf.subheading("Parameters")
    pdf.table_or(PARAM_HEADINGS, param_rows(card), (1, 2), NO_PARAMS)

    return bytes(pdf.output())
