"""Kestra's flowable tasks: their property schemas (the engine walks them, see ``orchestrator.flowables``).

Property names and defaults follow Kestra's ``io.kestra.plugin.core.flow`` package. Values that may be
templates are declared ``int | str`` and rendered by the engine when the flowable runs.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from ..registry import register
from .core import Props

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


class WorkingDirectoryProps(Props):
    cache: Any = None
    inputFiles: Any = None  # noqa: N815
    outputFiles: Any = None  # noqa: N815
    namespaceFiles: Any = None  # noqa: N815

    @field_validator("cache", "inputFiles", "outputFiles", "namespaceFiles")
    @classmethod
    def _files(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(f"WorkingDirectory '{info.field_name}' is not supported yet")
        return value


@register(
    "io.kestra.plugin.core.flow.WorkingDirectory",
    aliases=(_OLD + "WorkingDirectory",),
    props=WorkingDirectoryProps,
    flowable=True,
    branches=("tasks", *_BLOCK),
    runnable_branches=("tasks",),
)
class WorkingDirectory:
    """Runs ``tasks`` (runnable tasks only, as in Kestra) sequentially. NOT one shared directory yet: the
    children may run on different workers (Kestra runs them all on one worker in one temporary
    directory); until Portico has a file-sharing story, files one child writes are not guaranteed to be
    visible to the next."""
