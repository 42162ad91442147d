"""The resume form: a Pause task's ``onResume`` inputs, built by the request form's own field builder."""

from __future__ import annotations

from typing import Any

from django import forms

from orchestrator.executor.waiting import on_resume_specs, resolve_on_resume
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.flowmodel.spec import Flow, FlowValidationError
from portal.requests.forms import add_input_errors, input_field, raw_values


class ResumeForm(forms.Form):
    """One field per ``onResume`` input; ``orchestrator`` checks the values (as ``control.resume`` does)."""

    def __init__(self, *args: Any, flow: Flow | None, task_id: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flow, self.task_id = flow, task_id
        try:
            self.specs = on_resume_specs(flow, task_id) if flow is not None and task_id else []
        except FlowValidationError:
            self.specs = []
        for spec in self.specs:
            self.fields[spec.id] = input_field(spec)

    def raw_inputs(self) -> dict[str, Any]:
        return raw_values(self.specs, self.cleaned_data)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.flow is not None and self.task_id and self.specs:
            try:
                resolve_on_resume(self.flow, self.task_id, self.raw_inputs())
            except InputsInvalid as exc:
                add_input_errors(self, exc)
        return cleaned
