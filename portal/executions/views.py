"""The execution page: thin views over ``selectors`` (reads) and ``services`` (checked actions)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from orchestrator.executor.control import ControlError
from orchestrator.flowmodel.input_types import InputsInvalid
from orchestrator.state.models import TERMINAL, Execution, State, TaskRun
from portal.accounts.visibility import overseen_executions
from portal.lists.paging import paginate

from . import selectors, services
from .filters import ExecutionFilter
from .forms import ResumeForm

CONFIRMED = "yes"  # the kill confirmation's ``confirm`` value


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
        context.update(_log_context(request, execution, view["flow"]))
    return context


def _log_context(request: HttpRequest, execution: Execution, flow: Any, after: int | None = None) -> dict:
    """The log filter comes from the query string (``?level=WARN&task=create``), so a link to the
    page shows the same lines; unknown values mean "everything"."""
    tasks = selectors.log_task_choices(flow)
    level = selectors.normalize_level(request.GET.get("level"))
    task = selectors.normalize_task(request.GET.get("task"), tasks)
    lines = selectors.log_lines(execution, level=level, after=after, task=task)
    return {
        "levels": selectors.LOG_LEVELS,
        "level": level,
        "tasks": tasks,
        "task": task,
        "task_query": f"&task={quote(task)}" if task else "",
        "lines": lines,
        "last_id": lines[-1].id if lines else (after or 0),
    }


@login_required
@require_GET
def execution_list(request: HttpRequest) -> HttpResponse:
    """Executions of the namespaces one oversees, also those no request started (schedules, webhooks,
    flow triggers): every one for those who see everything."""
    overseen = overseen_executions(Execution.objects.order_by("-created"), request.user)
    if overseen is None:
        raise PermissionDenied
    listing = paginate(request.GET, ExecutionFilter(request.GET, overseen))
    executions = selectors.with_origin(list(listing.page))
    return render(request, "executions/list.html", {"executions": executions, "list": listing})


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
    after = _after(request)
    context = {
        "execution": execution,
        "terminal": execution.is_terminal,
        "incremental": after is not None,
        **_log_context(request, execution, selectors.flow_of(execution), after),
    }
    template = "executions/_log_lines.html" if after is not None else "executions/_logs.html"
    return render(request, template, context)


def _done(request: HttpRequest, pk: Any) -> HttpResponse:
    return redirect("executions:detail", pk=pk)


@login_required
@require_POST
def kill(request: HttpRequest, pk: Any) -> HttpResponse:
    """Kill only by the confirmation page's own POST (``confirm=yes``): the first POST answers that page,
    naming the flow and the tasks that will be stopped (no JavaScript needed)."""
    execution, req = selectors.get_visible_execution(request.user, pk)  # 404 for those who may not see it
    if request.POST.get("confirm") != CONFIRMED:
        return _confirm_kill(request, execution, req)
    if services.kill(pk, acting_user=request.user):
        messages.success(request, "Kill requested: running tasks are being stopped.")
    else:
        messages.info(request, "The execution had already finished or was being killed.")
    return _done(request, pk)


def _confirm_kill(request: HttpRequest, execution: Execution, req: Any) -> HttpResponse:
    """403 for those who may not kill it; nothing to ask once it has ended or is being killed already."""
    if not services.permitted(request.user, req).kill:
        raise PermissionDenied(f"{request.user} may not kill execution {execution.pk}")
    if not services.allowed_actions(request.user, execution, req).kill:
        messages.info(request, "The execution had already finished or was being killed.")
        return _done(request, execution.pk)
    ended = [state.value for state in TERMINAL]
    context = {
        "execution": execution,
        "req": req,
        "running": TaskRun.objects.filter(execution=execution).exclude(state__in=ended).order_by("created"),
        "subflows": execution.children.exclude(state__in=ended).order_by("created"),
    }
    return render(request, "executions/confirm_kill.html", context)


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
