"""Flowable tasks end to end (real broker, worker and database): Parallel, If, Switch, ForEach and the
older Each*, AllowFailure, Dag, WorkingDirectory. Timing claims are checked on the task runs' own
created/started/ended columns, never with sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.state.models import Execution, State, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"


def runs(execution: Execution, task_id: str | None = None) -> list[TaskRun]:
    queryset = execution.task_runs.order_by("created")
    return list(queryset.filter(task_id=task_id) if task_id else queryset)


def state_of(execution: Execution, task_id: str) -> str:
    [run] = runs(execution, task_id)
    return run.state


def most_at_once(intervals: list[TaskRun]) -> int:
    """The largest number of runs alive (created, not yet ended) at the moment one of them was created."""
    return max(sum(1 for o in intervals if o.created <= run.created < o.ended) for run in intervals)


# --- Parallel ------------------------------------------------------------------------------------


def test_it_starts_all_parallel_children_at_once(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: fan-out
namespace: tests
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {{id: a, type: {LOG}, message: a}}
      - {{id: b, type: {LOG}, message: b}}
      - {{id: c, type: {LOG}, message: c}}
  - id: after
    type: {RETURN}
    format: done
"""
    )

    assert execution.state == State.SUCCESS
    children = [run for run in runs(execution) if run.task_id in "abc"]
    assert len(children) == 3
    assert max(run.created for run in children) < min(run.ended for run in children)
    [parallel] = runs(execution, "parallel")
    assert all(run.parent_id == parallel.pk for run in children)
    assert runs(execution, "after")[0].created >= max(run.ended for run in children)


def test_it_keeps_parallel_children_within_the_concurrency_limit(run_flow: Any) -> None:
    children = "\n".join(f"      - {{id: t{i}, type: {LOG}, message: t{i}}}" for i in range(5))
    execution = run_flow(
        f"""
id: bounded
namespace: tests
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
{children}
"""
    )

    assert execution.state == State.SUCCESS
    started = [run for run in runs(execution) if run.task_id.startswith("t")]
    assert len(started) == 5
    assert most_at_once(started) == 2


def test_it_fails_a_parallel_with_a_failing_child_and_runs_its_errors(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: fan-out-fails
namespace: tests
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - {{id: ok, type: {LOG}, message: fine}}
      - {{id: boom, type: {FAIL}, errorMessage: broken}}
    errors:
      - {{id: handler, type: {LOG}, message: handled}}
  - id: never
    type: {LOG}
    message: not reached
"""
    )

    assert execution.state == State.FAILED
    assert state_of(execution, "parallel") == State.FAILED
    assert state_of(execution, "boom") == State.FAILED
    assert state_of(execution, "handler") == State.SUCCESS
    assert runs(execution, "never") == []


# --- If / Switch -----------------------------------------------------------------------------------

IF_FLOW = f"""
id: branch
namespace: tests
inputs:
  - id: answer
    type: STRING
tasks:
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.answer }}}}"
    then:
      - {{id: yes, type: {LOG}, message: "yes"}}
    else:
      - {{id: no, type: {LOG}, message: "no"}}
"""


@pytest.mark.parametrize(
    ("answer", "branch"), [("true", "yes"), ("1", "yes"), ("false", "no"), ("0", "no"), ("-0", "no")]
)
def test_it_takes_the_if_branch_kestra_truthiness_picks(run_flow: Any, answer: str, branch: str) -> None:
    execution = run_flow(IF_FLOW, {"answer": answer})

    assert execution.state == State.SUCCESS
    assert [run.task_id for run in runs(execution)] == ["decide", branch]


def test_it_fails_an_if_whose_condition_cannot_render(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: bad-if
namespace: tests
tasks:
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ outputs.missing.value }}}}"
    then:
      - {{id: yes, type: {LOG}, message: "yes"}}
"""
    )

    assert execution.state == State.FAILED
    [decide] = runs(execution)
    assert decide.state == State.FAILED
    assert decide.error.startswith("If: cannot render properties")


