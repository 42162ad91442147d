"""What Kestra's own Java tests expect from each flow in ``shared/kestra-flows/valid``.

The 112 files in ``valid/`` are Kestra's core test flows (``core/src/test/resources/flows/valids`` of
kestra-io/kestra at commit 58c1ca2d0589c888328bacc3ee65e65dc4ba0a6a, 2024-12-20; see
``shared/kestra-flows/SOURCE_COMMIT``). For every file this module records, in our own words, what the
Kestra test that runs the flow asserts: the final execution state, the number of task runs, key outputs,
task-run states and attempt counts, log lines, labels, the states the execution and its task runs pass
through and the executions it starts, plus the inputs (and labels) the test starts it with. ``source``
cites the test as ``path/in/kestra/Test.java#method`` (``#Suite.method`` for a nested class; ``A -> B``
when a runner test delegates to a shared case class; ``;`` between several tests); long paths carry
``# noqa: E501``.

``make compat`` (``tests.compat.report``) loads every valid flow; its run stage is to execute each flow
that ``tests.compat.runner.can_run`` allows with ``manage.py flow run FILE --json [--input k=v ...]``,
add what the JSON lacks from the database (log lines, task-run ids and histories, the execution's state
history, child and listener executions) and compare all of it with ``EXPECTATIONS[file name]``
(``lookup`` and ``value_matches`` below do the per-path part). Flows whose ``needs`` name anything else
are reported as skipped with that reason. A state mismatch on a ``no-assertion`` flow is our reading
against Portico, not a Kestra incompatibility; the report lists those cases with their ``unasserted``
reason.

Conventions:

* ``state`` is a Kestra state name. When ``needs`` contains ``"no-assertion"`` no Kestra test asserts
  the final state and ``state`` is our reading of the flow (marked "inferred" in a comment).
* ``needs`` is a comma-separated list of reasons the flow cannot simply be run alone and compared:
  ``no-assertion``, ``subflow:<namespace>.<id>``, ``file-input``, ``trigger``, ``schedule``, ``webhook``,
  ``pause-resume``, ``manual-restart``, ``manual-kill``, ``kv-store``, ``concurrent-run``,
  ``retry-new-execution``, ``secret``, ``paused-execution``; and two the runner prepares itself:
  ``raw-inputs`` (the test hands ``inputs`` to the execution as they are, or none, without the input
  validation Kestra's API and our CLI do) and ``trigger-disabled:<triggerId>`` (the test stores the
  flow's trigger disabled before the run).
* Keys of ``outputs`` are paths: ``taskId.key.sub`` reads the outputs of the first task run of
  ``taskId``; ``taskId[n].key`` the n-th run (0-based, in execution order); ``['a.b']`` quotes a key that
  contains a dot; ``@outputs.key`` reads the flow outputs and ``@labels.key`` the execution labels
  (``labels`` in the ``flow run --json`` result); ``@triggers.<id>`` whether the flow's stored trigger
  is enabled after the run (``trigger-disabled`` runs only).
  Values are literals or one of the matchers below. URIs asserted as ``kestra://`` are Kestra's internal
  storage scheme.
* ``task_states`` and ``attempts`` map a task id (same ``taskId[n]`` form, or ``@last`` for the last task
  run) to its final state (``None``: the task never runs) / number of attempts. ``task_runs`` counts
  every task run, flowable parents and error handlers included.
* ``logs`` are ``Log`` checks (message, task, level, count); ``labels`` maps execution labels to
  literals, matchers, ``TaskRunId(task)`` or ``ExecutionId()``; ``history`` lists execution states in
  the order the test sees them; ``task_history`` counts the states in a task run's history;
  ``subflows`` checks the executions the run starts (``Subflows``). The runner reads what ``flow run
  --json`` does not print (logs, ids, histories, child executions) from the database after the run.
* ``unasserted`` says why no Kestra assertion stands behind ``state`` (``needs`` has ``no-assertion``);
  the report counts those cases apart, and those with no Kestra assertion at all.
* ``note`` is context only: what the test does that no check here covers. Whatever the test asserts
  and the harness can observe is a check, not a note.
* ``file_inputs`` maps a FILE input to the file content the test uploads; ``pauses_first`` means the
  execution goes through PAUSED and resumes on its own (delay or timeout), so a runner that returns at
  PAUSED has to keep waiting. ``variants`` are further test cases for the same flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KESTRA_COMMIT = "58c1ca2d0589c888328bacc3ee65e65dc4ba0a6a"


# --- matchers for asserted values that are not plain literals -------------------------------------


@dataclass(frozen=True)
class Contains:
    text: str

    def test(self, value: object) -> bool:
        return isinstance(value, str) and self.text in value


@dataclass(frozen=True)
class StartsWith:
    prefix: str

    def test(self, value: object) -> bool:
        return isinstance(value, str) and value.startswith(self.prefix)


@dataclass(frozen=True)
class Matches:
    """The whole string matches the regular expression (Hamcrest ``matchesPattern``/``matchesRegex``)."""

    pattern: str

    def test(self, value: object) -> bool:
        return isinstance(value, str) and re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class HasItems:
    """A list holding all ``items``, or a mapping holding all of them as keys."""

    items: tuple[object, ...]

    def test(self, value: object) -> bool:
        if isinstance(value, Mapping):
            return all(item in value for item in self.items)
        return isinstance(value, list | tuple) and all(item in value for item in self.items)


@dataclass(frozen=True)
class Present:
    """Any value that is not ``None``."""

    def test(self, value: object) -> bool:
        return value is not None


@dataclass(frozen=True)
class Keys:
    """A mapping holding exactly these keys (Hamcrest ``aMapWithSize`` plus the keys the test reads)."""

    keys: tuple[str, ...]

    def test(self, value: object) -> bool:
        return isinstance(value, Mapping) and sorted(value) == sorted(self.keys)

    def explain(self, value: Mapping[str, object]) -> str:
        missing = [key for key in self.keys if key not in value]
        extra = sorted(key for key in value if key not in self.keys)  # jsonb reorders keys
        parts = [f"missing {', '.join(missing)}"] if missing else []
        return "; ".join([*parts, *([f"unexpected {', '.join(extra)}"] if extra else [])])


@dataclass(frozen=True)
class RecentDateTime:
    """An ISO-8601 date-time within ``seconds`` of the moment it is checked."""

    seconds: float

    def test(self, value: object) -> bool:
        from datetime import UTC, datetime

        if not isinstance(value, str):
            return False
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return abs((datetime.now(UTC) - moment).total_seconds()) <= self.seconds


@dataclass(frozen=True)
class StoredFile:
    """A ``kestra://`` URI of a stored file whose content is ``text`` and/or has ``lines`` lines (read
    from Portico's storage when checked, so Django must be set up)."""

    text: str | None = None
    lines: int | None = None

    def test(self, value: object) -> bool:
        from orchestrator.flowmodel import storage

        if not isinstance(value, str) or not storage.is_uri(value):
            return False
        try:
            content = storage.get(value).decode()
        except (OSError, ValueError):
            return False
        return (self.text is None or content == self.text) and (
            self.lines is None or len(content.splitlines()) == self.lines
        )


@dataclass(frozen=True)
class TaskRunId:
    """The id of a task run of this execution (``taskId`` or ``taskId[n]``), e.g. a label a task sets to
    ``{{ taskrun.id }}``; ``compare`` resolves it against the run's task runs."""

    task: str


@dataclass(frozen=True)
class ExecutionId:
    """The id of this execution (e.g. the ``system.correlationId`` label of a root execution)."""


Matcher = Contains | StartsWith | Matches | HasItems | Present | Keys | RecentDateTime | StoredFile


