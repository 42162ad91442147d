"""The request form: one widget per input type, validation by orchestrator.flowmodel.input_types,
values kept on error."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from portal.requests.forms import FlowRequestForm
from portal.requests.models import ResourceRequest

from .conftest import VALID_INPUTS

pytestmark = pytest.mark.django_db


def _form(catalog, user, data=None):
    return FlowRequestForm(data, flow=catalog["all-inputs"].parse(), user=user)


@pytest.mark.parametrize(
    ("input_id", "widget", "attrs"),
    [
        ("name", forms.TextInput, {"pattern": "^[a-z][a-z0-9-]{2,30}$", "required": True}),
        ("count", forms.NumberInput, {"min": 1, "max": 5, "step": "1"}),
        ("ratio", forms.NumberInput, {"step": "any"}),
        ("backup", forms.CheckboxInput, {}),
        ("size", forms.Select, {}),
        ("regions", forms.CheckboxSelectMultiple, {}),
        ("expires", forms.DateInput, {"type": "date"}),
        ("window", forms.DateTimeInput, {"type": "datetime-local"}),
        ("owner", forms.EmailInput, {"required": True}),
        ("token", forms.PasswordInput, {"required": True}),
        ("settings", forms.Textarea, {}),
        ("docs", forms.URLInput, {}),
    ],
)
def test_it_builds_one_field_per_input_with_the_right_widget(catalog, alice, input_id, widget, attrs):
    form = _form(catalog, alice)
    field = form.fields[input_id]
    assert type(field.widget) is widget
    html = str(form[input_id])
    for key, value in attrs.items():
        expected = f" {key}" if value is True else f'{key}="{value}"'
        assert expected in html, (key, html)


def test_it_uses_defaults_descriptions_and_required_marks(catalog, alice):
    form = _form(catalog, alice)
    assert form.fields["count"].initial == 1
    assert form.fields["size"].initial == "small"
    assert form.fields["backup"].initial is False
    assert "Server name" in form.fields["name"].help_text
    assert "^[a-z]" not in form.fields["name"].help_text  # a pattern is for the flow's author, not people
    assert form.fields["name"].input_required and form.fields["token"].input_required
    assert not form.fields["count"].input_required  # it has a default
    assert list(form.fields["size"].widget.choices)[-3:] == [
        ("small", "small"),
        ("medium", "medium"),
        ("large", "large"),
    ]
    assert not form.fields["token"].widget.render_value


def test_it_preselects_the_users_default_cost_center_among_active_ones(catalog, alice, plat, data_cc):
    data_cc.active = False
    data_cc.save()
    form = _form(catalog, alice)
    assert form.fields["cost_center"].initial == plat.pk
    assert list(form.fields["cost_center"].queryset) == [plat]


def test_it_resolves_valid_values_to_typed_inputs(catalog, alice, plat):
    data = {
        **VALID_INPUTS,
        "cost_center": plat.pk,
        "ratio": "0.5",
        "regions": ["fsn1", "hel1"],
        "expires": "2030-01-31",
        "window": "2030-01-31T10:30",
        "settings": '{"a": [1, 2]}',
        "docs": "https://example.com/runbook",
    }
    form = _form(catalog, alice, data)
    assert form.is_valid(), form.errors
    resolved = form.resolved_inputs
    assert resolved["count"] == 2 and resolved["ratio"] == 0.5 and resolved["backup"] is True
    assert resolved["regions"] == ["fsn1", "hel1"]
    assert resolved["expires"] == "2030-01-31"
    assert resolved["window"].startswith("2030-01-31T10:30")
    assert resolved["settings"] == {"a": [1, 2]}
    assert resolved["token"] == "s3cr3t-value"


@pytest.mark.parametrize(
    ("input_id", "bad", "message"),
    [
        ("name", "Bad Name!", "not in the expected format"),
        ("count", "9", "at most 5"),
        ("count", "two", "integer"),
        ("ratio", "abc", "number"),
        ("size", "huge", "must be one of"),
        ("regions", ["mars"], "must be among"),
        ("expires", "31/01/2030", "date"),
        ("window", "tomorrow", "date-time"),
        ("owner", "not-an-email", "email"),
        ("settings", "{broken", "valid JSON"),
        ("docs", "not a url", "URI"),
    ],
)
def test_it_rejects_a_bad_value_with_the_orchestrators_message(catalog, alice, plat, input_id, bad, message):
    form = _form(catalog, alice, {**VALID_INPUTS, "cost_center": plat.pk, input_id: bad})
    assert not form.is_valid()
    assert list(form.errors) == [input_id]
    assert message.lower() in form.errors[input_id][0].lower()


def test_it_requires_required_inputs_and_a_cost_center(catalog, alice):
    form = _form(catalog, alice, {"owner": "a@example.com"})
    assert not form.is_valid()
    assert {"name", "token", "cost_center"} <= set(form.errors)
    assert "required" in form.errors["name"][0].lower()


def test_it_rerenders_the_page_with_the_message_and_typed_values_but_not_the_secret(
    client, catalog, alice, plat
):
    client.force_login(alice)
    url = reverse("requests:new", args=["portico.tests", "all-inputs"])
    response = client.post(url, {**VALID_INPUTS, "cost_center": plat.pk, "count": "42"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This value must be at most 5." in html
    assert 'value="42"' in html  # what was typed is kept
    assert 'value="web-1"' in html
    assert 'value="alice@example.com"' in html
    assert "s3cr3t-value" not in html  # the secret is never sent back
    assert not ResourceRequest.objects.exists()


def test_it_shows_the_form_with_every_input(client, catalog, alice):
    client.force_login(alice)
    response = client.get(reverse("requests:new", args=["portico.tests", "all-inputs"]))
    assert response.status_code == 200
    html = response.content.decode()
    for input_id in (
        "name",
        "count",
        "ratio",
        "backup",
        "size",
        "regions",
        "expires",
        "window",
        "owner",
        "token",
        "settings",
        "docs",
        "cost_center",
    ):
        assert f'name="{input_id}"' in html, input_id
    assert 'type="password"' in html and 'type="datetime-local"' in html
