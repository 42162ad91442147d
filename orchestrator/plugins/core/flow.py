"""Kestra's flowable tasks: their property schemas (the engine walks them, see
``orchestrator.executor.flowables``).

Property names and defaults follow Kestra's ``io.kestra.plugin.core.flow`` package. Values that may be
templates are declared ``int | str`` and rendered by the engine when the flowable runs.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator

from orchestrator.flowmodel.task_api import register
from orchestrator.plugins.core.tasks import Props, refused

_OLD = "io.kestra.core.tasks.flows."
_BLOCK = ("errors", "finally")


class ParallelProps(Props):
    concurrent: int | str = 0  # 0: all children at once


@register(
    "io.kestra.plugin.core.flow.Parallel",
    aliases=(_OLD + "Parallel",),
    props=ParallelProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
)
class Parallel:
    """Starts its children at once (at most ``concurrent``); fails when one of them fails."""


class IfProps(Props):
    condition: str | bool | int | float


@register(
    "io.kestra.plugin.core.flow.If",
    aliases=(_OLD + "If",),
    props=IfProps,
    flowable=True,
    branches=("then", "else", *_BLOCK),
    required_branches=("then",),
)
class If:
    """Runs ``then`` when ``condition`` renders truthy (Kestra's rules), else ``else``."""


class SwitchProps(Props):
    value: Any


@register(
    "io.kestra.plugin.core.flow.Switch",
    aliases=(_OLD + "Switch",),
    props=SwitchProps,
    flowable=True,
    branches=("cases", "defaults", *_BLOCK),
    required_branches=(),
    mapped_branches=("cases",),
)
class Switch:
    """Runs the ``cases`` entry named by the rendered ``value``, else ``defaults``; fails with neither."""


class ForEachProps(Props):
    values: list[Any] | str
    concurrencyLimit: int | str = Field(default=1)  # noqa: N815 (Kestra's name); 0: unlimited

    @field_validator("concurrencyLimit")
    @classmethod
    def _not_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 (no limit) or more")
        return value


@register(
    "io.kestra.plugin.core.flow.ForEach",
    props=ForEachProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
)
class ForEach:
    """Runs ``tasks`` once per value, ``concurrencyLimit`` iterations at a time."""


class EachSequentialProps(Props):
    value: list[Any] | str


@register(
    "io.kestra.plugin.core.flow.EachSequential",
    aliases=(_OLD + "EachSequential",),
    props=EachSequentialProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
)
class EachSequential:
    """Kestra's older ForEach: one value after another."""


class EachParallelProps(Props):
    value: list[Any] | str
    concurrent: int | str = 0


@register(
    "io.kestra.plugin.core.flow.EachParallel",
    aliases=(_OLD + "EachParallel",),
    props=EachParallelProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
)
class EachParallel:
    """Kestra's older parallel ForEach: every (value, task) pair at once, at most ``concurrent``."""


class AllowFailureProps(Props):
    """No own properties."""


@register(
    "io.kestra.plugin.core.flow.AllowFailure",
    aliases=(_OLD + "AllowFailure",),
    props=AllowFailureProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
)
class AllowFailure:
    """Runs ``tasks`` sequentially; a failure among them ends this task (and its parent) in WARNING."""


class DagProps(Props):
    concurrent: int | str = 0


@register(
    "io.kestra.plugin.core.flow.Dag",
    aliases=(_OLD + "Dag",),
    props=DagProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
    dependency_branches=("tasks",),
)
class Dag:
    """Starts each task once everything it ``dependsOn`` has succeeded (cycles are rejected at load)."""


class ForEachItemProps(Props):
    items: str
    batch: dict[str, int | str] = Field(default_factory=lambda: {"rows": 1})
    namespace: str
    flowId: str  # noqa: N815 (Kestra's names)
    revision: Annotated[int, Field(ge=1)] | str | None = None  # as Subflow's: that revision's source
    inputs: dict[str, Any] = Field(default_factory=dict)
    inheritLabels: bool | str = False  # noqa: N815
    labels: dict[str, Any] | list[Any] = Field(default_factory=dict)
    wait: bool | str = True
    transmitFailed: bool | str = True  # noqa: N815
    scheduleDate: str | None = None  # noqa: N815

    _refused = refused("scheduleDate")  # sub-executions start at once

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        unknown = set(value) - {"rows", "bytes", "partitions", "separator"}
        if unknown:
            raise ValueError(f"unknown batch setting(s): {', '.join(sorted(unknown))}")
        return value


@register(
    "io.kestra.plugin.core.flow.ForEachItem",
    props=ForEachItemProps,
    flowable=True,
    branches=(),
)
class ForEachItem:
    """Splits the ``items`` file into batches and starts one ``flowId`` execution per batch
    (``orchestrator.executor.for_each_item``)."""


class WorkingDirectoryCache(Props):
    patterns: list[str]
    ttl: str | None = None


class WorkingDirectoryProps(Props):
    cache: WorkingDirectoryCache | None = None
    inputFiles: dict[str, Any] | str | None = None  # noqa: N815 (Kestra's names)
    outputFiles: list[str] | str | None = None  # noqa: N815
    namespaceFiles: Any = None  # noqa: N815

    @field_validator("namespaceFiles")
    @classmethod
    def _files(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(f"WorkingDirectory '{info.field_name}' is not supported yet")
        return value


@register(
    "io.kestra.plugin.core.flow.WorkingDirectory",
    aliases=(_OLD + "WorkingDirectory",),
    props=WorkingDirectoryProps,
    branches=("tasks", *_BLOCK),
    runnable_branches=("tasks",),
)
def run_working_directory(props: WorkingDirectoryProps, ctx: Any) -> dict[str, Any]:
    """Runs ``tasks`` (runnable tasks only, as in Kestra) one after another on ONE worker, in one
    temporary directory they all share: a worker task, not an engine-walked flowable. The worker that
    holds the run executes them (``RunContext.run_children``)."""
    return ctx.run_children(props)
