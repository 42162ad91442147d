from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.urls import reverse

from . import git_sources
from .models import CatalogFlow, GitSource


@admin.register(CatalogFlow)
class CatalogFlowAdmin(admin.ModelAdmin):
    list_display = ("namespace", "flow_id", "active", "file", "short_revision", "git_source", "updated")
    list_filter = ("active", "namespace", "git_source")
    search_fields = ("namespace", "flow_id", "description")
    readonly_fields = (
        "namespace", "flow_id", "revision", "source", "file", "labels", "git_source", "commit", "created",
        "updated",
    )  # fmt: skip
    fields = (
        "namespace",
        "flow_id",
        "active",
        "description",
        "labels",
        "file",
        "git_source",
        "commit",
        "revision",
        "source",
        "created",
        "updated",
    )

    @admin.display(description="revision")
    def short_revision(self, obj: CatalogFlow) -> str:
        return obj.revision[:12]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001 - rows come from sync_flows
        return False


class GitSourceForm(forms.ModelForm):
    new_webhook_secret = forms.CharField(
        required=False,
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current secret; a new source without one gets a random secret, "
        "shown once after saving.",
    )

    class Meta:
        model = GitSource
        fields = ("name", "namespace", "repository_url", "branch", "subdirectory", "active")


@admin.register(GitSource)
class GitSourceAdmin(admin.ModelAdmin):
    """Operators bind a repository to a namespace here; the webhook URL and the last sync are shown."""

    form = GitSourceForm
    list_display = ("name", "namespace", "repository_url", "branch", "active", "short_commit", "last_synced")
    list_filter = ("active",)
    search_fields = ("name", "namespace", "repository_url")
    readonly_fields = ("webhook_url", "last_commit", "last_synced", "last_error", "created", "updated")
    fields = (
        "name",
        "namespace",
        "repository_url",
        "branch",
        "subdirectory",
        "active",
        "new_webhook_secret",
        "webhook_url",
        "last_commit",
        "last_synced",
        "last_error",
        "created",
        "updated",
    )
    actions = ("sync_now",)

    @admin.display(description="commit")
    def short_commit(self, obj: GitSource) -> str:
        return obj.last_commit[:12]

    @admin.display(description="webhook URL (content type application/json, secret as above)")
    def webhook_url(self, obj: GitSource) -> str:
        if obj.pk is None:
            return "shown once saved"
        return settings.PORTICO_BASE_URL.rstrip("/") + reverse("catalog:git-webhook", args=[obj.pk])

    def save_model(self, request, obj: GitSource, form: GitSourceForm, change: bool) -> None:  # noqa: ANN001
        secret = form.cleaned_data.get("new_webhook_secret") or ""
        generated = not secret and not change
        if generated:
            secret = git_sources.new_webhook_secret()
        if secret:
            obj.set_webhook_secret(secret)
        super().save_model(request, obj, form, change)
        if generated:
            self.message_user(
                request, f"Webhook secret of {obj} (shown only now): {secret}", level=messages.WARNING
            )

    @admin.action(description="Sync selected Git sources now")
    def sync_now(self, request, queryset) -> None:  # noqa: ANN001
        for source in queryset:
            result = git_sources.sync_source(source.pk)
            if result.ok:
                self.message_user(request, f"{source}: synced commit {result.commit[:12]}")
            else:
                problem = result.error or "; ".join(result.report.errors if result.report else [])
                self.message_user(request, f"{source}: {problem}", level=messages.ERROR)