def value_matches(expected: object, actual: object) -> bool:
    if isinstance(
        expected, Contains | StartsWith | Matches | HasItems | Present | Keys | RecentDateTime | StoredFile
    ):
        return expected.test(actual)
    return expected == actual


def describe(expected: object) -> str:
    """A matcher or literal as a mismatch message shows it."""
    return repr(expected)


@dataclass(frozen=True)
class Log:
    """Log lines the Kestra test asserts. ``message``: a literal is the whole message, a matcher tests
    it, ``None`` takes any message; ``task``: the task run that logged it (``taskId`` / ``taskId[n]``;
    ``None``: any, execution-level lines included); ``level``: Kestra level name (TRACE ... ERROR);
    ``count``: exactly that many such lines (``0``: none at all), ``None``: at least one."""

    message: object = None
    task: str | None = None
    level: str | None = None
    count: int | None = None

    def describe(self) -> str:
        parts = [f"message {self.message!r}" if self.message is not None else "any message"]
        if self.task is not None:
            parts.append(f"of {self.task}")
        if self.level is not None:
            parts.append(f"at {self.level}")
        return " ".join(parts)


@dataclass(frozen=True)
class Listeners:
    """Executions of another corpus flow (``file``) that its Flow trigger starts while this one runs:
    how many end, and the value at ``path`` (as in ``Expectation.outputs``) of each, in the order
    they end. The runner stores the listener's triggers before the run and removes them after."""

    file: str
    count: int
    path: str = ""
    values: tuple[object, ...] = ()


@dataclass(frozen=True)
class Subflows:
    """The executions this one starts (Subflow / ForEachItem children), as the test asserts them:
    how many, and for every one its flow id, final state, task-run count, inputs and labels (values as
    in ``Expectation.labels``; an ``ExecutionId`` there is the *root* execution's id, Kestra's
    ``system.correlationId``); ``nested``: the same check one level down, for every child."""

    count: int | None = None
    flow_id: str | None = None
    state: str | None = None
    task_runs: int | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)  # input -> literal / matcher
    labels: Mapping[str, object] = field(default_factory=dict)
    nested: Subflows | None = None


_SEGMENT = re.compile(r"\['([^']*)'\]|\[(\d+)\]|([^.\[\]]+)")


def split_path(path: str) -> list[str | int]:
    """``"each_items.iterations['a.b']"`` -> ``["each_items", "iterations", "a.b"]``; ``[n]`` -> int."""
    parts: list[str | int] = []
    for quoted, index, plain in _SEGMENT.findall(path):
        parts.append(int(index) if index else (quoted or plain))
    return parts


def lookup(result: Mapping[str, Any], path: str) -> Any:
    """Resolve an ``outputs`` path against a ``flow run --json`` result; ``None`` when it is absent."""
    parts = split_path(path)
    if not parts:
        return None
    head, rest = parts[0], parts[1:]
    if head == "@outputs":
        value: Any = result.get("outputs") or {}
    elif head == "@labels":
        value = result.get("labels") or {}
    elif head == "@triggers":
        value = result.get("triggers") or {}
    else:
        nth = 0
        if rest and isinstance(rest[0], int):
            nth, rest = rest[0], rest[1:]
        runs = [run for run in result.get("taskRuns", []) if run.get("taskId") == head]
        if nth >= len(runs):
            return None
        value = runs[nth].get("outputs")
    for part in rest:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    state: str  # Kestra final state: SUCCESS, WARNING, FAILED, KILLED, PAUSED, CANCELLED, RETRIED ...
    inputs: Mapping[str, str] = field(default_factory=dict)  # CLI key=value strings the test passes
    task_runs: int | None = None  # task runs the test counts, if it does
    outputs: Mapping[str, object] = field(default_factory=dict)  # path -> literal or matcher
    task_states: Mapping[str, str] = field(default_factory=dict)  # taskId -> asserted task-run state
    attempts: Mapping[str, int] = field(default_factory=dict)  # taskId -> asserted number of attempts
    file_inputs: Mapping[str, str] = field(default_factory=dict)  # FILE input -> content to upload
    start_labels: Mapping[str, str] = field(default_factory=dict)  # labels the test starts the execution with
    needs: str | None = None  # comma-separated reasons it cannot simply run alone (see module doc)
    pauses_first: bool = False  # goes through PAUSED and continues by itself
    source: str = ""  # the Kestra test(s) asserting this
    logs: tuple[Log, ...] = ()  # log lines the test asserts (or asserts absent)
    labels: Mapping[str, object] = field(default_factory=dict)  # execution label -> literal / matcher
    history: tuple[str, ...] = ()  # execution states the test sees, in this order (not necessarily adjacent)
    task_history: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # task -> {state: times}
    subflows: Subflows | None = None  # the executions this one starts, as the test asserts them
    listeners: Listeners | None = None  # executions a listening flow's Flow trigger starts meanwhile
    unasserted: str = ""  # why no Kestra assertion stands behind ``state`` (with ``needs`` no-assertion)
    note: str = ""  # what the test does that no check here covers (context, not an assertion)
    variants: tuple[Expectation, ...] = ()  # other asserted cases for the same flow

    @property
    def needs_list(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in (self.needs or "").split(",") if n.strip())

    @property
    def state_asserted(self) -> bool:
        return "no-assertion" not in self.needs_list

    @property
    def checks_beyond_state(self) -> bool:
        """Whether anything besides the final state is compared."""
        return bool(
            self.task_runs is not None
            or self.outputs
            or self.task_states
            or self.attempts
            or self.logs
            or self.labels
            or self.history
            or self.task_history
            or self.subflows
            or self.listeners
        )

    @property
    def runnable(self) -> bool:
        """Can be run alone with ``flow run`` (state asserted or inferred)."""
        return all(n == "no-assertion" for n in self.needs_list)


def _padded_lines(count: int) -> str:
    """The item files of ForEachItemCaseTest / TaskWithAllow*Test: 0..count-1, each left-padded to 20."""
    return "".join(f"{i:>20}\n" for i in range(count))


# InputsTest.inputs, as CLI strings, without the FILE input (the test uploads application-test.yml).
_INPUTS_TEST_INPUTS: dict[str, str] = {
    "string": "myString",
    "enum": "ENUM_VALUE",
    "int": "42",
    "float": "42.42",
    "bool": "false",
    "instant": "2019-10-06T18:27:49Z",
    "date": "2019-10-06",
    "time": "18:27:49",
    "duration": "PT5M6S",
    "json": '{"a": "b"}',
    "uri": "https://www.google.com",
    "nested.string": "a string",
    "nested.more.int": "123",
    "nested.bool": "true",
    "validatedString": "A123",
    "validatedInt": "12",
    "validatedDate": "2023-01-02",
    "validatedDateTime": "2023-01-01T00:00:10Z",
    "validatedDuration": "PT15S",
    "validatedFloat": "0.42",
    "validatedTime": "11:27:49",
    "secret": "secret",
    "array": "[1, 2, 3]",
    "yaml": "some: property\nalist:\n- of\n- values",
}

_ANY_TEXT_FILE = "a small text file\n"

# An input value the runner replaces with a name of its own, the same for every case of one compat run
# and new for each run (StateTest.set runs the flow three times with one fresh state name).
FRESH_NAME = "<fresh unique name>"

