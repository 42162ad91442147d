"""Read-mostly admin for executions: state changes go through the engine, never through a form."""

from django.contrib import admin

from .models import Execution, LogLine, TaskRun


class TaskRunInline(admin.TabularInline):
    model = TaskRun
    fields = ("task_id", "value", "state", "attempts", "started", "ended", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "namespace", "flow_id", "state", "created", "started", "ended")
    list_filter = ("state", "namespace", "flow_id")
    search_fields = ("id", "namespace", "flow_id")
    date_hierarchy = "created"
    # inputs hold resolved secrets: not shown here.
    fields = ("id", "namespace", "flow_id", "flow_revision", "state", "labels", "trigger", "outputs",
              "history", "created", "started", "ended", "flow_source")
    readonly_fields = fields
    inlines = [TaskRunInline]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ("task_id", "execution", "state", "attempts", "started", "ended")
    list_filter = ("state",)
    search_fields = ("task_id", "execution__id")
    readonly_fields = ("execution", "task_id", "parent", "value", "state", "history", "attempts", "outputs",
                       "error", "created", "started", "ended")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(LogLine)
class LogLineAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "level", "execution", "taskrun", "message")
    list_filter = ("level",)
    search_fields = ("message", "execution__id")
    readonly_fields = ("execution", "taskrun", "timestamp", "level", "message")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