SWITCH_FLOW = f"""
id: switch
namespace: tests
inputs:
  - id: size
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.size }}}}"
    cases:
      small:
        - {{id: cx11, type: {RETURN}, format: cx11}}
      large:
        - {{id: cx51, type: {RETURN}, format: cx51}}
    defaults:
      - {{id: fallback, type: {RETURN}, format: cx21}}
"""


@pytest.mark.parametrize(
    ("size", "task", "defaults"),
    [("small", "cx11", False), ("large", "cx51", False), ("huge", "fallback", True)],
)
def test_it_runs_the_matching_switch_case_or_the_defaults(
    run_flow: Any, size: str, task: str, defaults: bool
) -> None:
    execution = run_flow(SWITCH_FLOW, {"size": size})

    assert execution.state == State.SUCCESS
    assert [run.task_id for run in runs(execution)] == ["pick", task]
    assert runs(execution, "pick")[0].outputs == {"value": size, "defaults": defaults}


def test_it_fails_a_switch_without_a_matching_case_or_defaults(run_flow: Any) -> None:
    execution = run_flow(SWITCH_FLOW.split("    defaults:")[0], {"size": "huge"})

    assert execution.state == State.FAILED
    [pick] = runs(execution)
    assert pick.error == "Switch: no case matches the value 'huge' and there are no defaults"


# --- ForEach and the older Each* ----------------------------------------------------------------


def test_it_runs_foreach_iterations_one_after_another_with_values_and_outputs(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", {{"name": "c"}}]
    tasks:
      - id: echo
        type: {RETURN}
        format: "{{{{ taskrun.value }}}}"
      - id: nested
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner
            type: {RETURN}
            format: "{{{{ parent.taskrun.value }}}}/{{{{ parents | length }}}}"
  - id: summary
    type: {RETURN}
    format: "{{{{ outputs.echo['a'].value }}}},{{{{ outputs.echo.b.value }}}},{{{{ outputs.inner.a.value }}}}"
"""
    )

    assert execution.state == State.SUCCESS
    echoes = runs(execution, "echo")
    assert [run.value for run in echoes] == ["a", "b", '{"name":"c"}']
    assert [run.outputs["value"] for run in echoes] == ["a", "b", '{"name":"c"}']
    assert [run.outputs["value"] for run in runs(execution, "inner")] == ["a/2", "b/2", '{"name":"c"}/2']
    assert runs(execution, "summary")[0].outputs == {"value": "a,b,a/2"}
    # concurrencyLimit defaults to 1: an iteration starts once the previous one ended
    inners = runs(execution, "inner")
    for previous, following in zip(inners, echoes[1:], strict=False):
        assert following.created >= previous.ended
    assert len(runs(execution)) == 1 + 3 * 3 + 1


def test_it_keeps_foreach_iterations_within_the_concurrency_limit(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-bounded
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["1", "2", "3", "4", "5"]'
    concurrencyLimit: 2
    tasks:
      - {{id: step, type: {LOG}, message: "{{{{ taskrun.value }}}}"}}
"""
    )

    assert execution.state == State.SUCCESS
    steps = runs(execution, "step")
    assert sorted(run.value for run in steps) == ["1", "2", "3", "4", "5"]
    assert most_at_once(steps) == 2


