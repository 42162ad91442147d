"""Cost and Terraform plan of a request *before* approval, so the approver sees what will change.

The plan runs the flow's own Plan task (named by the flow label ``portico.plan-task``) with the
request's inputs, outside any execution: same module, same state key, same variables, no saved plan.
The apply that follows approval plans again, so this preview can never be applied by mistake.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction

from orchestrator.flowmodel import input_types, masking, secrets_at_rest, task_api, templating
from orchestrator.flowmodel.spec import parse_flow
from orchestrator.state.template_context import LazyVars

from . import pricing, selectors
from .models import RequestEstimate

# The Celery task that plans a request (``tasks.py``), enqueued by name: tasks import this module.
PLAN_REQUEST = "portal.resources.plan_request"

logger = logging.getLogger(__name__)
PLAN_LABEL = "portico.plan-task"
RESOURCE_LABEL = "portico.resource"
PLAN_TYPES = ("portico.terraform.Plan",)


@dataclass
class PreviewContext:
    """The RunContext a task gets when it runs outside an execution (logs kept in memory)."""

    execution_id: str
    task_id: str
    taskrun_id: str = field(default_factory=lambda: f"preview-{uuid.uuid4().hex[:12]}")
    attempt: int = 1
    lines: list[str] = field(default_factory=list)

    def log(self, level: str, message: str) -> None:
        self.lines.append(f"{level} {masking.mask(message)}")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def create_estimate(request: Any) -> RequestEstimate | None:
    """On submit: price the request, flag a budget overrun, and queue the plan preview if the flow has one."""
    labels = request.catalog_flow.labels or {}
    kind, plan_task = labels.get(RESOURCE_LABEL), labels.get(PLAN_LABEL)
    if not kind and not plan_task:
        return None
    found = pricing.price(kind, request.inputs)
    budget = request.cost_center.monthly_budget
    over = bool(
        budget is not None
        and found is not None
        and selectors.month_to_date(request.cost_center) + found.monthly > Decimal(budget)
    )
    estimate = RequestEstimate.objects.create(
        request=request,
        monthly_cost=found.monthly if found else None,
        hourly_cost=found.hourly if found else None,
        currency=found.currency if found else "EUR",
        over_budget=over,
        plan_state=RequestEstimate.PlanState.PENDING if plan_task else RequestEstimate.PlanState.NONE,
    )
    if plan_task:
        transaction.on_commit(partial(current_app.send_task, PLAN_REQUEST, args=(request.pk,)))
    return estimate


def plan_preview(request: Any) -> dict[str, Any]:
    """Run the flow's Plan task for ``request``; returns its summary ``{add, change, destroy, resources}``."""
    flow = parse_flow(request.flow_source, request.catalog_flow.file)
    task_id = flow.label(PLAN_LABEL)
    task = flow.find_task(task_id) if task_id else None
    if task is None or task.type not in PLAN_TYPES:
        raise ValueError(f"label {PLAN_LABEL} must name a {' or '.join(PLAN_TYPES)} task, got {task_id!r}")
    task_type = task_api.lookup(task.type)
    assert task_type is not None and task_type.run is not None
    values = {**request.inputs, **secrets_at_rest.reveal(request.secret_inputs)}  # decrypted to render
    labels = {
        **flow.labels,
        "portico.request": str(request.pk),
        "portico.requester": request.requester.get_username(),
        "portico.cost_center": request.cost_center.code,
    }
    context: dict[str, Any] = {
        "flow": {"id": flow.id, "namespace": flow.namespace, "revision": flow.revision},
        "execution": {"id": f"preview-{request.pk}"},
        "inputs": input_types.nested(values),
        "labels": input_types.nested(labels),
        # What the execution's trigger will say (``approvals`` starts it so): the state key comes from it.
        "trigger": {"type": "portico.request", "request": request.pk},
        "outputs": {},
        "task": {"id": task.id, "type": task.type},
    }
    context["vars"] = LazyVars(flow.variables or {}, context)
    props = templating.render({**task.props, "savePlan": False}, context)
    outputs = task_type.run(task_type.validate_props(props), PreviewContext(f"preview-{request.pk}", task.id))
    return outputs["summary"]


def run_plan(request_id: int) -> RequestEstimate | None:
    """The Celery task's body: store the plan summary (or why it failed) on the request's estimate."""
    estimate = (
        RequestEstimate.objects.select_related(
            "request__catalog_flow", "request__requester", "request__cost_center"
        )
        .filter(request_id=request_id)
        .first()
    )
    if estimate is None or estimate.plan_state != RequestEstimate.PlanState.PENDING:
        return estimate
    try:
        summary = plan_preview(estimate.request)
    except Exception as exc:  # shown to the approver; the request itself is unaffected
        logger.warning("plan preview for request %s failed: %s", request_id, exc)
        RequestEstimate.objects.filter(pk=estimate.pk).update(
            plan_state=RequestEstimate.PlanState.FAILED, plan_error=masking.mask(str(exc))[:2000]
        )
    else:
        RequestEstimate.objects.filter(pk=estimate.pk).update(
            plan_state=RequestEstimate.PlanState.DONE, plan_summary=summary
        )
    estimate.refresh_from_db()
    return estimate
