"""Pages: who sees what, and the thin views calling the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.approvals import services as approvals
from portal.requests.models import RequestState, ResourceRequest
from portal.requests.services import submit_request

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_request(catalog, alice, plat):
    return submit_request(
        requester=alice, catalog_flow=catalog["all-inputs"], data=dict(VALID_INPUTS), cost_center=plat
    )


def test_it_submits_from_the_form_and_redirects_to_the_detail(client, catalog, alice, plat):
    client.force_login(alice)
    url = reverse("requests:new", args=["portico.tests", "all-inputs"])
    response = client.post(url, {**VALID_INPUTS, "cost_center": plat.pk})
    created = ResourceRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("requests:detail", args=[created.pk])
    assert created.requester == alice and created.state == RequestState.PENDING_APPROVAL
    page = client.get(response["Location"]).content.decode()
    assert "submitted" in page and "web-1" in page


def test_it_shows_the_request_to_its_requester_with_secrets_masked(client, alice, alices_request):
    client.force_login(alice)
    html = client.get(reverse("requests:detail", args=[alices_request.pk])).content.decode()
    assert "web-1" in html and "******" in html and "s3cr3t-value" not in html
    assert "Waiting for an approver" in html


def test_it_hides_another_users_request(client, mallory, alices_request):
    client.force_login(mallory)
    assert client.get(reverse("requests:detail", args=[alices_request.pk])).status_code == 404
    assert client.get(reverse("requests:live", args=[alices_request.pk])).status_code == 404
    assert "web-1" not in client.get(reverse("requests:list")).content.decode()


def test_it_lists_only_my_requests(client, alice, alices_request):
    client.force_login(alice)
    html = client.get(reverse("requests:list")).content.decode()
    assert f"#{alices_request.pk}" in html


def test_it_lets_approvers_see_every_request(client, bob, alices_request):
    client.force_login(bob)
    assert client.get(reverse("requests:detail", args=[alices_request.pk])).status_code == 200
    html = client.get(reverse("requests:list"), {"all": "1"}).content.decode()
    assert f"#{alices_request.pk}" in html and "alice" in html


def test_it_forbids_the_queue_to_non_approvers(client, alice, alices_request):
    client.force_login(alice)
    assert client.get(reverse("approvals:queue")).status_code == 403
    response = client.post(reverse("approvals:decide", args=[alices_request.pk]), {"decision": "approve"})
    assert response.status_code == 403
    alices_request.refresh_from_db()
    assert alices_request.state == RequestState.PENDING_APPROVAL


def test_it_shows_the_queue_with_masked_inputs_and_decides_by_post(client, bob, alices_request):
    client.force_login(bob)
    html = client.get(reverse("approvals:queue")).content.decode()
    assert f"#{alices_request.pk}" in html and "PLAT-001" in html and "alice" in html
    assert "******" in html and "s3cr3t-value" not in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert client.get(reverse("approvals:decide", args=[alices_request.pk])).status_code == 405
    response = client.post(
        reverse("approvals:decide", args=[alices_request.pk]),
        {"decision": "reject", "comment": "not now"},
        follow=True,
    )
    assert "rejected" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == RequestState.REJECTED
    assert alices_request.decision.comment == "not now"


def test_it_reports_a_second_decision_instead_of_applying_it(client, bob, charlie, alices_request):
    approvals.reject(alices_request.pk, acting_user=charlie)
    client.force_login(bob)
    response = client.post(
        reverse("approvals:decide", args=[alices_request.pk]), {"decision": "approve"}, follow=True
    )
    assert "not pending approval" in response.content.decode()
    alices_request.refresh_from_db()
    assert alices_request.state == RequestState.REJECTED


def test_it_enforces_csrf_on_decisions(bob, alices_request):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post(reverse("approvals:decide", args=[alices_request.pk]), {"decision": "approve"})
    assert response.status_code == 403


def test_it_polls_the_execution_partial_until_the_request_is_finished(client, bob, alice, alices_request):
    client.force_login(alice)
    partial = client.get(reverse("requests:live", args=[alices_request.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in partial and "<html" not in partial
    approvals.reject(alices_request.pk, acting_user=bob)
    partial = client.get(reverse("requests:live", args=[alices_request.pk])).content.decode()
    assert "hx-trigger" not in partial and "Rejected" in partial


def test_it_styles_the_login_page(client):
    html = client.get(reverse("account_login")).content.decode()
    assert 'id="id_login"' in html and 'id="id_password"' in html and 'type="submit"' in html
    assert "portico.css" in html


def test_it_logs_in_with_the_styled_form(client, alice):
    response = client.post(reverse("account_login"), {"login": "alice", "password": "pw"})
    assert response.status_code == 302
    assert client.get(reverse("catalog:index")).status_code == 200


def test_it_shows_nav_links_by_role(client, alice, bob, django_user_model):
    client.force_login(alice)
    html = client.get(reverse("catalog:index")).content.decode()
    assert reverse("approvals:queue") not in html and reverse("audit:list") not in html
    client.force_login(bob)
    html = client.get(reverse("catalog:index")).content.decode()
    assert reverse("approvals:queue") in html and reverse("audit:list") in html
    assert reverse("admin:index") not in html


def test_it_decides_from_the_detail_page_and_returns_there(client, bob, alices_request):
    client.force_login(bob)
    detail = reverse("requests:detail", args=[alices_request.pk])
    assert 'value="approve"' in client.get(detail).content.decode()
    response = client.post(
        reverse("approvals:decide", args=[alices_request.pk]), {"decision": "reject", "next": detail}
    )
    assert response["Location"] == detail


def test_it_ignores_an_offsite_next_url(client, bob, alices_request):
    client.force_login(bob)
    response = client.post(
        reverse("approvals:decide", args=[alices_request.pk]),
        {"decision": "reject", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("approvals:queue")