def test_it_keys_outputs_of_nested_loops_by_every_value(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: nested-loops
namespace: tests
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    concurrencyLimit: 0
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: [1, 2]
        tasks:
          - id: pair
            type: {RETURN}
            format: "{{{{ parents[0].taskrun.value }}}}{{{{ taskrun.value }}}}"
  - id: pick
    type: {RETURN}
    format: "{{{{ outputs.pair.y['2'].value }}}}"
"""
    )

    assert execution.state == State.SUCCESS
    assert sorted(run.outputs["value"] for run in runs(execution, "pair")) == ["x1", "x2", "y1", "y2"]
    assert runs(execution, "pick")[0].outputs == {"value": "y2"}


def test_it_fails_a_foreach_whose_iteration_fails_and_stops_starting_new_ones(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-fails
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["ok", "bad", "later"]
    tasks:
      - id: check
        type: {FAIL}
        condition: "{{{{ taskrun.value == 'bad' }}}}"
    errors:
      - {{id: cleanup, type: {LOG}, message: cleaning up}}
"""
    )

    assert execution.state == State.FAILED
    assert [(run.value, run.state) for run in runs(execution, "check")] == [
        ("ok", State.SUCCESS),
        ("bad", State.FAILED),
    ]
    assert state_of(execution, "cleanup") == State.SUCCESS
    assert state_of(execution, "each") == State.FAILED


def test_it_starts_every_unlimited_foreach_iteration_even_when_the_first_fails_at_once(run_flow: Any) -> None:
    """Kestra creates all iterations of an unlimited ForEach in one pass, before any of them runs, so
    an iteration whose first task fails as it starts does not keep the others from starting."""
    execution = run_flow(
        f"""
id: loop-fails-at-once
namespace: tests
tasks:
  - id: regions
    type: io.kestra.plugin.core.flow.ForEach
    concurrencyLimit: 0
    values: ["eu", "us", "ap"]
    tasks:
      - id: pick
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ taskrun.value == {{% if true %}}'eu'{{% endif %}} }}}}"
        then:
          - {{id: never, type: {LOG}, message: not reached}}
"""
    )

    assert execution.state == State.FAILED
    assert sorted((run.value, run.state) for run in runs(execution, "pick")) == [
        ("ap", State.FAILED),
        ("eu", State.FAILED),
        ("us", State.FAILED),
    ]
    assert state_of(execution, "regions") == State.FAILED
    assert runs(execution, "never") == []


def test_it_starts_no_new_limited_foreach_iteration_after_one_failed_at_once(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-limited-fails-at-once
namespace: tests
tasks:
  - id: regions
    type: io.kestra.plugin.core.flow.ForEach
    concurrencyLimit: 2
    values: ["eu", "us", "ap"]
    tasks:
      - id: pick
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ {{% if true %}}x{{% endif %}} }}}}"
        then:
          - {{id: never, type: {LOG}, message: not reached}}
"""
    )

    assert execution.state == State.FAILED
    assert [run.value for run in runs(execution, "pick")] == ["eu", "us"]


def test_it_fails_a_foreach_whose_values_are_not_a_list(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-bad-values
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "not json"
    tasks:
      - {{id: step, type: {LOG}, message: x}}
"""
    )

    assert execution.state == State.FAILED
    [each] = runs(execution, "each")
    assert each.error == "ForEach: values must be a list or a JSON array, got 'not json'"


def test_it_runs_each_sequential_and_each_parallel(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: each-old
namespace: tests
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.EachSequential
    value: [1, 2]
    tasks:
      - {{id: s, type: {RETURN}, format: "s{{{{ taskrun.value }}}}"}}
  - id: par
    type: io.kestra.core.tasks.flows.EachParallel
    value: '["a", "b"]'
    concurrent: 3
    tasks:
      - {{id: p1, type: {RETURN}, format: "p1{{{{ taskrun.value }}}}"}}
      - {{id: p2, type: {RETURN}, format: "p2{{{{ taskrun.value }}}}"}}
"""
    )

    assert execution.state == State.SUCCESS
    assert [run.outputs["value"] for run in runs(execution, "s")] == ["s1", "s2"]
    pairs = [run for run in runs(execution) if run.task_id in ("p1", "p2")]
    assert sorted(run.outputs["value"] for run in pairs) == ["p1a", "p1b", "p2a", "p2b"]
    assert most_at_once(pairs) <= 3


# --- AllowFailure, Dag, WorkingDirectory ---------------------------------------------------------


def test_it_turns_a_failure_inside_allow_failure_into_a_warning(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: tolerant
namespace: tests
tasks:
  - id: tolerate
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - {{id: boom, type: {FAIL}}}
      - {{id: skipped, type: {LOG}, message: not reached}}
    errors:
      - {{id: local, type: {LOG}, message: local handler}}
  - id: after
    type: {LOG}
    message: still runs
"""
    )

    assert execution.state == State.WARNING
    assert state_of(execution, "tolerate") == State.WARNING
    assert state_of(execution, "boom") == State.FAILED
    assert state_of(execution, "local") == State.SUCCESS
    assert state_of(execution, "after") == State.SUCCESS
    assert runs(execution, "skipped") == []


