"""What Kestra's own Java tests expect from each flow in ``shared/kestra-flows/valid``.

The 112 files in ``valid/`` are Kestra's core test flows (``core/src/test/resources/flows/valids`` of
kestra-io/kestra at commit 58c1ca2d0589c888328bacc3ee65e65dc4ba0a6a, 2024-12-20; see
``shared/kestra-flows/SOURCE_COMMIT``). For every file this module records, in our own words, what the
Kestra test that runs the flow asserts: the final execution state, the number of task runs, key outputs,
task-run states and attempt counts, plus the inputs the test passes. ``source`` names the test
(``Class.method``; ``A.m -> B.n`` when a runner test delegates to a shared case class).

``make compat`` (``tests.compat.report``) loads every valid flow; its run stage is to execute each flow
that ``Expectation.runnable`` allows with ``manage.py flow run FILE --json [--input k=v ...]`` and compare
the JSON (``state``, ``outputs``, ``taskRuns[].taskId/state/attempts/outputs``) with
``EXPECTATIONS[file name]`` (``lookup`` and ``value_matches`` below do the per-path part). Flows whose
``needs`` name anything else are reported as skipped with that reason. A state mismatch on a
``no-assertion`` flow is a hint, not a Kestra incompatibility.

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
* ``task_states`` and ``attempts`` map a task id (same ``taskId[n]`` form) to its final state / number
  of attempts. ``task_runs`` counts every task run, flowable parents and error handlers included.
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


Matcher = Contains | StartsWith | Matches | HasItems | Present


def value_matches(expected: object, actual: object) -> bool:
    if isinstance(expected, Contains | StartsWith | Matches | HasItems | Present):
        return expected.test(actual)
    return expected == actual


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
    needs: str | None = None  # comma-separated reasons it cannot simply run alone (see module doc)
    pauses_first: bool = False  # goes through PAUSED and continues by itself
    source: str = ""  # the Kestra test(s) asserting this
    note: str = ""
    variants: tuple[Expectation, ...] = ()  # other asserted cases for the same flow

    @property
    def needs_list(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in (self.needs or "").split(",") if n.strip())

    @property
    def state_asserted(self) -> bool:
        return "no-assertion" not in self.needs_list

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
        },
        needs="raw-inputs",
        source="AllowFailureTest.success",
        note="@ExecuteFlow runs it with no inputs at all (runOne without an inputs function), so the "
        "required 'crash' is never validated and 'inputs.crash is defined' is false; 'global-error' must "
        "not run.",
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
                source="AllowFailureTest.failed",
            ),
        ),
    ),
    "dag.yaml": Expectation(state="SUCCESS", task_runs=7, source="DagTest.dag"),
    "disable-error.yaml": Expectation(
        state="FAILED",  # inferred: Fail task, error handlers do not recover
        task_runs=3,
        needs="no-assertion",
        source="DisabledTest.error",
        note="Only the task-run count is asserted: failed, t2, t4 (t3 is disabled).",
    ),
    "disable-flowable.yaml": Expectation(
        state="SUCCESS",  # inferred: disabled tasks are skipped, nothing fails
        task_runs=10,
        needs="no-assertion",
        source="DisabledTest.flowable",
    ),
    "each-empty.yaml": Expectation(state="SUCCESS", task_runs=2, source="EachSequentialTest.eachEmpty"),
    "each-object.yaml": Expectation(
        state="SUCCESS",
        task_runs=8,
        outputs={"json[1].value": Contains('json > JSON > ["my-complex"]')},
        source="EachSequentialTest.object",
        note="The test reads task run #6 of the list, which is the second 'json' run (the my-complex item).",
    ),
    "each-parallel-Integer.yml": Expectation(state="SUCCESS", source="EachParallelTest.parallelInteger"),
    "each-parallel-nested.yaml": Expectation(
        state="SUCCESS",
        task_runs=11,
        source="EachParallelTest.parallelNested; ExecutionServiceTest.replayEachPara; "
        "JdbcRunnerTest.eachParallelNested",
    ),
    "each-parallel-pause.yml": Expectation(
        state="SUCCESS",
        task_runs=7,
        pauses_first=True,
        source="JdbcRunnerTest.pauseRunParallelDelay -> PauseTest.Suite.runParallelDelay",
        note="Each iteration pauses for PT1S then continues on its own.",
    ),
    "each-sequential.yaml": Expectation(
        state="WARNING",
        task_runs=11,
        source="EachSequentialTest.sequential",
        note="'1-2' fails for 'value 2' and 'value 3' inside AllowFailure.",
    ),
    "fail-on-switch.yaml": Expectation(
        state="FAILED",
        inputs={"param": "fail"},
        task_runs=1,
        task_states={"switch": "FAILED"},
        source="FailTest.failOnSwitch",
        note="No case matches 'fail' and there is no default, so the Switch itself fails.",
    ),
    "flowable-with-parent-fail.yaml": Expectation(
        state="FAILED", task_runs=5, source="BadFlowableTest.flowableWithParentFail"
    ),
    "foreach-concurrent-no-limit.yaml": Expectation(
        state="SUCCESS", task_runs=7, source="ForEachTest.concurrentNoLimit"
    ),
    "foreach-concurrent-parallel.yaml": Expectation(
        state="SUCCESS", task_runs=10, source="ForEachTest.concurrentWithParallel"
    ),
    "foreach-concurrent.yaml": Expectation(state="SUCCESS", task_runs=7, source="ForEachTest.concurrent"),
    "full.yaml": Expectation(
        state="SUCCESS",
        task_runs=13,
        outputs={"t2.value": Contains("value1")},
        source="JdbcRunnerTest.full",
    ),
    "if-condition.yaml": Expectation(
        state="SUCCESS",
        inputs={"param": "true"},
        task_runs=2,
        task_states={"when-true": "SUCCESS"},
        source="IfTest.ifTruthy",
        note="ifTruthy also passes true and 1; ifFalsy passes false, 'false', 0 and -0.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"param": "false"},
                task_runs=2,
                task_states={"when-false": "SUCCESS"},
                source="IfTest.ifFalsy",
            ),
            Expectation(
                state="SUCCESS",
                inputs={"param": "0"},
                task_runs=2,
                task_states={"when-false": "SUCCESS"},
                source="IfTest.ifFalsy",
            ),
        ),
    ),
    "if-in-flowable.yaml": Expectation(
        state="SUCCESS",
        inputs={"param": "true"},
        task_runs=8,
        task_states={"after_if": "SUCCESS"},
        source="IfTest.ifInFlowable",
    ),
    "if.yaml": Expectation(
        state="SUCCESS",
        inputs={"if1": "true", "if2": "false", "if3": "true"},
        task_runs=12,
        source="IfTest.multipleIf",
    ),
    "parallel-nested.yaml": Expectation(
        state="SUCCESS",
        task_runs=11,
        source="ExecutionServiceTest.replayParallel; ParallelTest.parallelNested; "
        "JdbcRunnerTest.parallelNested",
    ),
    "parallel.yaml": Expectation(
        state="SUCCESS",  # inferred: six Log tasks and a Return
        task_runs=8,
        needs="no-assertion",
        source="ParallelTest.parallel; JdbcRunnerTest.parallel",
    ),
    "sequential-with-global-errors.yaml": Expectation(
        state="FAILED", task_runs=6, source="SequentialTest.sequentialWithGlobalErrors"
    ),
    "sequential-with-local-errors.yaml": Expectation(
        state="FAILED", task_runs=6, source="SequentialTest.sequentialWithLocalErrors"
    ),
    "task-allow-failure-runnable.yml": Expectation(
        state="WARNING",
        task_runs=2,
        attempts={"fail": 3},
        source="TaskWithAllowFailureTest.runnableTask",
    ),
    "task-allow-warning-flowable.yml": Expectation(
        state="SUCCESS", task_runs=3, source="TaskWithAllowWarningTest.flowableTask"
    ),
    "task-runif.yml": Expectation(
        state="FAILED",
        task_runs=4,
        task_states={"executed": "SUCCESS", "notexecuted": "SKIPPED", "willfailedtheflow": "FAILED"},
        source="TaskWithRunIfTest.runnableTask",
    ),
    "waitfor-multiple-tasks-failed.yaml": Expectation(
        state="FAILED",
        source="JdbcRunnerTest.waitforMultipleTasksFailed -> WaitForCaseTest.waitforMultipleTasksFailed",
        note="The last task run has exactly one attempt (attemptNumber 1).",
    ),
    "waitfor.yaml": Expectation(
        state="SUCCESS",
        outputs={"waitfor": Present()},
        source="JdbcRunnerTest.waitFor -> WaitForCaseTest.waitfor",
    ),
    # --- failures, variables, expressions ----------------------------------------------------------
    "empty-variables.yml": Expectation(
        state="SUCCESS",
        inputs={"emptyKey": '{ "foo": "" }', "emptySubObject": '{"json":{"someEmptyObject":{}}}'},
        task_runs=3,
        source="EmptyVariablesTest.emptyVariables",
    ),
    "execution.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return
        outputs={"hello.value": Matches(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")},
        needs="no-assertion",
        source="JdbcRunnerTest.executionDate",
    ),
    "failed-first.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        task_states={"t1": "FAILED"},
        source="VariablesTest.failedFirst; JdbcRunnerTest.restartMultiple -> RestartCaseTest.restartMultiple",
        note="'{{missingVar}}' fails t1; t2 never runs. restartMultiple restarts it twice, FAILED each time.",
    ),
    "return.yaml": Expectation(
        state="SUCCESS",  # inferred: three Return tasks
        task_runs=3,
        outputs={"task-id.value": "task-id", "flow-id.value": "return"},
        needs="no-assertion",
        source="RunContextTest.variables",
        note="date.value must parse as a date-time within 10 s of now.",
    ),
    "variables-invalid.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        task_states={"parent-seq": "FAILED"},
        source="VariablesTest.invalidVars",
        note="parent-seq logs: Unable to find `inputs` used in the expression `{{inputs.invalid}}`.",
    ),
    "flow-with-array-outputs.yml": Expectation(
        state="SUCCESS",
        outputs={"@outputs.myout": HasItems(("1rstValue", "2ndValue"))},
        source="FlowOutputTest.shouldGetSuccessExecutionForFlowWithArrayOutputs",
        note="The flow outputs hold exactly one key.",
    ),
    "flow-with-outputs.yml": Expectation(
        state="SUCCESS",
        outputs={"@outputs.key": '{"value":"flow-with-outputs"}'},
        source="FlowOutputTest.shouldGetSuccessExecutionForFlowWithOutputs",
        note="The flow outputs hold exactly one key.",
    ),
    # --- logs, inputs, labels, state, kv -----------------------------------------------------------
    "get-log-executionid.yaml": Expectation(
        state="SUCCESS",
        task_runs=4,
        outputs={"get-log-task.size": 3},
        source="FetchTest.fetchWithExecutionId",
    ),
    "get-log-taskid.yaml": Expectation(
        state="SUCCESS",
        task_runs=4,
        outputs={"get-log-task.size": 1},
        source="FetchTest.fetchWithTaskId",
    ),
    "logs.yaml": Expectation(
        state="SUCCESS",
        task_runs=5,
        source="ExecutionServiceTest.replayFromBeginning; RunContextTest.logs; JdbcRunnerTest.logs",
        note="RunContextTest.logs: t1 logs TRACE 'first t1', t2 WARN 'second io.kestra.plugin.core.log.Log', "
        "t3 ERROR 'third logs'; t4 (logLevel INFO) emits nothing.",
    ),
    "input-log-secret.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source="InputsTest.shouldNotLogSecretInput",
        note="The log line must read 'This is my secret: ********'.",
    ),
    "inputs-large.yaml": Expectation(
        state="SUCCESS",
        inputs={"string": "a" * (1024 * 11)},
        task_runs=10,
        task_states={"1_each": "SUCCESS"},
        source="RunContextTest.inputsLarge",
        note="The test also passes every InputsTest input (undeclared here). JdbcRunnerTest.flowTooLarge "
        "(200000 chars) expects FAILED from Kestra's JDBC queue size limit, which is not flow semantics.",
    ),
    "inputs-small-files.yaml": Expectation(
        state="SUCCESS",
        outputs={"@outputs.o": StartsWith("kestra://")},
        file_inputs={"f": _ANY_TEXT_FILE},
        needs="file-input",
        source="ExecutionControllerTest.triggerInputSmall",
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
        source="InputsTest.inputFlow; ExecutionControllerTest.triggerAndWait",
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
                source="InputsTest.inputEmptyJsonFlow",
            ),
        ),
    ),
    "kv.yaml": Expectation(
        state="SUCCESS",  # inferred: the test asserts only the outputs
        outputs={"get.value": "value", "getWithArgs.value": "value"},
        needs="kv-store,no-assertion",
        source="KvFunctionTest.get",
        note='Needs KV key \'my-key\' = {"field": "value"} in namespace io.kestra.tests before the run.',
        variants=(
            Expectation(
                state="FAILED",  # inferred from the FAILED task run below
                inputs={"errorOnMissing": "true"},
                outputs={"get.value": ""},
                task_states={"get": "SUCCESS", "getWithArgs": "FAILED"},
                needs="no-assertion",
                source="KvFunctionTest.getKeyNotFound",
                note="With 'my-key' absent: getWithArgs fails with \"The key 'my-key' does not exist in the "
                "namespace 'io.kestra.tests'\".",
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
        outputs={
            "@labels.flowLabelKey": "flowLabelValue",
            "@labels.overriddenFlowLabelKey": "io.kestra.tests.labels-update-task",
            "@labels.keyFromJson": "valueFromJson",
            "@labels.keyFromMap": "valueFromMap",
            "@labels.keyFromList": "valueFromList",
        },
        source="RuntimeLabelsTest.update",
        note="The test also starts the execution with labels keyFromExecution=valueFromExecution and "
        "overriddenExecutionLabelKey (overridden to the override-labels task run id).",
    ),
    "primitive-labels-flow.yml": Expectation(
        state="SUCCESS",
        inputs={"intLabel": "42", "boolLabel": "true", "floatLabel": "3.14"},
        task_runs=1,
        outputs={"@labels.intValue": "42", "@labels.boolValue": "true", "@labels.floatValue": "3.14"},
        source="RuntimeLabelsTest.primitiveTypeLabels",
        note="Also label taskRunId = the update-labels task run id; the test adds existingLabel=someValue.",
    ),
    "state.yaml": Expectation(
        state="SUCCESS",
        inputs={"state": "each"},
        task_runs=17,
        outputs={"regetEach1[1].data.value": "null-b", "regetEach2[1].data.value": "null-a-b"},
        source="StateTest.each",
        note="Repeatable: the 'each' branch deletes the state first. [1] is the iteration for value 'b'.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"state": "<fresh unique name>"},
                task_runs=5,
                outputs={"createGet.data.value": 1},
                source="StateTest.set",
                note="Run 1 of 3 with the same fresh name; run 2 gives updateGet.data.value == '2', run 3 "
                "deleteGet.count == 0 (each SUCCESS with 5 task runs).",
            ),
        ),
    ),
    # --- simple ones ------------------------------------------------------------------------------
    "minimal.yaml": Expectation(
        state="SUCCESS",
        source="JdbcRunnerTest.skipExecution -> SkipExecutionCaseTest.skipExecution; "
        "ExecutionControllerTest.changeStatus",
    ),
    "minimal2.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return (namespace io.kestra.tests2, id 'minimal')
        needs="no-assertion",
        source="",
        note="No Kestra test runs this file.",
    ),
    "minimal-bis.yaml": Expectation(
        state="SUCCESS",  # inferred: a single Return
        needs="no-assertion",
        source="ExecutionControllerTest.findByFlowId",
        note="The test only checks that the execution is listed.",
    ),
    "sleep-task-flow.yaml": Expectation(state="SUCCESS", source="SleepTest.sleepTaskTest"),
    "sleep.yml": Expectation(
        state="SUCCESS",  # inferred: a PT1S Sleep
        needs="no-assertion",
        source="ExecutionControllerTest.kill",
        variants=(
            Expectation(
                state="KILLED",
                task_runs=1,
                task_states={"sleep": "KILLED"},
                needs="manual-kill",
                source="ExecutionControllerTest.kill",
                note="Killed through the API while running.",
            ),
        ),
    ),
    "sla-max-duration-ok.yaml": Expectation(
        state="SUCCESS",
        source="JdbcRunnerTest.maxDurationSLAShouldPass -> SLATestCase.maxDurationSLAShouldPass",
    ),
    # --- retries ----------------------------------------------------------------------------------
    "retry-expo.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        attempts={"failed": 3},
        source="JdbcRunnerRetryTest.retryExpo -> RetryCaseTest.retryExpo",
    ),
    "retry-fail.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        attempts={"keepFailingWithRetry": 3},
        source="JdbcRunnerRetryTest.retryFail -> RetryCaseTest.retryFail",
        note="Flow id is retry-and-fail; the second task must not run, the 'error' handler does.",
    ),
    "retry-failed-flow-duration.yml": Expectation(
        state="FAILED",
        attempts={"fail": 3},
        source="JdbcRunnerRetryTest.retryFailedFlowDuration -> RetryCaseTest.retryFailedFlowDuration",
    ),
    "retry-failed-task-attempts.yml": Expectation(
        state="FAILED",
        attempts={"fail": 4},
        source="JdbcRunnerRetryTest.retryFailedTaskAttempts -> RetryCaseTest.retryFailedTaskAttempts",
    ),
    "retry-failed-task-duration.yml": Expectation(
        state="FAILED",
        attempts={"fail": 3},
        source="JdbcRunnerRetryTest.retryFailedTaskDuration -> RetryCaseTest.retryFailedTaskDuration",
    ),
    "retry-failed.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        attempts={"failed": 5},
        source="JdbcRunnerRetryTest.retryFailed -> RetryCaseTest.retryFailed",
    ),
    "retry-flowable-child.yaml": Expectation(
        state="FAILED",
        attempts={"child": 3},
        source="JdbcRunnerRetryTest.retryFlowableChild -> RetryCaseTest.retryFlowableChild",
    ),
    "retry-flowable.yaml": Expectation(
        state="FAILED",
        attempts={"child": 3},
        source="JdbcRunnerRetryTest.retryFlowable -> RetryCaseTest.retryFlowable",
        note="The retry sits on the Sequential; the test reads the attempts of task run #1 (child).",
    ),
    "retry-new-execution-flow-duration.yml": Expectation(
        state="RETRIED",
        needs="retry-new-execution",
        source="JdbcRunnerRetryTest.retryNewExecutionFlowDuration -> "
        "RetryCaseTest.retryNewExecutionFlowDuration",
        note="Three executions end RETRIED, RETRIED, FAILED; the one `flow run` starts is retried.",
    ),
    "retry-new-execution-task-attempts.yml": Expectation(
        state="RETRIED",
        needs="retry-new-execution",
        source="JdbcRunnerRetryTest.retryNewExecutionTaskAttempts -> "
        "RetryCaseTest.retryNewExecutionTaskAttempts",
        note="Three executions end RETRIED, RETRIED, FAILED; the one `flow run` starts is retried.",
    ),
    "retry-random.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        attempts={"failed": 3},
        source="JdbcRunnerRetryTest.retryRandom -> RetryCaseTest.retryRandom",
    ),
    "retry-success-first-attempt.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        attempts={"not-retry-and-no-warning": 1},
        source="JdbcRunnerRetryTest.retrySuccessAtFirstAttempt -> RetryCaseTest.retrySuccessAtFirstAttempt",
    ),
    "retry-success.yaml": Expectation(
        state="WARNING",
        task_runs=1,
        attempts={"failed": 4},
        source="JdbcRunnerRetryTest.retrySuccess -> RetryCaseTest.retrySuccess",
        note="Succeeds on the 4th attempt; warningOnRetry turns that into WARNING.",
    ),
    # --- restarts, pause / resume ---------------------------------------------------------------------
    "restart-each.yaml": Expectation(
        state="SUCCESS",
        inputs={"failed": "NO"},
        task_runs=20,
        source="ExecutionServiceTest.replayFlowable; RestartTest.replay -> RestartCaseTest.replay",
        note="RestartCaseTest.replay runs it without inputs and also gets SUCCESS.",
        variants=(
            Expectation(
                state="FAILED",
                inputs={"failed": "FIRST"},
                source="ExecutionServiceTest.restartFlowable",
            ),
            Expectation(
                state="FAILED",
                inputs={"failed": "SECOND"},
                source="ExecutionServiceTest.restartFlowable2",
            ),
        ),
    ),
    "restart_always_failed.yaml": Expectation(
        state="FAILED",
        task_runs=2,
        task_states={"failStep": "FAILED"},
        source="RestartTest.restartFailedThenFailureWithGlobalErrors -> "
        "RestartCaseTest.restartFailedThenFailureWithGlobalErrors",
        variants=(
            Expectation(
                state="FAILED",
                task_runs=2,
                attempts={"failStep": 2},
                needs="manual-restart",
                source="RestartCaseTest.restartFailedThenFailureWithGlobalErrors",
                note="After one restart of the failed execution.",
            ),
        ),
    ),
    "restart_local_errors.yaml": Expectation(
        state="FAILED",
        task_runs=5,
        task_states={"failStep": "FAILED"},
        source="RestartTest.restartFailedThenFailureWithLocalErrors -> "
        "RestartCaseTest.restartFailedThenFailureWithLocalErrors",
        note="Task run #3 (failStep) is FAILED; 'after' never runs.",
        variants=(
            Expectation(
                state="FAILED",
                task_runs=5,
                attempts={"failStep": 2},
                needs="manual-restart",
                source="RestartCaseTest.restartFailedThenFailureWithLocalErrors",
                note="After one restart of the failed execution.",
            ),
        ),
    ),
    "pause.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source="PauseTest.run -> PauseTest.Suite.run; ExecutionServiceTest.resumePausedToRunning",
        note="Stays PAUSED until resumed; marking 'pause' RUNNING makes it end SUCCESS.",
    ),
    "pause-delay.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source="JdbcRunnerTest.pauseRunDelay -> PauseTest.Suite.runDelay",
        note="First PAUSED with 1 task run; after PT1S it resumes by itself.",
    ),
    "pause-delay-from-input.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source="JdbcRunnerTest.pauseRunDelayFromInput -> PauseTest.Suite.runDelayFromInput",
        note="Uses the default delay input PT1S. First PAUSED with 1 task run.",
    ),
    "pause-timeout.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        pauses_first=True,
        source="PauseTest.timeout -> PauseTest.Suite.runTimeout",
        note="PAUSED with 1 task run, then the PT1S timeout fails 'pause'; 'last' never runs.",
    ),
    "pause_no_tasks.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source="PauseTest.runEmptyTasks -> PauseTest.Suite.runEmptyTasks",
        note="After marking 'pause' RUNNING it ends SUCCESS.",
    ),
    "pause_on_resume.yaml": Expectation(
        state="PAUSED",
        task_runs=1,
        task_states={"pause": "PAUSED"},
        needs="pause-resume",
        source="PauseTest.runOnResume -> PauseTest.Suite.runOnResume",
        note="Resumed with asked=restarted and a file 'data' -> SUCCESS, last.values.asked == 'restarted', "
        "last.values.data starts with kestra://. Resuming without 'asked' is rejected "
        "(PauseTest.runOnResumeMissingInputs).",
    ),
    "pause_on_resume_optional.yaml": Expectation(
        state="PAUSED",
        needs="pause-resume",
        source="PauseTest.runOnResumeOptionalInputs -> PauseTest.Suite.runOnResumeOptionalInputs",
        note="Resumed without inputs -> SUCCESS and last.values.asked == 'MISSING'.",
    ),
    "resume-execution.yaml": Expectation(
        state="SUCCESS",
        inputs={"executionId": "<id of a PAUSED execution of io.kestra.tests.pause>"},
        needs="paused-execution",
        source="ResumeTest.resume",
        note="Resumes a paused 'pause' execution, which then terminates.",
    ),
    # --- concurrency ------------------------------------------------------------------------------
    "flow-concurrency-cancel.yml": Expectation(
        state="SUCCESS",
        source="JdbcRunnerTest.concurrencyCancel -> FlowConcurrencyCaseTest.flowConcurrencyCancel",
        note="A lone execution ends SUCCESS.",
        variants=(
            Expectation(
                state="CANCELLED",
                needs="concurrent-run",
                source="FlowConcurrencyCaseTest.flowConcurrencyCancel",
                note="Second execution started while the first is RUNNING (limit 1, behavior CANCEL).",
            ),
        ),
    ),
    "flow-concurrency-queue-pause.yml": Expectation(
        state="SUCCESS",
        pauses_first=True,
        source="JdbcRunnerTest.concurrencyQueuePause -> FlowConcurrencyCaseTest.flowConcurrencyQueuePause",
        note="A lone execution ends SUCCESS (Pause with delay PT1S).",
        variants=(
            Expectation(
                state="SUCCESS",
                needs="concurrent-run",
                source="FlowConcurrencyCaseTest.flowConcurrencyQueuePause",
                note="Second execution goes CREATED -> QUEUED -> RUNNING -> SUCCESS.",
            ),
        ),
    ),
    "flow-concurrency-queue.yml": Expectation(
        state="SUCCESS",
        source="JdbcRunnerTest.concurrencyQueue -> FlowConcurrencyCaseTest.flowConcurrencyQueue",
        note="A lone execution ends SUCCESS.",
        variants=(
            Expectation(
                state="SUCCESS",
                needs="concurrent-run",
                source="FlowConcurrencyCaseTest.flowConcurrencyQueue",
                note="Second execution goes CREATED -> QUEUED -> RUNNING -> SUCCESS.",
            ),
        ),
    ),
    # --- subflows and ForEachItem --------------------------------------------------------------------
    "subflow-parent.yaml": Expectation(
        state="SUCCESS",
        needs="subflow:io.kestra.tests.subflow-child",
        source="CorrelationIdTest.shouldHaveCorrelationId",
        note="Child and grand-child end SUCCESS with label system.correlationId = the parent execution id.",
    ),
    "subflow-child.yaml": Expectation(
        state="SUCCESS",
        needs="subflow:io.kestra.tests.subflow-grand-child",
        source="CorrelationIdTest.shouldHaveCorrelationId",
        note="Asserted when started by subflow-parent.",
    ),
    "subflow-grand-child.yaml": Expectation(
        state="SUCCESS",
        source="CorrelationIdTest.shouldHaveCorrelationId",
        note="Asserted when started through subflow-child; uses labels.system.correlationId, which Kestra "
        "sets on every execution.",
    ),
    "task-allow-failure-executable-flow.yml": Expectation(
        state="WARNING",
        task_runs=2,
        needs="subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="TaskWithAllowFailureTest.executableTask_Flow",
    ),
    "task-allow-warning-executable-flow.yml": Expectation(
        state="SUCCESS",
        task_runs=2,
        needs="subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="TaskWithAllowWarningTest.executableTask_Flow",
    ),
    "task-allow-failure-executable-foreachitem.yml": Expectation(
        state="WARNING",
        task_runs=4,
        file_inputs={"file": _padded_lines(10)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="TaskWithAllowFailureTest.executableTask_ForEachItem",
    ),
    "task-allow-warning-executable-foreachitem.yml": Expectation(
        state="SUCCESS",
        task_runs=4,
        file_inputs={"file": _padded_lines(10)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-subflow-failed",
        source="TaskWithAllowWarningTest.executableTask_ForEachItem",
    ),
    "task-flow.yaml": Expectation(
        state="SUCCESS",
        inputs={"string": "OK"},
        task_runs=1,
        outputs={"launch.outputs.extracted": Contains("default > amazing")},
        needs="subflow:io.kestra.tests.switch",
        source="FlowTest.waitSuccess -> FlowCaseTest.waitSuccess",
        note="switch.yaml is not in this corpus. The child ends SUCCESS with 2 task runs; launch has one "
        "attempt; the test also adds execution label mainFlowExecutionLabel=execFoo.",
        variants=(
            Expectation(
                state="FAILED",
                inputs={"string": "THIRD"},
                task_runs=1,
                outputs={"launch.outputs.extracted": Contains("Error Trigger ! error-t1")},
                needs="subflow:io.kestra.tests.switch",
                source="FlowTest.waitFailed -> FlowCaseTest.waitFailed",
                note="The child ends FAILED with 4 task runs.",
            ),
            Expectation(
                state="FAILED",
                inputs={"string": "FIRST"},
                task_runs=1,
                needs="subflow:io.kestra.tests.switch",
                source="FlowTest.invalidOutputs -> FlowCaseTest.invalidOutputs",
                note="The child ends SUCCESS with 2 task runs but the 'extracted' output cannot be rendered.",
            ),
        ),
    ),
    "task-flow-dynamic.yaml": Expectation(
        state="FAILED",  # inferred: 'inputs.string' is undefined, so the Subflow inputs cannot render
        inputs={"namespace": "io.kestra.tests", "flowId": "switch"},
        needs="raw-inputs,subflow:io.kestra.tests.switch,no-assertion",
        source="FlowGraphTest.dynamicIdSubflow",
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
        source="JdbcRunnerTest.forEachItem -> ForEachItemCaseTest.forEachItem",
        note="26 sub-executions of for-each-item-subflow, each SUCCESS with 1 task run.",
        variants=(
            Expectation(
                state="SUCCESS",
                inputs={"batch": "4"},
                task_runs=4,
                outputs={"each_items": {}},
                file_inputs={"file": ""},
                needs="file-input",
                source="JdbcRunnerTest.forEachItemEmptyItems -> ForEachItemCaseTest.forEachItemEmptyItems",
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
        source="JdbcRunnerTest.forEachItemFailed -> ForEachItemCaseTest.forEachItemFailed",
        note="26 sub-executions of for-each-item-subflow-failed, each FAILED with 1 task run.",
    ),
    "for-each-item-outputs.yaml": Expectation(
        state="SUCCESS",
        task_runs=5,
        outputs={
            "each_items.numberOfBatches": 26,
            "each_items.iterations.CREATED": 0,
            "each_items.iterations.RUNNING": 0,
            "each_items.iterations.SUCCESS": 26,
            "each_merge.subflowOutputs": Present(),
        },
        attempts={"each_items": 1},
        file_inputs={"file": _padded_lines(102)},
        needs="file-input,subflow:io.kestra.tests.for-each-item-outputs-subflow",
        source="JdbcRunnerTest.forEachItemSubflowOutputs -> "
        "ForEachItemCaseTest.forEachItemWithSubflowOutputs",
        note="The merged subflowOutputs file has 26 lines, one per sub-execution.",
    ),
    "for-each-item-subflow.yaml": Expectation(
        state="SUCCESS",
        inputs={"items": "compat"},
        task_runs=1,
        source="ForEachItemCaseTest.forEachItem",
        note="Asserted for the sub-executions for-each-item starts (items = a kestra:// batch file URI); "
        "the task only logs the value.",
    ),
    "for-each-item-subflow-failed.yaml": Expectation(
        state="FAILED",
        inputs={"items": "You will fail"},
        task_runs=1,
        source="ForEachItemCaseTest.forEachItemFailed",
        note="Asserted for the sub-executions for-each-item-failed starts; the only task is a Fail.",
    ),
    "for-each-item-outputs-subflow.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="file-input",
        source="ForEachItemCaseTest.forEachItemWithSubflowOutputs",
        note="Asserted for the sub-executions for-each-item-outputs starts; 'items' must be a storage URI "
        "because the task calls read(inputs.items).",
    ),
    # --- flow triggers, schedules, webhooks ----------------------------------------------------------
    "flow-trigger-preconditions-flow-b.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source="JdbcRunnerTest.flowTriggerPreconditions -> "
        "MultipleConditionTriggerCaseTest.flowTriggerPreconditions",
        note="Runs alone; in the test it then fires flow-trigger-preconditions-flow-listen (not in corpus).",
    ),
    "trigger-multiplecondition-flow-b.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source="JdbcRunnerTest.multipleConditionTrigger -> MultipleConditionTriggerCaseTest.trigger",
    ),
    "trigger-multiplecondition-flow-c.yaml": Expectation(
        state="FAILED",
        task_runs=1,
        source="JdbcRunnerTest.multipleConditionTriggerFailed -> MultipleConditionTriggerCaseTest.failed",
    ),
    "trigger-multiplecondition-flow-d.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        source="JdbcRunnerTest.multipleConditionTriggerFailed -> MultipleConditionTriggerCaseTest.failed",
    ),
    "trigger-flow-with-pause.yaml": Expectation(
        state="SUCCESS",
        task_runs=3,
        pauses_first=True,
        source="JdbcRunnerTest.flowTriggerWithPause -> FlowTriggerCaseTest.triggerWithPause",
        note="Pause with delay PT0.5S; the listener trigger-flow-listener-with-pause fires 4 times.",
    ),
    "trigger-flow-listener.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        outputs={"only-listener.value": StartsWith("childs: from parents: ")},
        needs="trigger",
        source="JdbcRunnerTest.flowTrigger -> FlowTriggerCaseTest.trigger",
        note="Started by a Flow trigger on io.kestra.tests.trigger.trigger-flow (not in corpus); the value "
        "ends with that execution's id.",
    ),
    "trigger-flow-listener-no-inputs.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="trigger",
        source="JdbcRunnerTest.flowTrigger -> FlowTriggerCaseTest.trigger",
        note="Started by a Flow trigger on io.kestra.tests.trigger.trigger-flow (not in corpus).",
    ),
    "trigger-flow-listener-namespace-condition.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        needs="trigger",
        source="JdbcRunnerTest.flowTrigger -> FlowTriggerCaseTest.trigger; "
        "JdbcRunnerTest.multipleConditionTriggerFailed -> MultipleConditionTriggerCaseTest.failed",
        note="Started by any SUCCESS execution in namespace io.kestra.tests.trigger (not by a FAILED one).",
    ),
    "trigger-flow-listener-with-pause.yaml": Expectation(
        state="SUCCESS",
        needs="trigger",
        source="JdbcRunnerTest.flowTriggerWithPause -> FlowTriggerCaseTest.triggerWithPause",
        note="Fires 4 times for trigger-flow-with-pause; @outputs.status is RUNNING, PAUSED, RUNNING, "
        "SUCCESS in that order.",
    ),
    "trigger-toggle.yaml": Expectation(
        state="SUCCESS",
        task_runs=1,
        outputs={"@triggers.schedule": True},
        needs="trigger-disabled:schedule",
        source="ToggleTest.toggle",
        note="The test stores the flow's 'schedule' trigger disabled; the task re-enables it.",
    ),
    "webhook.yaml": Expectation(
        state="SUCCESS",  # inferred: a Return of the trigger variables
        needs="webhook,no-assertion",
        source="ExecutionControllerTest.webhook",
        note="The test asserts trigger.body / trigger.parameters and the flow labels, not the final state.",
    ),
    "webhook-secret-key.yaml": Expectation(
        state="SUCCESS",  # inferred
        needs="webhook,secret,no-assertion",
        source="ExecutionControllerTest.webhookDynamicKeyFromASecret",
        note="Key from secret WEBHOOK_KEY; the test only checks an execution is created.",
    ),
    "webhook-with-condition.yaml": Expectation(
        state="SUCCESS",  # inferred
        needs="webhook,no-assertion",
        source="ExecutionControllerTest.webhookWithCondition",
        note='Body {"hello": "world"} creates an execution; {"hello": "webhook"} gets 204, none.',
    ),
    # --- working directory --------------------------------------------------------------------------
    "working-directory-cache.yml": Expectation(
        state="SUCCESS",
        task_runs=3,
        outputs={"exists": {"uris": {}}},
        source="WorkingDirectoryTest.cache -> WorkingDirectoryTest.Suite.cache",
        note="First run with an empty cache. A second run finds the cached hello.txt in exists.uris.",
        variants=(
            Expectation(
                state="SUCCESS",
                task_runs=3,
                outputs={"exists.uris": HasItems(("hello.txt",))},
                source="WorkingDirectoryTest.Suite.cache",
                note="Second run, cache filled by the first.",
            ),
        ),
    ),
    "working-directory-each.yaml": Expectation(
        state="SUCCESS",
        task_runs=8,
        outputs={"2_end.value": StartsWith("kestra://")},
        source="WorkingDirectoryTest.each -> WorkingDirectoryTest.Suite.each; JdbcRunnerTest.workerEach",
    ),
    "working-directory-inputs.yml": Expectation(
        state="SUCCESS",
        task_runs=2,
        outputs={"inputFiles.uris": HasItems(("input.txt",))},
        source="WorkingDirectoryTest.inputFiles -> WorkingDirectoryTest.Suite.inputFiles",
        note="The stored input.txt contains 'Hello World'.",
    ),
    "working-directory-taskrun-nested.yml": Expectation(
        state="SUCCESS",
        task_runs=6,
        outputs={"log-workerparent.value": Contains('{"taskrun":{"value":"1"}}')},
        source="WorkingDirectoryTest.taskrunNested -> WorkingDirectoryTest.Suite.taskRunNested",
    ),
    "working-directory-taskrun.yml": Expectation(
        state="SUCCESS",
        task_runs=3,
        outputs={"log-taskrun.value": Contains("1")},
        source="WorkingDirectoryTest.taskrun -> WorkingDirectoryTest.Suite.taskRun",
    ),
}
