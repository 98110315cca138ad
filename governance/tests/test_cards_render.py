"""Model cards render the same sections as Markdown and as a PDF, whatever people typed."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from governance import cards_render
from governance.cards_render import SECTIONS, card_markdown, card_pdf, format_metric


def make_card(**overrides: Any) -> dict[str, Any]:
    card: dict[str, Any] = {
        "model_name": "fraud-detector",
        "version": 3,
        "tenant_name": "Acme Bank",
        "status": "approved",
        "completeness": 80,
        "missing": ["Limitations", "Ethical considerations"],
        "purpose": "Flags card transactions that look **fraudulent**.",
        "intended_uses": "Second-line review of flagged payments.",
        "factors": "Merchant category and country.",
        "risk_rating": "high",
        "risk_explanation": "Creditworthiness assessment (Annex III).",
        "training_data": "Card transactions from 2023.",
        "limitations": "Unreliable for merchants seen fewer than ten times.",
        "ethical_considerations": "Reviewed for disparate impact by age band.",
        "owner": "alice",
        "metrics": {"rmse": 0.123456, "auc": 0.91, "accuracy": 0.9},
        "params": {"max_depth": "6", "learning_rate": "0.1"},
        "datasets": [
            {
                "name": "transactions",
                "digest": "e3b0c44298fc1c149afbf4c8996fb924",
                "source": "s3://fraud/2023.parquet",
                "context": "training",
            }
        ],
        "run_id": "9f2c41d07a",
        "artifact_digest": "sha256:" + "ab" * 32,
        "updated_at": "2024-05-01T10:00:00+00:00",
        "approved_by": "grace",
        "approved_at": "2024-05-02T09:30:00+00:00",
    }
    card.update(overrides)
    return card


def table_rows(markdown: str, first_heading: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"| {first_heading} |")))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def unescaped_pipes(row: str) -> int:
    return len(re.findall(r"(?<!\\)\|", row))


def page_count(pdf: bytes) -> int:
    # fpdf2 writes one page tree, so the only /Count is its number of pages.
    [count] = re.findall(rb"/Count (\d+)", pdf)
    return int(count)


def drawn_text(pdf: bytes) -> bytes:
    """The literal strings of every content stream; readable only with a core (latin-1) font."""
    streams = re.findall(rb"stream\n(.*?)\nendstream", pdf, re.S)
    content = b"".join(zlib.decompress(s) for s in streams if s.startswith(b"x"))
    return b"".join(re.findall(rb"\((.*?)\) Tj", content))


def document_title(pdf: bytes) -> str:
    raw = re.search(rb"/Title (<[0-9a-f]+>|\(.*?\))", pdf)
    assert raw is not None
    value = raw.group(1)
    if value.startswith(b"<"):
        return bytes.fromhex(value[1:-1].decode()).decode("utf-16")
    return value[1:-1].decode("latin-1")


@pytest.fixture
def without_dejavu(monkeypatch):
    missing = Path("/nonexistent/fonts")
    monkeypatch.setattr(
        cards_render, "UNICODE_FONT", {"": missing / "a.ttf", "B": missing / "b.ttf"}
    )


# Markdown


def test_markdown_has_every_section_heading_in_order():
    markdown = card_markdown(make_card())
    assert markdown.startswith("# Model card: fraud-detector v3\n")
    positions = [markdown.index(f"\n## {heading}\n") for heading in SECTIONS]
    assert positions == sorted(positions)
    assert len(SECTIONS) == 8


def test_markdown_metrics_table_is_sorted_by_name_with_four_decimals_at_most():
    rows = table_rows(card_markdown(make_card()), "Metric")
    assert rows == ["| accuracy | 0.9 |", "| auc | 0.91 |", "| rmse | 0.1235 |"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.123456, "0.1235"), (1.0, "1"), (12345.678, "12345.678"), (0.0000123, "1.23e-05"), (0, "0")],
)
def test_metric_values_keep_up_to_four_decimals(value, shown):
    assert format_metric(value) == shown


def test_an_empty_field_reads_not_provided_yet_in_italics():
    markdown = card_markdown(make_card(limitations="", owner=None))
    limitations = markdown.split("## Limitations\n\n", 1)[1]
    assert limitations.startswith("*Not provided yet*\n")
    assert "**Owner:** *Not provided yet*" in markdown


def test_a_card_without_metrics_says_so():
    markdown = card_markdown(make_card(metrics={}))
    evaluation = markdown.split("## Evaluation\n\n", 1)[1]
    assert evaluation.startswith("*No metrics logged*\n")


def test_a_pipe_in_a_metric_name_or_dataset_source_does_not_break_the_table():
    card = make_card(
        metrics={"f1|macro": 0.8},
        datasets=[{"name": "tx", "digest": "d" * 40, "source": "s3://a|b", "context": "eval"}],
    )
    markdown = card_markdown(card)
    [metric] = table_rows(markdown, "Metric")
    [dataset] = table_rows(markdown, "Name")
    assert metric == "| f1\\|macro | 0.8 |"
    assert unescaped_pipes(metric) == 3
    assert unescaped_pipes(dataset) == 5
    assert "s3://a\\|b" in dataset


def test_a_line_break_inside_a_parameter_value_stays_in_its_row():
    [row] = table_rows(card_markdown(make_card(params={"note": "one\ntwo"})), "Parameter")
    assert row == "| note | one two |"


def test_datasets_show_their_digest_shortened_to_twelve_characters():
    [row] = table_rows(card_markdown(make_card()), "Name")
    assert row == "| transactions | training | s3://fraud/2023.parquet | e3b0c44298fc |"


def test_user_markdown_outside_tables_is_kept_as_written():
    assert "look **fraudulent**." in card_markdown(make_card())


def test_raw_html_in_a_card_reads_as_text_not_markup():
    script = "<script>alert(1)</script>"
    markdown = card_markdown(
        make_card(
            model_name="m<img src=x onerror=alert(1)>",
            limitations=f"See {script} & <!-- hidden -->.",
            owner="<b>alice</b>",
            params={"<iframe>": "<svg onload=alert(1)>"},
            datasets=[{"name": "<a href='javascript:x'>d</a>", "source": "s3://x"}],
        )
    )

    assert "<" not in markdown
    assert "See &lt;script>alert(1)&lt;/script> &amp; &lt;!-- hidden -->." in markdown
    assert "# Model card: m&lt;img src=x onerror=alert(1)> v3" in markdown


def test_the_summary_names_the_approver_the_day_and_what_is_missing():
    summary = card_markdown(make_card()).splitlines()[2]
    assert summary == (
        "Tenant: Acme Bank · Status: Approved by grace on 2024-05-02 · Completeness: 80%"
        " · Missing: Limitations, Ethical considerations"
    )


def test_a_complete_draft_lists_nothing_missing():
    summary = card_markdown(make_card(status="in_review", completeness=100, missing=[]))
    assert "Status: In review · Completeness: 100%\n" in summary
    assert "Missing" not in summary


@pytest.mark.parametrize(
    ("rating", "words"),
    [
        ("prohibited", "Prohibited"),
        ("high", "High risk"),
        ("limited", "Limited risk"),
        ("minimal", "Minimal risk"),
        ("", "Not classified"),
        (None, "Not classified"),
    ],
)
def test_the_risk_tier_reads_in_words(rating, words):
    assert f"**EU AI Act tier:** {words}\n" in card_markdown(make_card(risk_rating=rating))


def test_an_empty_card_still_renders_every_section():
    markdown = card_markdown({})
    assert all(f"\n## {heading}\n" in markdown for heading in SECTIONS)
    assert card_pdf({}).startswith(b"%PDF")


# PDF


def test_the_pdf_starts_with_the_pdf_signature_and_names_the_model():
    pdf = card_pdf(make_card())
    assert pdf.startswith(b"%PDF")
    assert document_title(pdf) == "Model card: fraud-detector v3"
    assert b"/CreationDate (D:20240501100000Z)" in pdf


def test_a_very_long_limitations_text_runs_onto_more_pages():
    short = card_pdf(make_card())
    long = card_pdf(make_card(limitations="Not validated outside the EU. " * 2000))
    assert page_count(long) > page_count(short)
    assert page_count(long) > 1
    assert len(long) > len(short)


def test_the_same_card_renders_the_same_bytes_every_time():
    assert card_pdf(make_card()) == card_pdf(make_card())


def test_a_card_without_a_timestamp_is_still_deterministic():
    assert card_pdf(make_card(updated_at=None)) == card_pdf(make_card(updated_at=None))


def test_non_latin_text_renders_without_error():
    card = make_card(model_name="Zoë — 信用", owner="Zoë", limitations="Zoë — 信用 " * 50)
    assert "# Model card: Zoë — 信用 v3" in card_markdown(card)
    pdf = card_pdf(card)
    assert pdf.startswith(b"%PDF")
    assert document_title(pdf) == "Model card: Zoë — 信用 v3"


def test_a_huge_parameter_value_is_cut_to_fit_a_table_row():
    pdf = card_pdf(make_card(params={"config": "x" * 20_000}))
    assert pdf.startswith(b"%PDF")


def test_without_dejavu_the_pdf_uses_helvetica_and_question_marks(without_dejavu):
    text = drawn_text(card_pdf(make_card(model_name="Zoë — 信用")))
    assert b"Model card: Zo\xeb ? ?? v3" in text
    assert b"Page 1 of " in text
    assert b"Model overview" in text and b"Lineage" in text
