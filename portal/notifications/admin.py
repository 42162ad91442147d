"""Chat channels in the admin: the URL is write-only (typed in, never shown back), events a multi-select."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from orchestrator.flowmodel.masking import MASK

from .chat import invalid_url_reason
from .models import ChatChannel, ChatEvent


class ChatChannelForm(forms.ModelForm):
    url = forms.CharField(
        label="Apprise URL",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "placeholder": MASK}),
        help_text="e.g. slack://TokenA/TokenB/TokenC/#channel or json://host/path. Stored encrypted and "
        "never shown again: leave empty to keep the current one.",
    )
    events = forms.MultipleChoiceField(
        choices=ChatEvent.choices, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = ChatChannel
        fields = ("name", "namespace", "events", "active")

    def clean_url(self) -> str:
        url = self.cleaned_data.get("url") or ""
        if not url:
            if not self.instance.sealed_url:
                raise forms.ValidationError("A new channel needs its Apprise URL.")
            return ""
        reason = invalid_url_reason(url)
        if reason:
            raise forms.ValidationError(reason)  # never echo the URL back into the page
        return url

    def save(self, commit: bool = True) -> ChatChannel:
        channel = super().save(commit=False)
        channel.events = [e for e in ChatEvent.values if e in self.cleaned_data["events"]]
        if self.cleaned_data.get("url"):
            channel.set_url(self.cleaned_data["url"])
        if commit:
            channel.save()
        return channel


@admin.register(ChatChannel)
class ChatChannelAdmin(admin.ModelAdmin):
    form = ChatChannelForm
    list_display = ("name", "namespace", "event_list", "active", "masked_url")
    list_filter = ("active",)
    search_fields = ("name", "namespace")
    readonly_fields = ("masked_url", "created", "updated")
    fields = ("name", "namespace", "url", "masked_url", "events", "active", "created", "updated")

    @admin.display(description="URL")
    def masked_url(self, obj: ChatChannel) -> str:
        return obj.masked_url

    @admin.display(description="events")
    def event_list(self, obj: ChatChannel) -> str:
        labels = dict(ChatEvent.choices)
        return ", ".join(str(labels.get(e, e)) for e in obj.events or []) or "-"
