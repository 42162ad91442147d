"""The flow's ``checks``: conditions on the inputs, evaluated before an execution is created.

Kestra (``FlowService.getFailedChecks`` and ``ExecutionController.createExecution``) renders each check's
``condition`` with the flow's variables and the resolved inputs; a check fails when the result is not the
boolean ``true`` (a condition that cannot be rendered fails too, blocking, with the error as its message).
Of the failed checks the strictest ``behavior`` wins: BLOCK_EXECUTION (no execution; the caller gets the
messages), then FAIL_EXECUTION (the execution is created FAILED and runs nothing), then CREATE_EXECUTION
(created as usual).

Kestra evaluates checks where a person or a client asks for an execution (its create-execution API, which
its UI uses), not when a trigger fires, a parent starts a subflow or a flow retry starts a new execution:
``applies_to`` draws the same line for Portico's callers of ``walker.start_execution``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.flowmodel import input_types, secrets_at_rest, templating
from orchestrator.flowmodel.spec import Flow
from orchestrator.state.template_context import LazyVars

BLOCK, FAIL, CREATE = "BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION"
_PRIORITY = (BLOCK, FAIL, CREATE)  # Kestra's enum order: the first one present wins
BLOCKED = "Flow execution blocked: one or more condition checks evaluated to false."
FAILED = "Flow execution failed because one or more condition checks evaluated to false."


class ChecksBlocked(ValueError):
    """A BLOCK_EXECUTION check failed: no execution was created. ``messages``: the failed checks'."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__(f"{BLOCKED}\nFailed checks: {', '.join(messages)}")


@dataclass(frozen=True)
class Failed:
    message: str
    behavior: str
    style: str


def applies_to(trigger: dict[str, Any] | None, parent_taskrun: Any) -> bool:
    """True for an execution asked for directly (``flow run``, a portal request, the API): not a
    subflow (it has a parent run) and not one a flow trigger started (its trigger has an ``id``)."""
    return parent_taskrun is None and not (trigger or {}).get("id")


def failed_checks(flow: Flow, inputs: dict[str, Any]) -> list[Failed]:
    """The checks of ``flow`` whose condition is not ``true`` for ``inputs`` (resolved values)."""
    if not flow.checks:
        return []
    context: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace},
        "inputs": input_types.nested(secrets_at_rest.reveal(inputs)),
    }
    context["vars"] = LazyVars(flow.variables or {}, context)
    failed = []
    for check in flow.checks:
        try:
            result = templating.render_string(check.condition, context)
        except templating.TemplateError as exc:
            failed.append(Failed(f"Failed to evaluate check condition. Cause: {exc}", BLOCK, "ERROR"))
            continue
        # Kestra keeps the rendered type and wants Boolean.TRUE: an expression that yields true renders
        # as "true" here; any other text (even a truthy one) fails the check.
        if result.strip() != "true":
            failed.append(Failed(check.message, check.behavior, check.style))
    return failed


def behavior(failed: list[Failed]) -> str:
    """The strictest behavior among ``failed``; CREATE_EXECUTION when none failed."""
    present = {item.behavior for item in failed}
    return next((name for name in _PRIORITY if name in present), CREATE)


def verdict(flow: Flow, inputs: dict[str, Any]) -> tuple[str, list[Failed]]:
    """What the checks say about a new execution: raises ``ChecksBlocked``, or (behavior, failed)."""
    failed = failed_checks(flow, inputs)
    outcome = behavior(failed)
    if outcome == BLOCK:
        raise ChecksBlocked([item.message for item in failed])
    return outcome, failed