DAG_FLOW = f"""
id: dag
namespace: tests
tasks:
  - id: graph
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task: {{id: deploy, type: {LOG}, message: deploy}}
        dependsOn: [build, test]
      - task: {{id: build, type: {LOG}, message: build}}
      - task: {{id: test, type: TEST_TYPE, message: test}}
        dependsOn: [build]
      - task: {{id: lint, type: {LOG}, message: lint}}
"""


def test_it_starts_dag_tasks_once_their_dependencies_succeeded(run_flow: Any) -> None:
    execution = run_flow(DAG_FLOW.replace("TEST_TYPE", LOG))

    assert execution.state == State.SUCCESS
    by_id = {run.task_id: run for run in runs(execution)}
    assert set(by_id) == {"graph", "deploy", "build", "test", "lint"}
    assert by_id["test"].created >= by_id["build"].ended
    assert by_id["deploy"].created >= max(by_id["build"].ended, by_id["test"].ended)
    assert by_id["lint"].created < by_id["build"].ended  # no dependency: starts with build


def test_it_never_starts_dag_tasks_after_a_failed_dependency(run_flow: Any) -> None:
    execution = run_flow(DAG_FLOW.replace("TEST_TYPE", FAIL).replace("message: test", "errorMessage: red"))

    assert execution.state == State.FAILED
    assert state_of(execution, "test") == State.FAILED
    assert state_of(execution, "graph") == State.FAILED
    assert runs(execution, "deploy") == []


def test_it_runs_working_directory_children_in_order(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: workdir
namespace: tests
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - {{id: one, type: {RETURN}, format: "1"}}
      - {{id: two, type: {RETURN}, format: "{{{{ outputs.one.value }}}}2"}}
      - {{id: three, type: {FAIL}, condition: "{{{{ outputs.two.value == '12' }}}}"}}
      - {{id: four, type: {LOG}, message: not reached}}
"""
    )

    assert execution.state == State.FAILED
    one, two = runs(execution, "one")[0], runs(execution, "two")[0]
    assert two.outputs == {"value": "12"} and two.created >= one.ended
    assert state_of(execution, "wd") == State.FAILED
    assert runs(execution, "four") == []


def test_it_skips_a_run_if_task_once_per_iteration(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: loop-run-if
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - {{id: maybe, type: {LOG}, message: never, runIf: "false"}}
      - {{id: always, type: {LOG}, message: "{{{{ taskrun.value }}}}"}}
"""
    )

    assert execution.state == State.SUCCESS
    assert [(run.value, run.state) for run in runs(execution, "maybe")] == [
        ("a", State.SKIPPED),
        ("b", State.SKIPPED),
    ]
    assert [run.value for run in runs(execution, "always")] == ["a", "b"]


def test_it_keeps_the_if_branch_it_started_when_the_condition_changes(run_flow: Any) -> None:
    execution = run_flow(
        f"""
id: sticky-if
namespace: tests
tasks:
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ outputs.marker is not defined }}}}"
    then:
      - {{id: marker, type: {RETURN}, format: set}}
      - {{id: second, type: {LOG}, message: still then}}
    else:
      - {{id: other, type: {LOG}, message: wrong branch}}
"""
    )

    assert execution.state == State.SUCCESS
    assert [run.task_id for run in runs(execution)] == ["decide", "marker", "second"]
