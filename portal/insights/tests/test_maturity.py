"""The maturity checklist: the API, saving assessments (audited), the page and who may save."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from governance.tests.builders import make_version
from portal.insights.models import MaturityAssessment
from portal.insights.tests.builders import deploy, monitor
from tenants.scoping import tenant_scope
from tests.builders import client_for, signed_in

pytestmark = pytest.mark.django_db

OWNER_QUESTIONS = ("q05", "q10", "q12", "q13", "q15")


def url(company) -> str:
    return f"/api/v1/tenants/{company.a.slug}/maturity/"


def all_yes() -> dict[str, bool]:
    return dict.fromkeys(OWNER_QUESTIONS, True)


def test_get_lists_sixteen_questions_with_the_portals_answers_and_evidence(company):
    make_version(company.a)
    body = client_for(company.amir).get(url(company)).json()
    questions = {q["id"]: q for q in body["questions"]}
    assert len(questions) == 16
    assert questions["q01"]["answered_by"] == "portal" and questions["q01"]["answer"] is True
    assert "MLflow run that trained it" in questions["q01"]["evidence"]
    assert questions["q05"]["answered_by"] == "owner" and questions["q05"]["answer"] is None
    assert body["latest_assessment"] is None and body["history"] == []
    assert body["current"]["complete"] is False


def test_an_owner_saves_an_assessment_which_is_scored_and_audited(company):
    make_version(company.a)
    answer = client_for(company.alice).post(url(company), {"answers": all_yes()}, format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    # q01, q02, q03, q06 and q16 are yes from the data: a model version with a run, metrics and
    # a dataset; q16 is no (the model has no risk tier yet), plus the five owner answers.
    assert body["answers"]["q01"] is True and body["answers"]["q05"] is True
    assert body["yes_count"] == 9 and body["level_label"] == "Level 2"
    assert body["answered_by"]["q01"] == "portal" and body["answered_by"]["q05"] == "owner"
    with tenant_scope(company.a):
        saved = MaturityAssessment.objects.get()
        audit = AuditEvent.objects.get(action="maturity.assessed")
    assert saved.assessed_by == company.alice and audit.object_id == str(saved.pk)
    again = client_for(company.amir).get(url(company)).json()
    assert again["latest_assessment"]["id"] == saved.pk
    assert {q["id"]: q["answer"] for q in again["questions"]}["q05"] is True
    assert len(again["history"]) == 1


def test_answers_the_portal_settles_are_refused_with_a_sentence(company):
    answers = {**all_yes(), "q01": True}
    answer = client_for(company.alice).post(url(company), {"answers": answers}, format="json")
    assert answer.status_code == 400
    assert "q01 is answered from the portal's data" in answer.json()["detail"]


def test_every_owner_question_needs_an_answer(company):
    answers = all_yes()
    del answers["q15"]
    answer = client_for(company.alice).post(url(company), {"answers": answers}, format="json")
    assert answer.status_code == 400 and "q15" in answer.json()["detail"]
    with tenant_scope(company.a):
        assert not MaturityAssessment.objects.exists()


def test_engineers_and_viewers_may_read_but_not_save(company):
    for person in (company.amir, company.ava):
        client = client_for(person)
        assert client.get(url(company)).status_code == 200
        saved = client.post(url(company), {"answers": all_yes()}, format="json")
        assert saved.status_code == 403


def test_another_unit_gets_a_404_on_the_api_and_the_page(company):
    assert client_for(company.bob).get(url(company)).status_code == 404
    saved = client_for(company.bob).post(url(company), {"answers": all_yes()}, format="json")
    assert saved.status_code == 404
    assert signed_in(company.bob).get(f"/t/{company.a.slug}/maturity/").status_code == 404


def test_finance_may_not_read_a_units_maturity(company):
    assert client_for(company.fiona).get(url(company)).status_code == 403


def test_the_page_shows_portal_answers_with_evidence_and_the_owner_answers_the_rest(company):
    version = make_version(company.a)
    deploy(company.a, version)
    monitor(company.a, "churn")
    page = signed_in(company.alice).get(f"/t/{company.a.slug}/maturity/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Save assessment" in html
    assert "The 1 live revision has an active drift monitor." in html
    assert 'name="q09"' not in html and 'name="q05"' in html
    form = {question: "no" for question in OWNER_QUESTIONS}
    saved = signed_in(company.alice).post(f"/t/{company.a.slug}/maturity/", form, follow=True)
    text = saved.content.decode()
    assert "Assessment saved" in text and "<svg" in text and "Level over time" in text
    with tenant_scope(company.a):
        assert MaturityAssessment.objects.get().answers["q05"] is False


def test_an_unanswered_question_is_named_next_to_its_field(company):
    form = {question: "yes" for question in OWNER_QUESTIONS[1:]}
    answer = signed_in(company.alice).post(f"/t/{company.a.slug}/maturity/", form)
    assert answer.status_code == 400
    assert "Answer yes or no." in answer.content.decode()


def test_a_viewer_gets_no_save_button_and_cannot_post(company):
    page = signed_in(company.ava).get(f"/t/{company.a.slug}/maturity/").content.decode()
    main = page.split("<main", 1)[1]
    assert "Save assessment" not in main and "<form" not in main and 'type="radio"' not in main
    assert "The unit's owners answer and save the checklist." in page
    posted = signed_in(company.ava).post(f"/t/{company.a.slug}/maturity/", {"q05": "yes"})
    assert posted.status_code == 403


def test_the_level_chart_has_a_point_per_assessment(company):
    for _ in range(3):
        client_for(company.alice).post(url(company), {"answers": all_yes()}, format="json")
    html = signed_in(company.amir).get(f"/t/{company.a.slug}/maturity/").content.decode()
    assert html.count("<circle") == 3
    assert "Level 3-4" in html


def test_the_level_chart_can_be_read_as_a_list_of_assessments(company):
    for _ in range(2):
        client_for(company.alice).post(url(company), {"answers": all_yes()}, format="json")
    html = signed_in(company.ava).get(f"/t/{company.a.slug}/maturity/").content.decode()
    listed = html.split("Every assessment as a list", 1)[1].split("</ol>", 1)[0]
    assert listed.count("<li>") == 2 and "of 16 yes, Level" in listed and "(alice)" in listed


def test_an_unanswered_question_is_described_by_its_message(company):
    form = {question: "yes" for question in OWNER_QUESTIONS[1:]}
    html = signed_in(company.alice).post(f"/t/{company.a.slug}/maturity/", form).content.decode()
    first = OWNER_QUESTIONS[0]
    assert f'-evidence id_{first}_error">' in html
    assert f'<p class="error" id="id_{first}_error" role="alert">Answer yes or no.</p>' in html
