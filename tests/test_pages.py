"""Pages: sign-in, the tenant overview, tokens from the browser, the admin for platform admins."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.builders import PASSWORD, signed_in
from tests.processes import ROOT_DIR


@pytest.mark.django_db
def test_the_login_page_signs_a_person_in_and_lands_on_their_home_page(company):
    client = Client()
    assert client.get("/login/").status_code == 200
    answer = client.post("/login/", {"username": "amir", "password": PASSWORD}, follow=True)
    assert answer.redirect_chain[-1][0] == "/"
    html = answer.content.decode()
    assert f'href="/t/{company.a.slug}/">Acme Retail</a>' in html and "Your deployments" in html


@pytest.mark.django_db
def test_a_wrong_password_says_so_and_repeated_attempts_are_throttled(company, settings):
    settings.LOGIN_THROTTLE = "3/5min"
    client = Client()
    wrong = client.post("/login/", {"username": "amir", "password": "nope"})
    assert "do not match" in wrong.content.decode()
    for _ in range(2):
        client.post("/login/", {"username": "amir", "password": "nope"})
    throttled = client.post("/login/", {"username": "amir", "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "Too many sign-in attempts" in throttled.content.decode()


@pytest.mark.django_db
def test_pages_ask_anonymous_visitors_to_sign_in(company):
    answer = Client().get(f"/t/{company.a.slug}/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


@pytest.mark.django_db
def test_another_units_overview_is_not_found(company):
    assert signed_in(company.bob).get(f"/t/{company.a.slug}/").status_code == 404


@pytest.mark.django_db
def test_a_viewer_sees_the_unit_but_no_action_buttons(company):
    html = signed_in(company.ava).get(f"/t/{company.a.slug}/").content.decode()
    assert "Ava" in html and "Members" in html
    assert "New token" not in html and "Revoke" not in html
    assert signed_in(company.ava).get(f"/t/{company.a.slug}/tokens/new/").status_code == 403


@pytest.mark.django_db
def test_an_owner_creates_a_token_on_the_page_and_sees_the_secret_once(company):
    alice = signed_in(company.alice)
    assert "New token" in alice.get(f"/t/{company.a.slug}/").content.decode()
    created = alice.post(
        f"/t/{company.a.slug}/tokens/new/",
        {"name": "Nightly retrain", "scopes": ["read", "write"], "expires_in_days": 30},
    )
    html = created.content.decode()
    assert "shown only once" in html and "mlp_" in html
    overview = alice.get(f"/t/{company.a.slug}/").content.decode()
    assert "Nightly retrain" in overview
    assert "token.created" in overview  # recent activity


@pytest.mark.django_db
def test_a_token_form_with_no_scope_says_what_to_fix_next_to_the_field(company):
    answer = signed_in(company.alice).post(
        f"/t/{company.a.slug}/tokens/new/", {"name": "x", "expires_in_days": 30}
    )
    assert answer.status_code == 400
    assert "This field is required." in answer.content.decode()


@pytest.mark.django_db
def test_fields_with_errors_are_marked_invalid_and_point_at_the_message_beside_them(company):
    answer = signed_in(company.alice).post(
        f"/t/{company.a.slug}/tokens/new/", {"name": "", "expires_in_days": 400}
    )
    html = answer.content.decode()
    for name in ("name", "expires_in_days"):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert field is not None and 'aria-invalid="true"' in field[0]
        described = re.search(r'aria-describedby="([^"]+)"', field[0])
        assert described is not None and f"id_{name}_error" in described[1].split()
        assert f'<p class="error" id="id_{name}_error" role="alert">' in html
    assert 'id="id_name_helptext">What uses it' in html
    scopes = re.search(r"<fieldset[^>]*>\s*<legend>Scopes</legend>", html)
    assert scopes is not None and 'aria-describedby="id_scopes_error"' in scopes[0]


def test_no_template_carries_styles_or_scripts_the_content_security_policy_would_block():
    # The policy allows styles and scripts from the portal's own static files only: no inline
    # <style>, style="" or <script> bodies, and nothing from another host (no CDN).
    for template in (ROOT_DIR / "templates").rglob("*.html"):
        source = template.read_text()
        assert "<style" not in source and " style=" not in source, template
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", source), template
        assert not re.search(r'(src|href)="(https?:)?//', source), template


@pytest.mark.django_db
def test_the_tenant_switcher_lists_every_unit_a_governance_lead_can_open(company):
    html = signed_in(company.grace).get("/").content.decode()
    assert "Acme Retail" in html and "Bravo Marketing" in html
    assert "Governance lead" in html


@pytest.mark.django_db
def test_only_platform_admins_get_into_the_django_admin(company):
    assert signed_in(company.adam).get("/admin/").status_code == 200
    assert signed_in(company.adam).get("/admin/governance/auditevent/").status_code == 200
    assert signed_in(company.adam).get("/admin/tenants/membership/").status_code == 200
    assert signed_in(company.alice).get("/admin/").status_code == 302
    assert (
        "Admin"
        not in signed_in(company.alice).get("/", follow=True).content.decode().split("<main")[0]
    )