EXPECTATIONS: dict[str, Expectation] = {
    # --- flowable tasks: Sequential, Parallel, ForEach, Switch, If, Dag, AllowFailure --------------
    "allow-failure.yaml": Expectation(
        state="WARNING",
        task_runs=9,
        task_states={
            "first": "WARNING",
            "1-1-allow-failure": "WARNING",
            "1-1-1_seq": "FAILED",
            "1-1-1-1": "SUCCESS",
            "ko": "FAILED",
            "local-error": "SUCCESS",
            "1-2-todo": "SUCCESS",
            "last": "SUCCESS",
            "global-error": None,
        },
        needs="raw-inputs",
        source="core/src/test/java/io/kestra/plugin/core/flow/AllowFailureTest.java#success",
        note="@ExecuteFlow runs it with no inputs at all (runOne without an inputs function), so the "
        "required 'crash' is never validated and 'inputs.crash is defined' is false.",
        variants=(
            Expectation(
                state="FAILED",
                inputs={"crash": "1"},
                task_runs=10,
                task_states={
                    "first": "WARNING",
                    "1-1-allow-failure": "WARNING",
                    "1-1-1_seq": "FAILED",
                    "ko": "FAILED",
                    "local-error": "SUCCESS",
                    "global-error": "SUCCESS",
                    "switch": "FAILED",
                    "crash": "FAILED",
                },
                source="core/src/test/java/io/kestra/plugin/core/flow/AllowFailureTest.java#failed",
            ),
        ),
    ),
    "dag.yaml": Expectation(
        state="SUCCESS", task_runs=7, source="core/src/test/java/io/kestra/plugin/core/flow/DagTest.java#dag"
    ),
    "disable-error.yaml": Expectation(
        state="FAILED",  # inferred: Fail task, error handlers do not recover
        task_runs=3,
        needs="no-assertion",
        source="core/src/test/java/io/kestra/core/runners/DisabledTest.java#error",
        unasserted="the test asserts only the task-run count (failed, t2, t4; t3 is disabled)",
    ),
    "disable-flowable.yaml": Expectation(
        state="SUCCESS",  # inferred: disabled tasks are skipped, nothing fails
        task_runs=10,
        needs="no-assertion",
        source="core/src/test/java/io/kestra/core/runners/DisabledTest.java#flowable",
        unasserted="the test asserts only the task-run count",
    ),
    "each-empty.yaml": Expectation(
        state="SUCCESS",
        task_runs=2,
        source="core/src/test/java/io/kestra/plugin/core/flow/EachSequentialTest.java#eachEmpty",
    ),
    "each-object.yaml": Expectation(
        state="SUCCESS",
        task_runs=8,
        outputs={"json[1].value": Contains('json > JSON > ["my-complex"]')},
        source="core/src/test/java/io/kestra/plugin/core/flow/EachSequentialTest.java#object",
        note="The test reads task run #6 of the list, which is the second 'json' run (the my-complex item).",
    ),
    "each-parallel-Integer.yml": Expectation(
        state="SUCCESS",
        source="core/src/test/java/io/kestra/plugin/core/flow/EachParallelTest.java#parallelInteger",
    ),
    "each-parallel-nested.yaml": Expectation(
        state="SUCCESS",
        task_runs=11,
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/EachParallelTest.java#parallelNested; "
            "core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#replayEachPara; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#eachParallelNested"
        ),
    ),
    "each-parallel-pause.yml": Expectation(
        state="SUCCESS",
        task_runs=7,
        pauses_first=True,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#pauseRunParallelDelay -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runParallelDelay"
        ),
        note="Each iteration pauses for PT1S then continues on its own.",
    ),
    "each-sequential.yaml": Expectation(
        state="WARNING",
        task_runs=11,
        source="core/src/test/java/io/kestra/plugin/core/flow/EachSequentialTest.java#sequential",
        note="'1-2' fails for 'value 2' and 'value 3' inside AllowFailure.",
    ),
    "fail-on-switch.yaml": Expectation(
        state="FAILED",
        inputs={"param": "fail"},
        task_runs=1,
        task_states={"switch": "FAILED"},
        source="core/src/test/java/io/kestra/plugin/core/execution/FailTest.java#failOnSwitch",
        note="No case matches 'fail' and there is no default, so the Switch itself fails.",
    ),
    "flowable-with-parent-fail.yaml": Expectation(
        state="FAILED",
        task_runs=5,
        source="core/src/test/java/io/kestra/plugin/core/flow/BadFlowableTest.java#flowableWithParentFail",
    ),
    "foreach-concurrent-no-limit.yaml": Expectation(
        state="SUCCESS",
        task_runs=7,
        source="core/src/test/java/io/kestra/plugin/core/flow/ForEachTest.java#concurrentNoLimit",
    ),
    "foreach-concurrent-parallel.yaml": Expectation(
        state="SUCCESS",
        task_runs=10,
        source="core/src/test/java/io/kestra/plugin/core/flow/ForEachTest.java#concurrentWithParallel",
    ),
    "foreach-concurrent.yaml": Expectation(
        state="SUCCESS",
        task_runs=7,
        source="core/src/test/java/io/kestra/plugin/core/flow/ForEachTest.java#concurrent",
    ),
    "full.yaml": Expectation(
        state="SUCCESS",
        task_runs=13,
        outputs={"t2.value": Contains("value1")},
        source="jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#full",
    ),
    "if-condition.yaml": Expectation(
        state="SUCCESS",
        inputs={"param": "true"},
        task_runs=2,
        task_states={"when-true": "SUCCESS"},
        source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#ifTruthy",
        note="ifTruthy passes true, 'true' and 1; ifFalsy false, 'false', 0 and -0 (the STRING input sees "
        "the same text from the CLI, so 'true', '1', 'false' and '0' are run).",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"param": "1"},
                task_runs=2,
                task_states={"when-true": "SUCCESS"},
                source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#ifTruthy",
            ),
            Expectation(
                state="SUCCESS",
                inputs={"param": "false"},
                task_runs=2,
                task_states={"when-false": "SUCCESS"},
                source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#ifFalsy",
            ),
            Expectation(
                state="SUCCESS",
                inputs={"param": "0"},
                task_runs=2,
                task_states={"when-false": "SUCCESS"},
                source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#ifFalsy",
            ),
        ),
    ),
    "if-in-flowable.yaml": Expectation(
        state="SUCCESS",
        inputs={"param": "true"},
        task_runs=8,
        task_states={"after_if": "SUCCESS"},
        source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#ifInFlowable",
    ),
    "if.yaml": Expectation(
        state="SUCCESS",
        inputs={"if1": "true", "if2": "false", "if3": "true"},
        task_runs=12,
        source="core/src/test/java/io/kestra/plugin/core/flow/IfTest.java#multipleIf",
    ),
    "parallel-nested.yaml": Expectation(
        state="SUCCESS",
        task_runs=11,
        source=(
            "core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#replayParallel; "
            "core/src/test/java/io/kestra/plugin/core/flow/ParallelTest.java#parallelNested; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#parallelNested"
        ),
    ),
    "parallel.yaml": Expectation(
        state="SUCCESS",  # inferred: six Log tasks and a Return
        task_runs=8,
        needs="no-assertion",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/ParallelTest.java#parallel; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#parallel"
        ),
        unasserted="both tests assert only the task-run count",
    ),
    "sequential-with-global-errors.yaml": Expectation(
        state="FAILED",
        task_runs=6,
        source="core/src/test/java/io/kestra/plugin/core/flow/SequentialTest.java#sequentialWithGlobalErrors",
    ),
    "sequential-with-local-errors.yaml": Expectation(
        state="FAILED",
        task_runs=6,
        source="core/src/test/java/io/kestra/plugin/core/flow/SequentialTest.java#sequentialWithLocalErrors",
    ),
    "task-allow-failure-runnable.yml": Expectation(
        state="WARNING",
        task_runs=2,
        attempts={"fail": 3},
        source="core/src/test/java/io/kestra/core/runners/TaskWithAllowFailureTest.java#runnableTask",
    ),
    "task-allow-warning-flowable.yml": Expectation(
        state="SUCCESS",
        task_runs=3,
        source="core/src/test/java/io/kestra/core/runners/TaskWithAllowWarningTest.java#flowableTask",
    ),
    "task-runif.yml": Expectation(
        state="FAILED",
        task_runs=4,
        task_states={"executed": "SUCCESS", "notexecuted": "SKIPPED", "willfailedtheflow": "FAILED"},
        source="core/src/test/java/io/kestra/core/runners/TaskWithRunIfTest.java#runnableTask",
    ),
    "waitfor-multiple-tasks-failed.yaml": Expectation(
        state="FAILED",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#waitforMultipleTasksFailed -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WaitForCaseTest.java#waitforMultipleTasksFailed"
        ),
        attempts={"@last": 1},
    ),
    "waitfor.yaml": Expectation(
        state="SUCCESS",
        outputs={"waitfor": Present()},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#waitFor -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WaitForCaseTest.java#waitfor"
        ),
    ),
    # --- failures, variables, expressions ----------------------------------------------------------
    "empty-variables.yml": Expectation(
        state="SUCCESS",
        inputs={"emptyKey": '{ "foo": "" }', "emptySubObject": '{"json":{"someEmptyObject":{}}}'},
        task_runs=3,
        source="core/src/test/java/io/kestra/core/runners/EmptyVariablesTest.java#emptyVariables",
    ),
    "execution.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return
        outputs={"hello.value": Matches(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")},
        needs="no-assertion",
        source="jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#executionDate",
        unasserted="the test asserts only the format of the Return's value",
    ),
    "failed-first.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        task_states={"t1": "FAILED"},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/VariablesTest.java#failedFirst; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#restartMultiple -> "
            "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#restartMultiple"
        ),
        note="'{{missingVar}}' fails t1; t2 never runs. restartMultiple restarts it twice, FAILED each time.",
    ),
    "return.yaml": Expectation(
        state="SUCCESS",  # inferred: three Return tasks
        task_runs=3,
        outputs={"date.value": RecentDateTime(10), "task-id.value": "task-id", "flow-id.value": "return"},
        needs="no-assertion",
        source="core/src/test/java/io/kestra/core/runners/RunContextTest.java#variables",
        unasserted="the test asserts the task runs and their outputs, not the final state",
    ),
    "variables-invalid.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        task_states={"parent-seq": "FAILED"},
        source="core/src/test/java/io/kestra/plugin/core/flow/VariablesTest.java#invalidVars",
        logs=(
            Log(
                Contains("Unable to find `inputs` used in the expression `{{inputs.invalid}}`"),
                task="parent-seq",
            ),
        ),
    ),
    "flow-with-array-outputs.yml": Expectation(
        state="SUCCESS",
        outputs={"@outputs": Keys(("myout",)), "@outputs.myout": HasItems(("1rstValue", "2ndValue"))},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/FlowOutputTest.java#shouldGetSuccessExecutionForFlowWithArrayOutputs"  # noqa: E501
        ),
    ),
    "flow-with-outputs.yml": Expectation(
        state="SUCCESS",
        outputs={"@outputs": Keys(("key",)), "@outputs.key": '{"value":"flow-with-outputs"}'},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/FlowOutputTest.java#shouldGetSuccessExecutionForFlowWithOutputs"  # noqa: E501
        ),
    ),
    # --- logs, inputs, labels, state, kv -----------------------------------------------------------
    "get-log-executionid.yaml": Expectation(
        state="SUCCESS",
        task_runs=4,
        outputs={"get-log-task.size": 3},
        source="core/src/test/java/io/kestra/core/tasks/FetchTest.java#fetchWithExecutionId",
    ),
    "get-log-taskid.yaml": Expectation(
        state="SUCCESS",
        task_runs=4,
        outputs={"get-log-task.size": 1},
        source="core/src/test/java/io/kestra/core/tasks/FetchTest.java#fetchWithTaskId",
    ),
    "logs.yaml": Expectation(
        state="SUCCESS",
        task_runs=5,
        source=(
            "core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#replayFromBeginning; "
            "core/src/test/java/io/kestra/core/runners/RunContextTest.java#logs; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#logs"
        ),
        logs=(
            Log("first t1", task="t1", level="TRACE"),
            Log("second io.kestra.plugin.core.log.Log", task="t2", level="WARN"),
            Log("third logs", task="t3", level="ERROR"),
            Log(task="t4", count=0),  # level TRACE under logLevel INFO: filtered out
        ),
    ),
    "input-log-secret.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source="core/src/test/java/io/kestra/core/runners/InputsTest.java#shouldNotLogSecretInput",
        logs=(Log("This is my secret: ********", task="log-secret"),),
    ),
    "inputs-large.yaml": Expectation(
        state="SUCCESS",
        inputs={"string": "a" * (1024 * 11)},
        task_runs=10,
        task_states={"1_each": "SUCCESS"},
        source="core/src/test/java/io/kestra/core/runners/RunContextTest.java#inputsLarge",
        note="The test also passes every InputsTest input (undeclared here). JdbcRunnerTest.flowTooLarge "
        "(200000 chars) expects FAILED from Kestra's JDBC queue size limit, which is not flow semantics.",
    ),
    "inputs-small-files.yaml": Expectation(
        state="SUCCESS",
        outputs={"@outputs.o": StartsWith("kestra://")},
        file_inputs={"f": _ANY_TEXT_FILE},
        needs="file-input",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#triggerInputSmall"  # noqa: E501
        ),
        note="The test uploads application-test.yml as 'f' through the API.",
    ),
    "inputs.yaml": Expectation(
        state="SUCCESS",
        inputs=_INPUTS_TEST_INPUTS,
        task_runs=14,
        outputs={
            "string.value": "myString",
            "optional.value": "",
            "file.value": Matches(
                r"kestra:///io/kestra/tests/inputs/executions/.*/inputs/file/application-test.yml"
            ),
        },
        file_inputs={"file": _ANY_TEXT_FILE},
        needs="file-input",
        source=(
            "core/src/test/java/io/kestra/core/runners/InputsTest.java#inputFlow; "
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#triggerAndWait"  # noqa: E501
        ),
        note="The uploaded file is named application-test.yml. secret.value is 'secret' (decrypted for "
        "tasks); `flow run --json` masks it.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={**_INPUTS_TEST_INPUTS, "json": "{}"},
                task_runs=14,
                outputs={"jsonOutput.value": "{}"},
                file_inputs={"file": _ANY_TEXT_FILE},
                needs="file-input",
                source="core/src/test/java/io/kestra/core/runners/InputsTest.java#inputEmptyJsonFlow",
            ),
        ),
    ),
    "kv.yaml": Expectation(
        state="SUCCESS",  # inferred: the test asserts only the outputs
        outputs={"get.value": "value", "getWithArgs.value": "value"},
        needs="kv-store,no-assertion",
        source="core/src/test/java/io/kestra/core/runners/pebble/functions/KvFunctionTest.java#get",
        unasserted="the test asserts only the two outputs",
        note='Needs KV key \'my-key\' = {"field": "value"} in namespace io.kestra.tests before the run.',
        variants=(
            Expectation(
                state="FAILED",  # inferred from the FAILED task run below
                inputs={"errorOnMissing": "true"},
                outputs={"get.value": ""},
                task_states={"get": "SUCCESS", "getWithArgs": "FAILED"},
                logs=(
                    Log(
                        Contains("The key 'my-key' does not exist in the namespace 'io.kestra.tests'"),
                        task="getWithArgs",
                    ),
                ),
                needs="no-assertion",
                source=(
                    "core/src/test/java/io/kestra/core/runners/pebble/functions/KvFunctionTest.java#getKeyNotFound"  # noqa: E501
                ),
                unasserted="the test asserts the task runs, their outputs and the log, not the final state",
            ),
        ),
    ),
    "labels-update-task.yml": Expectation(
        state="SUCCESS",
        inputs={
            "labelsJson": '{"keyFromJson": "valueFromJson"}',
            "labelsMapKey": "keyFromMap",
            "labelsMapValue": "valueFromMap",
            "labelsListKey": "keyFromList",
            "labelsListValue": "valueFromList",
        },
        task_runs=4,
        start_labels={
            "keyFromExecution": "valueFromExecution",
            "overriddenExecutionLabelKey": "executionValueThatWillGetOverridden",
        },
        outputs={
            "@labels": Keys(
                (
                    "system.correlationId",
                    "flowLabelKey",
                    "overriddenFlowLabelKey",
                    "keyFromJson",
                    "keyFromMap",
                    "keyFromList",
                    "keyFromExecution",
                    "overriddenExecutionLabelKey",
                )
            )
        },
        labels={
            "system.correlationId": ExecutionId(),
            "flowLabelKey": "flowLabelValue",
            "overriddenFlowLabelKey": "io.kestra.tests.labels-update-task",
            "keyFromJson": "valueFromJson",
            "keyFromMap": "valueFromMap",
            "keyFromList": "valueFromList",
            "keyFromExecution": "valueFromExecution",
            "overriddenExecutionLabelKey": TaskRunId("override-labels"),
        },
        source="core/src/test/java/io/kestra/plugin/core/flow/RuntimeLabelsTest.java#update",
    ),
    "primitive-labels-flow.yml": Expectation(
        state="SUCCESS",
        inputs={"intLabel": "42", "boolLabel": "true", "floatLabel": "3.14"},
        task_runs=1,
        start_labels={"existingLabel": "someValue"},
        outputs={
            "@labels": Keys(
                ("system.correlationId", "intValue", "boolValue", "floatValue", "taskRunId", "existingLabel")
            )
        },
        labels={
            "system.correlationId": ExecutionId(),
            "intValue": "42",
            "boolValue": "true",
            "floatValue": "3.14",
            "taskRunId": TaskRunId("update-labels"),
            "existingLabel": "someValue",
        },
        source="core/src/test/java/io/kestra/plugin/core/flow/RuntimeLabelsTest.java#primitiveTypeLabels",
    ),
    "state.yaml": Expectation(
        state="SUCCESS",
        inputs={"state": "each"},
        task_runs=17,
        outputs={"regetEach1[1].data.value": "null-b", "regetEach2[1].data.value": "null-a-b"},
        source="core/src/test/java/io/kestra/plugin/core/flow/StateTest.java#each",
        note="Repeatable: the 'each' branch deletes the state first. [1] is the iteration for value 'b'.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"state": FRESH_NAME},
                task_runs=5,
                outputs={"createGet.data.value": 1},
                source="core/src/test/java/io/kestra/plugin/core/flow/StateTest.java#set",
                note="Run 1 of 3 with the same fresh name (the runner makes one per compat run).",
            ),
            Expectation(
                state="SUCCESS",
                inputs={"state": FRESH_NAME},
                task_runs=5,
                outputs={"updateGet.data.value": "2"},
                source="core/src/test/java/io/kestra/plugin/core/flow/StateTest.java#set",
                note="Run 2 of 3, after the previous variant.",
            ),
            Expectation(
                state="SUCCESS",
                inputs={"state": FRESH_NAME},
                task_runs=5,
                outputs={"deleteGet.count": 0},
                source="core/src/test/java/io/kestra/plugin/core/flow/StateTest.java#set",
                note="Run 3 of 3, after the previous variant.",
            ),
        ),
    ),
    # --- simple ones ------------------------------------------------------------------------------
    "minimal.yaml": Expectation(
        state="SUCCESS",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#skipExecution -> "
            "core/src/test/java/io/kestra/core/runners/SkipExecutionCaseTest.java#skipExecution; "
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#changeStatus"  # noqa: E501
        ),
    ),
    "minimal2.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return (namespace io.kestra.tests2, id 'minimal')
        needs="no-assertion",
        source=(
            "core/src/test/java/io/kestra/core/repositories/AbstractFlowRepositoryTest.java#findByNamespace"
        ),
        unasserted="no Kestra test executes this file; the cited one only finds it by namespace "
        "io.kestra.tests2",
    ),
    "minimal-bis.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return
        needs="no-assertion",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#findByFlowId"  # noqa: E501
        ),
        unasserted="the test only counts the executions listed for the flow (0, then 1)",
    ),
    "sleep-task-flow.yaml": Expectation(
        state="SUCCESS", source="core/src/test/java/io/kestra/plugin/core/flow/SleepTest.java#sleepTaskTest"
    ),
    "sleep.yml": Expectation(
        state="SUCCESS",  # inferred: a PT1S Sleep
        needs="no-assertion",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#kill"
        ),
        unasserted="the test only asserts the execution is running before it kills it (variant 1)",
        variants=(
            Expectation(
                state="KILLED",
                task_runs=1,
                task_states={"sleep": "KILLED"},
                needs="manual-kill",
                source=(
                    "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#kill"  # noqa: E501
                ),
                note="Killed through the API while running.",
            ),
        ),
    ),
    "sla-max-duration-ok.yaml": Expectation(
        state="SUCCESS",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#maxDurationSLAShouldPass -> "
            "core/src/test/java/io/kestra/core/runners/SLATestCase.java#maxDurationSLAShouldPass"
        ),
    ),
    # --- retries ----------------------------------------------------------------------------------
    "retry-expo.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        attempts={"failed": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryExpo -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryExpo"
        ),
    ),
    "retry-fail.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        attempts={"keepFailingWithRetry": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFail -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFail"
        ),
        note="Flow id is retry-and-fail; the second task must not run, the 'error' handler does.",
    ),
    "retry-failed-flow-duration.yml": Expectation(
        state="FAILED",
        attempts={"fail": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFailedFlowDuration -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFailedFlowDuration"
        ),
    ),
    "retry-failed-task-attempts.yml": Expectation(
        state="FAILED",
        attempts={"fail": 4},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFailedTaskAttempts -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFailedTaskAttempts"
        ),
    ),
    "retry-failed-task-duration.yml": Expectation(
        state="FAILED",
        attempts={"fail": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFailedTaskDuration -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFailedTaskDuration"
        ),
    ),
    "retry-failed.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        attempts={"failed": 5},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFailed -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFailed"
        ),
    ),
    "retry-flowable-child.yaml": Expectation(
        state="FAILED",
        attempts={"child": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFlowableChild -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFlowableChild"
        ),
    ),
    "retry-flowable.yaml": Expectation(
        state="FAILED",
        attempts={"child": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryFlowable -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryFlowable"
        ),
        note="The retry sits on the Sequential; the test reads the attempts of task run #1 (child).",
    ),
    "retry-new-execution-flow-duration.yml": Expectation(
        state="RETRIED",
        needs="retry-new-execution",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryNewExecutionFlowDuration -> "  # noqa: E501
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryNewExecutionFlowDuration"
        ),
        note="Three executions end RETRIED, RETRIED, FAILED; the one `flow run` starts is retried.",
    ),
    "retry-new-execution-task-attempts.yml": Expectation(
        state="RETRIED",
        needs="retry-new-execution",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryNewExecutionTaskAttempts -> "  # noqa: E501
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryNewExecutionTaskAttempts"
        ),
        note="Three executions end RETRIED, RETRIED, FAILED; the one `flow run` starts is retried.",
    ),
    "retry-random.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        attempts={"failed": 3},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retryRandom -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retryRandom"
        ),
    ),
    "retry-success-first-attempt.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        attempts={"not-retry-and-no-warning": 1},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retrySuccessAtFirstAttempt -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retrySuccessAtFirstAttempt"
        ),
    ),
    "retry-success.yaml": Expectation(
        state="WARNING",
        task_runs=1,
        attempts={"failed": 4},
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerRetryTest.java#retrySuccess -> "
            "core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java#retrySuccess"
        ),
        note="Succeeds on the 4th attempt; warningOnRetry turns that into WARNING.",
    ),
    # --- restarts, pause / resume ---------------------------------------------------------------------
    "restart-each.yaml": Expectation(
        state="SUCCESS",
        inputs={"failed": "NO"},
        task_runs=20,
        source=(
            "core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#replayFlowable; "
            "core/src/test/java/io/kestra/core/runners/RestartTest.java#replay -> "
            "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#replay"
        ),
        note="RestartCaseTest.replay runs it without inputs and also gets SUCCESS.",
        variants=(
            Expectation(
                state="FAILED",
                inputs={"failed": "FIRST"},
                source="core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#restartFlowable",
            ),
            Expectation(
                state="FAILED",
                inputs={"failed": "SECOND"},
                source="core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#restartFlowable2",
            ),
        ),
    ),
    "restart_always_failed.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        task_states={"failStep": "FAILED"},
        source=(
            "core/src/test/java/io/kestra/core/runners/RestartTest.java#restartFailedThenFailureWithGlobalErrors -> "  # noqa: E501
            "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#restartFailedThenFailureWithGlobalErrors"  # noqa: E501
        ),
        variants=(
            Expectation(
                state="FAILED",
                task_runs=2,
                attempts={"failStep": 2},
                needs="manual-restart",
                source=(
                    "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#restartFailedThenFailureWithGlobalErrors"  # noqa: E501
                ),
                note="After one restart of the failed execution.",
            ),
        ),
    ),
    "restart_local_errors.yaml": Expectation(
        state="FAILED",
        task_runs=5,
        task_states={"failStep": "FAILED"},
        source=(
            "core/src/test/java/io/kestra/core/runners/RestartTest.java#restartFailedThenFailureWithLocalErrors -> "  # noqa: E501
            "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#restartFailedThenFailureWithLocalErrors"  # noqa: E501
        ),
        note="The test reads task run #3 (failStep) by position; here it is found by id.",
        variants=(
            Expectation(
                state="FAILED",
                task_runs=5,
                attempts={"failStep": 2},
                needs="manual-restart",
                source=(
                    "core/src/test/java/io/kestra/core/runners/RestartCaseTest.java#restartFailedThenFailureWithLocalErrors"  # noqa: E501
                ),
                note="After one restart of the failed execution.",
            ),
        ),
    ),
    "pause.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#run -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.run; "
            "core/src/test/java/io/kestra/core/runners/ExecutionServiceTest.java#resumePausedToRunning"
        ),
        note="Stays PAUSED until resumed; marking 'pause' RUNNING makes it end SUCCESS.",
    ),
    "pause-delay.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#pauseRunDelay -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runDelay"
        ),
        history=("PAUSED", "SUCCESS"),
        task_history={"pause": {"PAUSED": 1, "RUNNING": 2}},
        note="The test also sees 1 task run while PAUSED; after PT1S it resumes by itself.",
    ),
    "pause-delay-from-input.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#pauseRunDelayFromInput -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runDelayFromInput"
        ),
        history=("PAUSED", "SUCCESS"),
        task_history={"pause": {"PAUSED": 1, "RUNNING": 2}},
        note="Uses the default delay input PT1S. The test also sees 1 task run while PAUSED.",
    ),
    "pause-timeout.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        pauses_first=True,
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#timeout -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runTimeout"
        ),
        task_states={"pause": "FAILED", "last": None},
        history=("PAUSED", "FAILED"),
        task_history={"pause": {"PAUSED": 1, "RUNNING": 1, "FAILED": 1}},
        note="The test also sees 1 task run while PAUSED; the PT1S timeout then fails 'pause'.",
    ),
    "pause_no_tasks.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#runEmptyTasks -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runEmptyTasks"
        ),
        note="After marking 'pause' RUNNING it ends SUCCESS.",
    ),
    "pause_on_resume.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#runOnResume -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runOnResume"
        ),
        note="Resumed with asked=restarted and a file 'data' -> SUCCESS, last.values.asked == 'restarted', "
        "last.values.data starts with kestra://. Resuming without 'asked' is rejected "
        "(PauseTest.runOnResumeMissingInputs).",
    ),
    "pause_on_resume_optional.yaml": Expectation(
        state="PAUSED",
        needs="pause-resume",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#runOnResumeOptionalInputs -> "
            "core/src/test/java/io/kestra/plugin/core/flow/PauseTest.java#Suite.runOnResumeOptionalInputs"
        ),
        note="Resumed without inputs -> SUCCESS and last.values.asked == 'MISSING'.",
    ),
    "resume-execution.yaml": Expectation(
        state="SUCCESS",
        inputs={"executionId": "<id of a PAUSED execution of io.kestra.tests.pause>"},
        needs="paused-execution",
        source="core/src/test/java/io/kestra/plugin/core/execution/ResumeTest.java#resume",
        note="Resumes a paused 'pause' execution, which then terminates.",
    ),
    # --- concurrency ------------------------------------------------------------------------------
    "flow-concurrency-cancel.yml": Expectation(
        state="SUCCESS",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#concurrencyCancel -> "
            "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyCancel"
        ),
        note="A lone execution ends SUCCESS.",
        variants=(
            Expectation(
                state="CANCELLED",
                needs="concurrent-run",
                source=(
                    "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyCancel"  # noqa: E501
                ),
                note="Second execution started while the first is RUNNING (limit 1, behavior CANCEL).",
            ),
        ),
    ),
    "flow-concurrency-queue-pause.yml": Expectation(
        state="SUCCESS",
        pauses_first=True,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#concurrencyQueuePause -> "
            "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyQueuePause"
        ),
        note="A lone execution ends SUCCESS (Pause with delay PT1S).",
        variants=(
            Expectation(
                state="SUCCESS",
                needs="concurrent-run",
                source=(
                    "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyQueuePause"  # noqa: E501
                ),
                note="Second execution goes CREATED -> QUEUED -> RUNNING -> SUCCESS.",
            ),
        ),
    ),
    "flow-concurrency-queue.yml": Expectation(
        state="SUCCESS",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#concurrencyQueue -> "
            "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyQueue"
        ),
        note="A lone execution ends SUCCESS.",
        variants=(
            Expectation(
                state="SUCCESS",
                needs="concurrent-run",
                source=(
                    "core/src/test/java/io/kestra/core/runners/FlowConcurrencyCaseTest.java#flowConcurrencyQueue"  # noqa: E501
                ),
                note="Second execution goes CREATED -> QUEUED -> RUNNING -> SUCCESS.",
            ),
        ),
    ),
    # --- subflows and ForEachItem --------------------------------------------------------------------
    "subflow-parent.yaml": Expectation(
        state="SUCCESS",
        needs="subflow:io.kestra.tests.subflow-child",
        subflows=Subflows(
            count=1,
            flow_id="subflow-child",
            state="SUCCESS",
            labels={"system.correlationId": ExecutionId()},
            nested=Subflows(
                count=1,
                flow_id="subflow-grand-child",
                state="SUCCESS",
                labels={"system.correlationId": ExecutionId()},
            ),
        ),
        source="core/src/test/java/io/kestra/plugin/core/flow/CorrelationIdTest.java#shouldHaveCorrelationId",
    ),
    "subflow-child.yaml": Expectation(
        state="SUCCESS",
        needs="subflow:io.kestra.tests.subflow-grand-child",
        source="core/src/test/java/io/kestra/plugin/core/flow/CorrelationIdTest.java#shouldHaveCorrelationId",
        note="Asserted when started by subflow-parent.",
    ),
    "subflow-grand-child.yaml": Expectation(
        state="SUCCESS",
        source="core/src/test/java/io/kestra/plugin/core/flow/CorrelationIdTest.java#shouldHaveCorrelationId",
        note="Asserted when started through subflow-child; uses labels.system.correlationId, which Kestra "
        "sets on every execution.",
    ),
    "task-allow-failure-executable-flow.yml": Expectation(
        state="WARNING",
        task_runs=2,
        needs="subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="core/src/test/java/io/kestra/core/runners/TaskWithAllowFailureTest.java#executableTask_Flow",
    ),
    "task-allow-warning-executable-flow.yml": Expectation(
        state="SUCCESS",
        task_runs=2,
        needs="subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="core/src/test/java/io/kestra/core/runners/TaskWithAllowWarningTest.java#executableTask_Flow",
    ),
    "task-allow-failure-executable-foreachitem.yml": Expectation(
        state="WARNING",
        task_runs=4,
        file_inputs={"file": _padded_lines(10)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow-failed",
        source=(
            "core/src/test/java/io/kestra/core/runners/TaskWithAllowFailureTest.java#executableTask_ForEachItem"  # noqa: E501
        ),
    ),
    "task-allow-warning-executable-foreachitem.yml": Expectation(
        state="SUCCESS",
        task_runs=4,
        file_inputs={"file": _padded_lines(10)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow-failed",
        source=(
            "core/src/test/java/io/kestra/core/runners/TaskWithAllowWarningTest.java#executableTask_ForEachItem"  # noqa: E501
        ),
    ),
    "task-flow.yaml": Expectation(
        state="SUCCESS",
        inputs={"string": "OK"},
        task_runs=1,
        outputs={"launch.outputs.extracted": Contains("default > amazing")},
        attempts={"launch": 1},
        start_labels={"mainFlowExecutionLabel": "execFoo"},
        subflows=Subflows(
            count=1,
            flow_id="switch",
            state="SUCCESS",
            task_runs=2,
            labels={
                "system.correlationId": ExecutionId(),
                "mainFlowExecutionLabel": "execFoo",
                "mainFlowLabel": "flowFoo",
                "launchTaskLabel": "launchFoo",
                "switchFlowLabel": "switchFoo",
            },
        ),
        needs="subflow:io.kestra.tests.switch",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/FlowTest.java#waitSuccess -> "
            "core/src/test/java/io/kestra/plugin/core/flow/FlowCaseTest.java#waitSuccess"
        ),
        note="switch.yaml is not in this corpus, so none of these cases runs here.",
        variants=(
            Expectation(
                state="FAILED",
                inputs={"string": "THIRD"},
                task_runs=1,
                outputs={"launch.outputs.extracted": Contains("Error Trigger ! error-t1")},
                attempts={"launch": 1},
                start_labels={"mainFlowExecutionLabel": "execFoo"},
                subflows=Subflows(count=1, flow_id="switch", state="FAILED", task_runs=4),
                needs="subflow:io.kestra.tests.switch",
                source=(
                    "core/src/test/java/io/kestra/plugin/core/flow/FlowTest.java#waitFailed -> "
                    "core/src/test/java/io/kestra/plugin/core/flow/FlowCaseTest.java#waitFailed"
                ),
            ),
            Expectation(
                state="FAILED",
                inputs={"string": "FIRST"},
                task_runs=1,
                attempts={"launch": 1},
                start_labels={"mainFlowExecutionLabel": "execFoo"},
                subflows=Subflows(count=1, flow_id="switch", state="SUCCESS", task_runs=2),
                needs="subflow:io.kestra.tests.switch",
                source=(
                    "core/src/test/java/io/kestra/plugin/core/flow/FlowTest.java#invalidOutputs -> "
                    "core/src/test/java/io/kestra/plugin/core/flow/FlowCaseTest.java#invalidOutputs"
                ),
                note="The child succeeds but the 'extracted' output cannot be rendered.",
            ),
        ),
    ),
    "task-flow-dynamic.yaml": Expectation(
        state="FAILED",  # inferred: 'inputs.string' is undefined, so the Subflow inputs cannot render
        inputs={"namespace": "io.kestra.tests", "flowId": "switch"},
        needs="raw-inputs,subflow:io.kestra.tests.switch,no-assertion",
        source="core/src/test/java/io/kestra/core/models/hierarchies/FlowGraphTest.java#dynamicIdSubflow",
        unasserted="the test asserts only the flow graph (nodes, edges, clusters)",
        note="The test passes raw inputs namespace=io.kestra.tests and flowId=switch, which the flow does "
        "not declare, without the declared 'string', and only asserts the graph.",
    ),
    "for-each-item.yaml": Expectation(
        state="SUCCESS",
        inputs={"batch": "4"},
        task_runs=4,
        outputs={
            "each_items.numberOfBatches": 26,
            "each_items.iterations.CREATED": 0,
            "each_items.iterations.RUNNING": 0,
            "each_items.iterations.SUCCESS": 26,
        },
        attempts={"each_items": 1},
        file_inputs={"file": _padded_lines(102)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#forEachItem -> "
            "core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItem"
        ),
        subflows=Subflows(
            count=26,
            flow_id="for-each-item-subflow",
            state="SUCCESS",
            task_runs=1,
            inputs={
                "items": Matches(
                    r"kestra:///io/kestra/tests/for-each-item/executions/.*/tasks/each-split/.*\.txt"
                )
            },
            labels={"system.correlationId": ExecutionId()},
        ),
        note="The test checks flow, state, task runs, items and correlation id on the last sub-execution to "
        "end; here every one is checked.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"batch": "4"},
                task_runs=4,
                outputs={"each_items": {}},
                file_inputs={"file": ""},
                needs="file-input",
                source=(
                    "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#forEachItemEmptyItems -> "
                    "core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItemEmptyItems"  # noqa: E501
                ),
                note="Empty file: no batches and no outputs on each_items (Kestra's null outputs; "
                "`flow run --json` prints a run without outputs as {}).",
            ),
        ),
    ),
    "for-each-item-failed.yaml": Expectation(
        state="FAILED",
        task_runs=3,
        outputs={
            "each_items.numberOfBatches": 26,
            "each_items.iterations.CREATED": 0,
            "each_items.iterations.RUNNING": 0,
            "each_items.iterations.FAILED": 26,
        },
        attempts={"each_items": 1},
        file_inputs={"file": _padded_lines(102)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow-failed",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#forEachItemFailed -> "
            "core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItemFailed"
        ),
        subflows=Subflows(
            count=26,
            flow_id="for-each-item-subflow-failed",
            state="FAILED",
            task_runs=1,
            inputs={
                "items": Matches(
                    r"kestra:///io/kestra/tests/for-each-item-failed/executions/.*/tasks/each-split/.*\.txt"
                )
            },
        ),
    ),
    "for-each-item-outputs.yaml": Expectation(
        state="SUCCESS",
        task_runs=5,
        outputs={
            "each_items.numberOfBatches": 26,
            "each_items.iterations.CREATED": 0,
            "each_items.iterations.RUNNING": 0,
            "each_items.iterations.SUCCESS": 26,
            "each_merge.subflowOutputs": StoredFile(lines=26),
        },
        attempts={"each_items": 1},
        file_inputs={"file": _padded_lines(102)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-outputs-subflow",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#forEachItemSubflowOutputs -> "
            "core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItemWithSubflowOutputs"  # noqa: E501
        ),
        subflows=Subflows(
            count=26,
            flow_id="for-each-item-outputs-subflow",
            state="SUCCESS",
            task_runs=1,
            inputs={
                "items": Matches(
                    r"kestra:///io/kestra/tests/for-each-item-outputs/executions/.*/tasks/each-split/.*\.txt"
                )
            },
        ),
    ),
    "for-each-item-subflow.yaml": Expectation(
        state="SUCCESS",
        inputs={"items": "compat"},
        task_runs=1,
        source="core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItem",
        note="Asserted for the sub-executions for-each-item starts (items = a kestra:// batch file URI); "
        "the task only logs the value.",
    ),
    "for-each-item-subflow-failed.yaml": Expectation(
        state="FAILED",
        inputs={"items": "You will fail"},
        task_runs=1,
        source="core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItemFailed",
        note="Asserted for the sub-executions for-each-item-failed starts; the only task is a Fail.",
    ),
    "for-each-item-outputs-subflow.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="file-input",
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/ForEachItemCaseTest.java#forEachItemWithSubflowOutputs"  # noqa: E501
        ),
        note="Asserted for the sub-executions for-each-item-outputs starts; 'items' must be a storage URI "
        "because the task calls read(inputs.items).",
    ),
    # --- flow triggers, schedules, webhooks ----------------------------------------------------------
    "flow-trigger-preconditions-flow-b.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTriggerPreconditions -> "
            "core/src/test/java/io/kestra/core/runners/MultipleConditionTriggerCaseTest.java#flowTriggerPreconditions"  # noqa: E501
        ),
        note="Runs alone; in the test it then fires flow-trigger-preconditions-flow-listen (not in corpus).",
    ),
    "trigger-multiplecondition-flow-b.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#multipleConditionTrigger -> "
            "core/src/test/java/io/kestra/core/runners/MultipleConditionTriggerCaseTest.java#trigger"
        ),
    ),
    "trigger-multiplecondition-flow-c.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#multipleConditionTriggerFailed -> "
            "core/src/test/java/io/kestra/core/runners/MultipleConditionTriggerCaseTest.java#failed"
        ),
    ),
    "trigger-multiplecondition-flow-d.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#multipleConditionTriggerFailed -> "
            "core/src/test/java/io/kestra/core/runners/MultipleConditionTriggerCaseTest.java#failed"
        ),
    ),
    "trigger-flow-with-pause.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTriggerWithPause -> "
            "core/src/test/java/io/kestra/core/runners/FlowTriggerCaseTest.java#triggerWithPause"
        ),
        listeners=Listeners(
            "trigger-flow-listener-with-pause.yaml",
            count=4,
            path="@outputs.status",
            values=("RUNNING", "PAUSED", "RUNNING", "SUCCESS"),
        ),
    ),
    "trigger-flow-listener.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        outputs={"only-listener.value": StartsWith("childs: from parents: ")},
        needs="trigger",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTrigger -> "
            "core/src/test/java/io/kestra/core/runners/FlowTriggerCaseTest.java#trigger"
        ),
        note="Started by a Flow trigger on io.kestra.tests.trigger.trigger-flow (not in corpus); the value "
        "ends with that execution's id.",
    ),
    "trigger-flow-listener-no-inputs.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="trigger",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTrigger -> "
            "core/src/test/java/io/kestra/core/runners/FlowTriggerCaseTest.java#trigger"
        ),
        note="Started by a Flow trigger on io.kestra.tests.trigger.trigger-flow (not in corpus).",
    ),
    "trigger-flow-listener-namespace-condition.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="trigger",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTrigger -> "
            "core/src/test/java/io/kestra/core/runners/FlowTriggerCaseTest.java#trigger; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#multipleConditionTriggerFailed -> "
            "core/src/test/java/io/kestra/core/runners/MultipleConditionTriggerCaseTest.java#failed"
        ),
        note="Started by any SUCCESS execution in namespace io.kestra.tests.trigger (not by a FAILED one).",
    ),
    "trigger-flow-listener-with-pause.yaml": Expectation(
        state="SUCCESS",
        needs="trigger",
        source=(
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#flowTriggerWithPause -> "
            "core/src/test/java/io/kestra/core/runners/FlowTriggerCaseTest.java#triggerWithPause"
        ),
        note="Fires 4 times for trigger-flow-with-pause; @outputs.status is RUNNING, PAUSED, RUNNING, "
        "SUCCESS in that order.",
    ),
    "trigger-toggle.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        outputs={"@triggers.schedule": True},
        needs="trigger-disabled:schedule",
        source="core/src/test/java/io/kestra/plugin/core/trigger/ToggleTest.java#toggle",
        note="The test stores the flow's 'schedule' trigger disabled; the task re-enables it.",
    ),
    "webhook.yaml": Expectation(
        state="SUCCESS",  # inferred: a Return of the trigger variables
        needs="webhook,no-assertion",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#webhook"
        ),
        unasserted="the test asserts the webhook's trigger.body / trigger.parameters and the flow labels, "
        "not the final state",
    ),
    "webhook-secret-key.yaml": Expectation(
        state="SUCCESS",  # inferred
        needs="webhook,secret,no-assertion",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#webhookDynamicKeyFromASecret"  # noqa: E501
        ),
        unasserted="the test only checks that an execution is created (key from secret WEBHOOK_KEY)",
    ),
    "webhook-with-condition.yaml": Expectation(
        state="SUCCESS",  # inferred
        needs="webhook,no-assertion",
        source=(
            "webserver/src/test/java/io/kestra/webserver/controllers/api/ExecutionControllerTest.java#webhookWithCondition"  # noqa: E501
        ),
        unasserted='the test only checks that body {"hello": "world"} creates an execution and '
        '{"hello": "webhook"} none (204)',
    ),
    # --- working directory --------------------------------------------------------------------------
    "working-directory-cache.yml": Expectation(
        state="SUCCESS",
        task_runs=3,
        outputs={"exists": {"uris": {}}},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#cache -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.cache"
        ),
        note="First run with an empty cache. A second run finds the cached hello.txt in exists.uris.",
        variants=(
            Expectation(
                state="SUCCESS",
                task_runs=3,
                outputs={"exists.uris": HasItems(("hello.txt",))},
                source="core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.cache",
                note="Second run, cache filled by the first.",
            ),
        ),
    ),
    "working-directory-each.yaml": Expectation(
        state="SUCCESS",
        task_runs=8,
        outputs={"2_end.value": StartsWith("kestra://")},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#each -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.each; "
            "jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java#workerEach"
        ),
    ),
    "working-directory-inputs.yml": Expectation(
        state="SUCCESS",
        task_runs=2,
        outputs={
            "inputFiles.uris": HasItems(("input.txt",)),
            "inputFiles.uris['input.txt']": StoredFile(text="Hello World"),
        },
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#inputFiles -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.inputFiles"
        ),
    ),
    "working-directory-taskrun-nested.yml": Expectation(
        state="SUCCESS",
        task_runs=6,
        outputs={"log-workerparent.value": Contains('{"taskrun":{"value":"1"}}')},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#taskrunNested -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.taskRunNested"
        ),
    ),
    "working-directory-taskrun.yml": Expectation(
        state="SUCCESS",
        task_runs=3,
        outputs={"log-taskrun.value": Contains("1")},
        source=(
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#taskrun -> "
            "core/src/test/java/io/kestra/plugin/core/flow/WorkingDirectoryTest.java#Suite.taskRun"
        ),
    ),
}
