"""The request form, generated from a flow's declared inputs.

Fields only collect raw text (one widget per input type); whether a value is acceptable is decided by
``orchestrator.flowmodel.input_types`` alone, so the form, the CLI and the API can never disagree on a rule.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from orchestrator.flowmodel.input_options import OptionsUnavailable
from orchestrator.flowmodel.input_types import CLEARED, FileUpload, InputsInvalid, resolve_inputs
from orchestrator.flowmodel.input_types import choices as input_choices
from orchestrator.flowmodel.spec import Flow, InputSpec
from orchestrator.flowmodel.templating import has_template
from portal.accounts.roles import chargeable_cost_centers

from .services import SERVER_FILLED_INPUTS

COST_CENTER_FIELD = "cost_center"


class RawInputField(forms.Field):
    """Hands the submitted value through untouched (lists stay lists); validation happens in the form."""

    def __init__(self, *, spec: InputSpec, **kwargs: Any) -> None:
        self.spec = spec
        self.input_required = spec.required and spec.defaults is None
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() if self.spec.type != "SECRET" else value
        return value

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if self.input_required and not isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            attrs["required"] = True
        return attrs


def _choices(spec: InputSpec) -> list[tuple[str, str]]:
    """Static ``values`` or a ``portico.options`` provider's list; unavailable options leave the list
    empty and the submitted value is then refused by ``orchestrator.flowmodel.input_types`` with the
    reason."""
    try:
        return input_choices(spec)
    except OptionsUnavailable:
        return []


def _number_attrs(spec: InputSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {"step": "1" if spec.type == "INT" else "any"}
    if spec.min is not None:
        attrs["min"] = spec.min
    if spec.max is not None:
        attrs["max"] = spec.max
    return attrs


def widget_for(spec: InputSpec) -> forms.Widget:
    kind = spec.type
    if kind in ("INT", "FLOAT"):
        return forms.NumberInput(attrs=_number_attrs(spec))
    if kind == "BOOL":
        return forms.CheckboxInput()
    if kind == "SELECT":
        empty = [] if spec.required and spec.defaults is not None else [("", "—")]
        return forms.Select(choices=empty + _choices(spec))
    if kind == "MULTISELECT":
        return forms.CheckboxSelectMultiple(choices=_choices(spec))
    if kind == "DATE":
        return forms.DateInput(attrs={"type": "date"})
    if kind == "DATETIME":
        return forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"})
    if kind == "TIME":
        return forms.TimeInput(attrs={"type": "time", "step": "1"})
    if kind == "EMAIL":
        return forms.EmailInput()
    if kind == "SECRET":
        return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    if kind in ("JSON", "YAML", "ARRAY"):
        return forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "mono"})
    if kind == "URI":
        return forms.URLInput()
    if kind == "FILE":
        allowed = spec.extra.get("allowedFileExtensions") or []
        return forms.FileInput(attrs={"accept": ",".join(str(e) for e in allowed)} if allowed else {})
    attrs = {"pattern": spec.validator} if spec.validator else {}
    return forms.TextInput(attrs=attrs)


# Types whose default is shown in the field: a secret is never echoed, a file input cannot hold one,
# and a checkbox is never empty.
_NOT_PREFILLED = frozenset({"SECRET", "FILE", "BOOL"})


def prefills_default(spec: InputSpec) -> bool:
    """Whether the field starts with the default (an expression default is computed when it runs)."""
    return spec.defaults is not None and spec.type not in _NOT_PREFILLED and not has_template(spec.defaults)


def clears_to_empty(spec: InputSpec) -> bool:
    """An optional input whose field showed its default: emptied, it stays unset (``CLEARED``).

    Kestra's own form drops an emptied field and the engine then applies the default, so clearing a
    prefilled field silently changes nothing. Portico's form takes the person at their word instead;
    a required input cannot be unset, so there an empty field still means the default (and says so).
    """
    return prefills_default(spec) and not spec.required


def _default_note(spec: InputSpec) -> str:
    """What an empty field means, so clearing one never does something unannounced."""
    if spec.defaults is None or spec.type == "BOOL" or (spec.type == "SELECT" and spec.required):
        return ""  # a checkbox, or a list without an empty choice, is never left empty
    if clears_to_empty(spec):
        return "Clear the field to leave it unset (no default is applied then)"
    if spec.type == "SECRET":
        return "Leave it empty to use the flow's default secret"
    if has_template(spec.defaults):
        return f"Leave it empty to use the default, computed when the run starts: {spec.defaults}"
    if spec.type == "FILE":
        return f"Leave it empty to use the default file {spec.defaults}"
    return "Left empty, the default shown is used"


def help_text_for(spec: InputSpec) -> str:
    parts = [spec.description.strip()] if spec.description else []
    if spec.type in ("STRING", "SECRET") and spec.validator and spec.validator_message:
        parts.append(spec.validator_message.strip())  # the pattern itself is for the flow's author
    if spec.type in ("INT", "FLOAT") and (spec.min is not None or spec.max is not None):
        low = "" if spec.min is None else f"from {spec.min} "
        high = "" if spec.max is None else f"up to {spec.max}"
        parts.append(f"Allowed: {low}{high}".strip())
    if spec.type == "DATETIME":
        parts.append(f"Time zone: {timezone.get_current_timezone_name()}")
    if spec.type in ("JSON", "YAML"):
        parts.append(f"{spec.type} value")
    if spec.type == "FILE":
        parts.append(f"At most {settings.PORTICO_MAX_UPLOAD_BYTES / 1024 / 1024:g} MB")
    if note := _default_note(spec):
        parts.append(note)
    return ". ".join(p.rstrip(".") for p in parts if p) + ("." if parts else "")


def initial_for(spec: InputSpec) -> Any:
    value = spec.defaults
    if value is None or spec.type in ("SECRET", "FILE") or has_template(value):
        return None
    if spec.type in ("JSON", "ARRAY") and not isinstance(value, str):
        return json.dumps(value, indent=2)
    if spec.type == "DATETIME":
        return _to_local_input(str(value))
    if spec.type == "BOOL" and isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return value


def _to_local_input(text: str) -> str:
    """ISO date-time (any zone) → the browser's datetime-local format in the current zone."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return parsed.replace(tzinfo=None).isoformat(timespec="seconds")


