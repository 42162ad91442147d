"""FILE inputs on the request form: a file field (multipart), the upload stored in the internal storage
as the flow run would store it, and a too-large upload sent back with a message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from orchestrator.flowmodel import storage
from orchestrator.scheduler import storage_purge
from portal.catalog.models import CatalogFlow
from portal.catalog.services import sync_flows
from portal.requests.forms import FlowRequestForm
from portal.requests.models import RequestState, ResourceRequest

pytestmark = pytest.mark.django_db

UPLOAD_FLOW = """\
id: upload
namespace: portico.tests
inputs:
  - id: name
    type: STRING
  - id: keys
    type: FILE
    description: Public keys, one per line
    allowedFileExtensions: [".pub", ".txt"]
tasks:
  - id: show
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read(inputs.keys) }}"
"""


@pytest.fixture(autouse=True)
def storage_dir(settings: Any, tmp_path: Path) -> Path:
    settings.PORTICO_STORAGE_DIR = tmp_path / "storage"
    return settings.PORTICO_STORAGE_DIR


@pytest.fixture
def upload_flow(db: Any, tmp_path: Path) -> CatalogFlow:
    directory = tmp_path / "flows"
    directory.mkdir()
    (directory / "upload.yml").write_text(UPLOAD_FLOW)
    report = sync_flows(directory)
    assert report.ok, report.errors
    return CatalogFlow.objects.get(flow_id="upload")


def test_it_renders_a_file_field_in_a_multipart_form(
    client: Any, alice: Any, upload_flow: CatalogFlow
) -> None:
    form = FlowRequestForm(flow=upload_flow.parse(), user=alice)
    client.force_login(alice)

    page = client.get(reverse("requests:new", args=["portico.tests", "upload"])).content.decode()

    assert isinstance(form.fields["keys"].widget, forms.FileInput)
    assert form.is_multipart()
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" name="keys"' in page and 'accept=".pub,.txt"' in page


def test_it_stores_the_upload_and_records_its_uri(
    client: Any, alice: Any, plat: Any, upload_flow: CatalogFlow
) -> None:
    client.force_login(alice)
    upload = SimpleUploadedFile("id_ed25519.pub", b"ssh-ed25519 AAAA alice\n")

    response = client.post(
        reverse("requests:new", args=["portico.tests", "upload"]),
        {"name": "web", "keys": upload, "cost_center": plat.pk},
    )

    assert response.status_code == 302
    created = ResourceRequest.objects.get()
    uri = created.inputs["keys"]
    assert uri.startswith("kestra:///portico/tests/upload/uploads/") and uri.endswith("/id_ed25519.pub")
    assert storage.get(uri) == b"ssh-ed25519 AAAA alice\n"


def test_it_sends_back_a_too_large_upload_with_a_message(
    client: Any, alice: Any, plat: Any, upload_flow: CatalogFlow, settings: Any, storage_dir: Path
) -> None:
    settings.PORTICO_MAX_UPLOAD_BYTES = 16
    client.force_login(alice)

    response = client.post(
        reverse("requests:new", args=["portico.tests", "upload"]),
        {"name": "web", "keys": SimpleUploadedFile("big.txt", b"x" * 17), "cost_center": plat.pk},
    )

    assert response.status_code == 400
    assert "larger than the" in response.content.decode()
    assert not ResourceRequest.objects.exists()
    assert not storage_dir.exists() or not any(p.is_file() for p in storage_dir.rglob("*"))


def test_it_refuses_a_file_type_the_flow_does_not_allow(
    client: Any, alice: Any, plat: Any, upload_flow: CatalogFlow
) -> None:
    client.force_login(alice)

    response = client.post(
        reverse("requests:new", args=["portico.tests", "upload"]),
        {"name": "web", "keys": SimpleUploadedFile("run.sh", b"rm -rf /"), "cost_center": plat.pk},
    )

    assert response.status_code == 400
    assert "This value must be a file ending in .pub, .txt." in response.content.decode()
    assert not ResourceRequest.objects.exists()


def test_the_storage_purge_keeps_uploads_of_open_requests_only(
    client: Any, alice: Any, plat: Any, upload_flow: CatalogFlow, settings: Any
) -> None:
    settings.PORTICO_STORAGE_RETENTION_DAYS = 30
    client.force_login(alice)
    client.post(
        reverse("requests:new", args=["portico.tests", "upload"]),
        {"name": "web", "keys": SimpleUploadedFile("k.pub", b"ssh-ed25519 AAAA"), "cost_center": plat.pk},
    )
    request = ResourceRequest.objects.get()
    uri = request.inputs["keys"]
    later = timezone.now() + timedelta(days=31)

    assert storage_purge.purge(now=later) == storage_purge.PurgeResult()
    assert storage.exists(uri)

    ResourceRequest.objects.filter(pk=request.pk).update(state=RequestState.REJECTED)
    assert storage_purge.purge(now=later) == storage_purge.PurgeResult(uploads=1)
    assert not storage.exists(uri)
