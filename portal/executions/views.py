"""The execution page: thin views over ``selectors`` (reads) and ``services`` (checked actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from orchestrator.executor.control import ControlError
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.state.models import State
from portal.accounts.visibility import sees_everything

from . import selectors, services
from .forms import ResumeForm


def _after(request: HttpRequest) -> int | None:
    raw = request.GET.get("after", "")
    return int(raw) if raw.isdigit() else None


def _context(
    request: HttpRequest, pk: Any, *, resume_form: ResumeForm | None = None, with_logs: bool = True
) -> dict[str, Any]:
    execution, req = selectors.get_visible_execution(request.user, pk)
    view = selectors.execution_view(execution)
    allowed = services.allowed_actions(request.user, execution, req)
    paused_task = selectors.paused_task_id(execution) if execution.state == State.PAUSED else None
    if resume_form is None and allowed.resume:
        resume_form = ResumeForm(flow=view["flow"], task_id=paused_task)
    context = {
        **view,
        "req": req,
        "allowed": allowed,
        "resume_form": resume_form,
        "paused_task": paused_task,
        "replay_choices": selectors.replay_choices(view["flow"]) if allowed.replay else [],
    }
    if with_logs:
        level = selectors.normalize_level(request.GET.get("level"))
        lines = selectors.log_lines(execution, level=level)
        context.update(
            levels=selectors.LOG_LEVELS, level=level, lines=lines, last_id=lines[-1].id if lines else 0
        )
    return context


@login_required
@require_GET
def execution_list(request: HttpRequest) -> HttpResponse:
    """Every execution, for operators: also those no request started (schedules, webhooks, flow triggers)."""
    if not sees_everything(request.user):
        raise PermissionDenied
    state = request.GET.get("state", "")
    state = state if state in State.values else ""
    return render(
        request,
        "executions/list.html",
        {"executions": selectors.recent_executions(state), "state": state, "states": State.values},
    )


@login_required
@require_GET
def detail(request: HttpRequest, pk: Any) -> HttpResponse:
    return render(request, "executions/detail.html", _context(request, pk))


@login_required
@require_GET
def live(request: HttpRequest, pk: Any) -> HttpResponse:
    """State, actions, task tree, timeline and outputs; htmx polls it every 2 s until the end."""
    return render(request, "executions/_live.html", _context(request, pk, with_logs=False))


@login_required
@require_GET
def logs(request: HttpRequest, pk: Any) -> HttpResponse:
    """``?after=<id>``: only newer lines (appended by the poller); without it the whole log panel."""
    execution, _ = selectors.get_visible_execution(request.user, pk)
    level = selectors.normalize_level(request.GET.get("level"))
    after = _after(request)
    lines = selectors.log_lines(execution, level=level, after=after)
    context = {
        "execution": execution,
        "terminal": execution.is_terminal,
        "levels": selectors.LOG_LEVELS,
        "level": level,
        "lines": lines,
        "last_id": lines[-1].id if lines else (after or 0),
        "incremental": after is not None,
    }
    template = "executions/_log_lines.html" if after is not None else "executions/_logs.html"
    return render(request, template, context)


def _done(request: HttpRequest, pk: Any) -> HttpResponse:
    return redirect("executions:detail", pk=pk)


@login_required
@require_POST
def kill(request: HttpRequest, pk: Any) -> HttpResponse:
    selectors.get_visible_execution(request.user, pk)  # 404 for those who may not even see it
    if services.kill(pk, acting_user=request.user):
        messages.success(request, "Kill requested: running tasks are being stopped.")
    else:
        messages.info(request, "The execution had already finished or was being killed.")
    return _done(request, pk)


@login_required
@require_POST
def resume(request: HttpRequest, pk: Any) -> HttpResponse:
    execution, req = selectors.get_visible_execution(request.user, pk)
    if not services.permitted(request.user, req).resume:
        raise PermissionDenied(f"{request.user} may not resume execution {pk}")
    if execution.state != State.PAUSED:
        messages.info(request, "The execution is not paused any more.")
        return _done(request, pk)
    form = ResumeForm(
        request.POST, flow=selectors.flow_of(execution), task_id=selectors.paused_task_id(execution)
    )
    if form.is_valid():
        try:
            resumed = services.resume(pk, acting_user=request.user, inputs=form.raw_inputs())
        except InputsInvalid as exc:
            form.add_error(None, "; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
        else:
            if resumed:
                messages.success(request, "Execution resumed.")
            else:
                messages.info(request, "The execution was not paused any more.")
            return _done(request, pk)
    return render(request, "executions/detail.html", _context(request, pk, resume_form=form), status=400)


@login_required
@require_POST
def restart(request: HttpRequest, pk: Any) -> HttpResponse:
    selectors.get_visible_execution(request.user, pk)
    if services.restart(pk, acting_user=request.user):
        messages.success(request, "Restarted from the failed task; earlier outputs are kept.")
    else:
        messages.info(request, "Nothing to restart: no task run failed or was killed.")
    return _done(request, pk)


@login_required
@require_POST
def replay(request: HttpRequest, pk: Any) -> HttpResponse:
    selectors.get_visible_execution(request.user, pk)
    from_task = request.POST.get("from_task", "").strip() or None
    try:
        new = services.replay(pk, acting_user=request.user, from_task_id=from_task)
    except ControlError as exc:
        messages.error(request, f"Cannot replay: {exc}.")
        return _done(request, pk)
    messages.success(request, f"Replay started{f' from {from_task}' if from_task else ''}.")
    return _done(request, new.pk)