def _from_local_input(text: str) -> str:
    """A datetime-local value has no zone: read it in the current zone (what the user sees on the page)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # let orchestrator.flowmodel.input_types word the error
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed.isoformat()


def input_field(spec: InputSpec) -> RawInputField:
    """The one form field builder for a declared input (request form, Pause ``onResume`` form)."""
    return RawInputField(
        spec=spec,
        widget=widget_for(spec),
        label=spec.label,
        help_text=help_text_for(spec),
        initial=initial_for(spec),
    )


def _upload(value: UploadedFile) -> FileUpload:
    """An uploaded file as ``orchestrator.flowmodel.input_types`` checks it. Reading stops one byte past
    the limit: enough for the size rule (in ``input_types``) to refuse it without loading all of it."""
    value.seek(0)  # the form checks the upload, then the service stores it: both read it whole
    data = value.read(settings.PORTICO_MAX_UPLOAD_BYTES + 1)
    return FileUpload(name=value.name or "", data=data)


def raw_values(specs: list[InputSpec], cleaned_data: dict[str, Any]) -> dict[str, Any]:
    """Cleaned field values for ``orchestrator.flowmodel.input_types``: an empty field means "use the
    default", but an optional one that showed its default and was emptied stays unset (``CLEARED``)."""
    raw: dict[str, Any] = {}
    for spec in specs:
        value = cleaned_data.get(spec.id)
        if spec.type == "FILE" and isinstance(value, UploadedFile):
            value = _upload(value)
        if spec.type == "DATETIME" and isinstance(value, str) and value:
            value = _from_local_input(value)
        if value in (None, "", []) and spec.type != "BOOL":
            if clears_to_empty(spec):
                raw[spec.id] = CLEARED
            continue
        raw[spec.id] = value
    return raw


def sentence(message: str) -> str:
    """An ``input_types`` message (written to follow an input id: "must be at least 1") as a sentence
    a person reads under the field: "This value must be at least 1."."""
    text = message.strip()
    if text == "is required":
        text = "This field is required"
    elif text.startswith(("is ", "must ", "has ", "cannot ")):
        text = f"This value {text}"
    else:
        text = f"{text[:1].upper()}{text[1:]}"
    return text if text.endswith((".", "!", "?")) else f"{text}."


def add_input_errors(form: forms.Form, exc: InputsInvalid) -> None:
    """Put ``orchestrator.flowmodel.input_types`` messages on the fields they concern (others on the form)."""
    for input_id, message in exc.errors.items():
        field = input_id if input_id in form.fields else None
        form.add_error(field, sentence(message))


class FlowRequestForm(forms.Form):
    """One field per declared input (but the identifiers Portico fills in) plus a required cost center,
    chosen among those ``user`` may charge (the service checks again)."""

    def __init__(self, *args: Any, flow: Flow, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flow = flow
        self.specs = [spec for spec in flow.inputs if spec.id not in SERVER_FILLED_INPUTS]
        self.resolved_inputs: dict[str, Any] = {}
        for spec in self.specs:
            self.fields[spec.id] = input_field(spec)
        default_cc = getattr(user, "default_cost_center", None)
        self.fields[COST_CENTER_FIELD] = forms.ModelChoiceField(
            queryset=chargeable_cost_centers(user),
            initial=default_cc.pk if default_cc is not None and default_cc.active else None,
            empty_label="Choose a cost center",
            label="Cost center",
            help_text="Who pays for what this request creates.",
        )
        self.fields[COST_CENTER_FIELD].input_required = True

    @property
    def input_fields(self) -> list[forms.BoundField]:
        return [self[spec.id] for spec in self.specs]

    def raw_inputs(self) -> dict[str, Any]:
        """Submitted values as the orchestrator expects them; empty means "use the default"."""
        return raw_values(self.specs, self.cleaned_data)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            self.resolved_inputs = resolve_inputs(self.flow, self.raw_inputs())
        except InputsInvalid as exc:
            add_input_errors(self, exc)
        return cleaned
