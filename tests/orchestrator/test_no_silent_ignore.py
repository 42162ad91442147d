"""Nothing Portico accepts is silently ignored (issue 11): every key the flow, task, trigger, input and
retry models accept either changes behaviour, proven by a named test that uses it, or is refused at load
with "<field>: not supported yet".

The tables below are the inventory. A key added to a parser or to a plugin's model without an entry here
fails ``test_every_accepted_key_is_in_the_table``. An entry is one of:

- a test id: the test uses the key and asserts its effect (checked: the test exists and names the key);
- ``REFUSED``: loading a flow that sets it fails with "not supported yet" (checked below);
- ``DOC``: descriptive only (``description``, ``displayName``); Kestra's executor does nothing with it either;
- ``KESTRA_ASSIGNED``: the flow ``revision``, which Kestra's server replaces on save, as Portico does;
- ``PENDING``: implemented, but no test proves its effect yet (reported as xfail, listed in the issue);
- ``IGNORED``: accepted and only logged as ignored by a plugin outside this slice (xfail, to decide);
- ``OTHERS``: a plugin another session was writing when this table was made (xfail until its owner
  adds the evidence).
"""

from __future__ import annotations

import ast
import json
import re
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from orchestrator.flowmodel import input_types, task_api
from orchestrator.flowmodel.input_definitions import INPUT_COMMON_KEYS, INPUT_KEYS_BY_TYPE
from orchestrator.flowmodel.parse_flow_keys import FLOW_KEYS, LISTENER_KEYS, OUTPUT_KEYS
from orchestrator.flowmodel.parse_sla_checks import CHECK_KEYS, SLA_KEYS
from orchestrator.flowmodel.parse_tasks import COMMON_TASK_KEYS
from orchestrator.flowmodel.parse_triggers import TRIGGER_COMMON_KEYS
from orchestrator.flowmodel.parse_values import RETRY_COMMON, RETRY_KEYS
from orchestrator.flowmodel.spec import FlowValidationError, parse_flow
from orchestrator.scheduler import triggers
from orchestrator.state.models import Execution, State
from tests.orchestrator.test_files import LINES, children, for_each_item, runs, start

__all__ = ["children"]  # the sub-flow fixture the ForEachItem proof below uses
ROOT = Path(__file__).resolve().parents[2]
REFUSED, DOC, KESTRA_ASSIGNED = "REFUSED", "DOC", "KESTRA_ASSIGNED"
PENDING, IGNORED, OTHERS = "PENDING", "IGNORED", "OTHERS"
_MARKERS = {REFUSED, DOC, KESTRA_ASSIGNED, PENDING, IGNORED, OTHERS}
_O = "tests/orchestrator/"
_ME = _O + "test_no_silent_ignore.py::"
_SEM = _O + "test_kestra_semantics.py::"
_TB = "test_terraform_binary.py::test_it_runs_the_lifecycle_through_the_binary"
_TB += "_with_the_same_files_state_and_masking"
_TF, _NT = _O + "test_terraform.py::", _O + "test_notification_tasks.py::"
_HT, _FT, _ST = _O + "test_http_tasks.py::", _O + "test_file_tasks.py::", _O + "test_script_tasks.py::"
_HG = _O + "test_http_trigger.py::"
_EX = "examples/plugin/tests/test_example_plugin.py::"

FLOW = {
    "id": _O + "test_engine_flows.py::test_it_passes_outputs_to_later_tasks",
    "namespace": _O + "test_engine_flows.py::test_it_renders_context_variables",
    "revision": KESTRA_ASSIGNED,
    "description": DOC,
    "labels": _O + "test_engine_flows.py::test_it_renders_context_variables",
    "inputs": _O + "test_inputs.py::test_it_renders_expression_defaults_when_resolving",
    "outputs": _SEM + "test_flow_run_waits_through_a_timed_pause",
    "variables": _O + "test_engine_flows.py::test_it_renders_context_variables",
    "tasks": _O + "test_engine_flows.py::test_it_passes_outputs_to_later_tasks",
    "errors": _O + "test_engine_flows.py::test_it_runs_errors_after_a_failure_and_finally_always",
    "finally": _O + "test_engine_flows.py::test_it_runs_errors_after_a_failure_and_finally_always",
    "afterExecution": _O
    + "test_timeouts.py::test_it_runs_after_execution_tasks_once_the_execution_has_ended",
    "triggers": _O + "test_triggers.py::test_it_fires_a_schedule_once_per_tick_with_the_tick_date",
    "pluginDefaults": _SEM + "test_plugin_defaults_fill_unset_values_and_forced_ones_override",
    "taskDefaults": _SEM + "test_task_defaults_is_the_older_name_and_applies_to_nested_tasks_and_old_names",
    "concurrency": _O + "test_concurrency.py::test_it_fails_an_execution_beyond_the_limit_with_fail",
    "retry": _O + "test_retries.py::test_it_applies_the_flow_retry_to_any_failing_task",
    "disabled": _O + "test_engine.py::test_it_refuses_to_start_a_disabled_flow",
    "listeners": _O + "test_listeners.py::test_listeners_whose_conditions_hold_run_after_a_success",
    "sla": _O + "test_sla.py::test_it_fails_an_execution_that_outlives_its_max_duration",
    "checks": _O + "test_flow_checks.py::test_checks_fail_execution_creates_it_failed_with_nothing_run",
    "deleted": REFUSED,
    "workerGroup": _O + "test_worker_groups.py::test_worker_group_of_the_flow_applies_to_tasks_that_set_none",
    "workerSelector": REFUSED,
}

TASK_COMMON = {
    "description": DOC,
    "retry": _O + "test_retries.py::test_it_retries_a_failing_task_until_it_succeeds",
    "timeout": _O + "test_timeouts.py::test_it_stops_a_sleep_at_its_timeout",
    "disabled": _O + "test_engine.py::test_it_skips_disabled_tasks",
    "allowFailure": _O + "test_engine.py::test_it_ends_in_warning_when_an_allowed_failure_happens",
    "runIf": _O + "test_timeouts.py::test_it_skips_a_task_whose_run_if_is_false",
    "allowWarning": _O + "test_timeouts.py::test_it_turns_an_allowed_warning_into_success",
    "logLevel": _SEM + "test_log_level_filters_what_a_task_logs",
    "workerGroup": _O + "test_worker_groups.py::test_worker_group_runs_a_task_only_on_a_worker_of_its_group",
    "logToFile": _O + "test_log_to_file.py::test_log_to_file_puts_masked_lines_in_storage_not_the_table",
    "taskCache": _O + "test_task_cache.py::test_task_cache_reuses_the_outputs_of_the_same_rendered_task",
    "version": REFUSED,
    "pluginDefaultsRef": REFUSED,
}

TRIGGER_COMMON = {
    "description": DOC,
    "conditions": _O + "test_triggers.py::test_it_ignores_executions_the_flow_trigger_conditions_exclude",
    "disabled": _O
    + "test_triggers.py::test_it_does_not_fire_a_schedule_disabled_in_the_admin_or_in_the_flow",
    "stopAfter": REFUSED,
    "logLevel": REFUSED,
    "logToFile": REFUSED,
    "workerGroup": REFUSED,
    "minLogLevel": REFUSED,
    "failOnTriggerError": REFUSED,
    "allowConcurrent": REFUSED,
    "version": REFUSED,
    "pluginDefaultsRef": REFUSED,
    "interval": REFUSED,
}

INPUT = {
    "id": _O + "test_inputs.py::test_it_renders_expression_defaults_when_resolving",
    "type": _O + "test_inputs.py::test_it_coerces_good_values",
    "name": _ME + "test_an_input_name_is_the_older_id",
    "description": DOC,
    "displayName": DOC,
    "dependsOn": _O + "test_spec.py::test_it_rejects_input_dependency_cycles",
    "required": _O + "test_inputs.py::test_it_reports_every_bad_input_at_once",
    "defaults": _O + "test_inputs.py::test_it_renders_expression_defaults_when_resolving",
    "validator": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "minLength": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "maxLength": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "min": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "max": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "after": _O + "test_inputs.py::test_it_rejects_bad_values_with_clear_messages",
    "before": _ME + "test_an_input_before_bound_refuses_later_values",
    "values": _O + "test_inputs.py::test_it_coerces_good_values",
    "options": _ME + "test_select_options_are_the_older_values",
    "allowCustomValue": _O + "test_inputs.py::test_it_coerces_good_values",
    "itemType": _O + "test_inputs.py::test_it_coerces_good_values",
    "allowedFileExtensions": "tests/portal/test_file_inputs.py::"
    + "test_it_refuses_a_file_type_the_flow_does_not_allow",
    "portico.options": _O + "test_hcloud_plugin.py::test_it_validates_a_dynamic_select_against_the_api",
    "portico.validatorMessage": "tests/portal/test_plain_words.py::"
    + "test_a_flow_explains_its_validator_in_its_own_words",
    "prefill": REFUSED,
    "isRadio": REFUSED,
    "autoSelectFirst": REFUSED,
    "extension": REFUSED,
    "expression": REFUSED,
}

_R = _O + "test_retries.py::"
RETRY = {
    "type": _R + "test_it_waits_a_constant_interval",
    "interval": _R + "test_it_waits_a_constant_interval",
    "maxAttempt": _R + "test_it_stops_after_max_attempt_counting_the_first_attempt",
    "maxDuration": _R + "test_it_stops_once_the_next_attempt_would_start_after_max_duration",
    "warningOnRetry": _R + "test_it_marks_a_success_after_retries_as_warning_with_warning_on_retry",
    "behavior": _R + "test_it_retries_as_a_new_linked_execution_with_create_new_execution",
    "maxInterval": _R + "test_it_backs_off_exponentially_up_to_max_interval",
    "delayFactor": _R + "test_it_backs_off_exponentially_up_to_max_interval",
    "minInterval": _R + "test_it_picks_a_random_delay_between_min_and_max",
}

# The keys of one item of the flow's ``sla``, ``checks`` and ``listeners`` lists.
_SLA, _CHK = _O + "test_sla.py::", _O + "test_flow_checks.py::"
SLA_ITEM = {
    "id": _SLA + "test_it_fails_an_execution_that_outlives_its_max_duration",
    "type": _SLA + "test_it_fails_an_execution_that_outlives_its_max_duration",
    "behavior": _SLA + "test_it_cancels_on_max_duration_with_cancel",
    "labels": _SLA + "test_it_only_labels_and_logs_with_none_and_the_execution_goes_on",
    "duration": _SLA + "test_it_fails_an_execution_that_outlives_its_max_duration",
    "assert": _SLA + "test_it_fails_when_an_assertion_on_outputs_turns_false",
}
CHECK_ITEM = {
    "condition": _CHK + "test_the_strictest_behavior_of_the_failed_checks_wins",
    "when": _CHK + "test_it_reads_kestras_defaults_and_the_when_spelling",
    "message": _CHK + "test_checks_block_execution_creates_nothing_and_says_why",
    "style": DOC,  # how Kestra's UI shows the message; its executor does nothing with it
    "behavior": _CHK + "test_the_strictest_behavior_of_the_failed_checks_wins",
}
_LSN = _O + "test_listeners.py::"
LISTENER_ITEM = {
    "tasks": _LSN + "test_a_failing_listener_task_neither_stops_the_next_nor_changes_the_execution",
    "conditions": _LSN + "test_listener_conditions_on_the_flow_and_an_expression",
    "description": DOC,
}

# The keys of one item of the flow's ``outputs`` list.
_OUT = _O + "test_flow_output_types.py::"
OUTPUT_ITEM = {
    "id": _OUT + "test_each_output_is_kept_as_its_declared_type",
    "value": _OUT + "test_each_output_is_kept_as_its_declared_type",
    "type": _OUT + "test_an_output_that_does_not_convert_fails_the_execution_with_kestras_words",
    "required": _OUT + "test_each_output_is_kept_as_its_declared_type",
    "description": DOC,
    "displayName": DOC,
}

# A flowable's ``errors`` and ``finally`` are walked by the same code for every type (``walker.block``).
BRANCHES = {
    "errors": _O + "test_flowables.py::test_it_fails_a_parallel_with_a_failing_child_and_runs_its_errors",
    "finally": _ME + "test_a_flowable_runs_its_finally_after_a_failure",
}

# Each registered type's own properties (its pydantic model's fields) and branches.
TYPES: dict[str, dict[str, str]] = {
    "io.example.text.ExampleFail": {
        "message": _EX + "test_it_fails_permanently_unless_retryable",
        "retryable": _EX + "test_it_fails_permanently_unless_retryable",
    },
    "io.example.text.Reverse": {
        "text": _O + "test_plugin_packages.py::test_it_lists_every_type_with_its_source_and_schema",
        "upper": _O + "test_plugin_packages.py::test_it_lists_every_type_with_its_source_and_schema",
    },
    "io.kestra.plugin.core.debug.Echo": {
        "format": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
        "level": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
    },
    "io.kestra.plugin.core.debug.Return": {
        "format": _O + "test_cli.py::test_it_reports_valid_flows",
    },
    "io.kestra.plugin.core.execution.Fail": {
        "condition": _O + "test_compat.py::test_it_hands_raw_inputs_to_the_execution_without_validating_them",
        "errorMessage": _O + "test_cli.py::test_it_reports_valid_flows",
    },
    "io.kestra.plugin.core.execution.Labels": {
        "labels": _O + "test_compat.py::test_a_wrong_label_fails_and_start_labels_reach_the_execution",
    },
    "io.kestra.plugin.core.execution.Resume": {
        "executionId": _O + "test_plugins_flow.py::test_it_resumes_another_execution_with_the_resume_task",
        "flowId": _ME + "test_resume_checks_the_flow_id_of_the_execution",
        "inputs": _O + "test_plugins_flow.py::test_it_resumes_another_execution_with_the_resume_task",
        "namespace": _O + "test_plugins_flow.py::test_it_resumes_another_execution_with_the_resume_task",
    },
    "io.kestra.plugin.core.flow.AllowFailure": {
        "tasks": _O + "test_flowables.py::test_it_turns_a_failure_inside_allow_failure_into_a_warning",
    },
    "io.kestra.plugin.core.flow.Dag": {
        "concurrent": _ME + "test_a_dag_runs_at_most_concurrent_tasks_at_once",
        "tasks": _O + "test_flowables.py::test_it_starts_dag_tasks_once_their_dependencies_succeeded",
    },
    "io.kestra.plugin.core.flow.EachParallel": {
        "concurrent": _O + "test_flowables.py::test_it_runs_each_sequential_and_each_parallel",
        "tasks": _O + "test_flowables.py::test_it_runs_each_sequential_and_each_parallel",
        "value": _O + "test_flowables.py::test_it_runs_each_sequential_and_each_parallel",
    },
    "io.kestra.plugin.core.flow.EachSequential": {
        "tasks": _O + "test_flowables.py::test_it_runs_each_sequential_and_each_parallel",
        "value": _O + "test_flowables.py::test_it_runs_each_sequential_and_each_parallel",
    },
    "io.kestra.plugin.core.flow.ForEach": {
        "concurrencyLimit": _O
        + "test_flowables.py::test_it_runs_foreach_iterations_one_after_another_with_values_and_outputs",
        "tasks": _O + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "values": _O
        + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
    },
    "io.kestra.plugin.core.flow.ForEachItem": {
        "batch": _O + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "flowId": _O
        + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "inheritLabels": _ME + "test_for_each_item_inherit_labels_and_wait",
        "inputs": _O
        + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "items": _O + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "labels": _ME + "test_for_each_item_labels_its_sub_executions_and_may_ignore_their_failure",
        "namespace": _O
        + "test_files.py::test_for_each_item_runs_one_subflow_per_batch_and_merges_their_outputs",
        "revision": _O + "test_flow_revisions.py::test_for_each_item_starts_the_revision_it_names",
        "scheduleDate": REFUSED,
        "transmitFailed": _ME + "test_for_each_item_labels_its_sub_executions_and_may_ignore_their_failure",
        "wait": _ME + "test_for_each_item_inherit_labels_and_wait",
    },
    "io.kestra.plugin.core.flow.If": {
        "condition": _O + "test_flowables.py::test_it_takes_the_if_branch_kestra_truthiness_picks",
        "else": _O + "test_flowables.py::test_it_takes_the_if_branch_kestra_truthiness_picks",
        "then": _O + "test_flowables.py::test_it_takes_the_if_branch_kestra_truthiness_picks",
    },
    "io.kestra.plugin.core.flow.LoopUntil": {
        "checkFrequency": _SEM + "test_loop_until_defaults_follow_kestra_0_23",
        "condition": _SEM + "test_loop_until_defaults_follow_kestra_0_23",
        "failOnMaxReached": _SEM + "test_loop_until_fails_at_the_maximum_duration_with_fail_on_max_reached",
        "tasks": _SEM + "test_loop_until_runs_once_and_stops_when_the_condition_is_true_after_it",
    },
    "io.kestra.plugin.core.flow.Parallel": {
        "concurrent": _O + "test_flowables.py::test_it_keeps_parallel_children_within_the_concurrency_limit",
        "tasks": _O + "test_crash_safety.py::test_it_rescues_a_run_of_a_retrying_execution",
    },
    "io.kestra.plugin.core.flow.Pause": {
        "behavior": _O + "test_control.py::test_it_warns_when_a_pause_with_behavior_warn_elapses",
        "delay": _O + "test_control.py::test_it_resumes_by_itself_after_the_pause_duration",
        "onResume": _O + "test_control.py::test_it_pauses_until_resumed_with_validated_inputs",
        "pauseDuration": _O + "test_control.py::test_it_warns_when_a_pause_with_behavior_warn_elapses",
        "tasks": _O + "test_concurrency.py::test_it_keeps_the_slot_of_a_paused_execution_as_kestra_does",
    },
    "io.kestra.plugin.core.flow.Sequential": {
        "tasks": _O + "test_control.py::test_it_replays_from_a_task_as_a_new_execution",
    },
    "io.kestra.plugin.core.flow.Sleep": {
        "duration": _O + "test_concurrency.py::test_it_validates_concurrency_at_load",
    },
    "io.kestra.plugin.core.flow.Subflow": {
        "flowId": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "inheritLabels": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "inputs": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "labels": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "namespace": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "outputs": _O + "test_plugins_flow.py::test_it_waits_for_a_subflow_and_gets_its_outputs",
        "revision": _O + "test_flow_revisions.py::test_a_subflow_starts_the_revision_it_names",
        "transmitFailed": _O
        + "test_plugins_flow.py::test_it_ignores_a_failed_subflow_without_transmit_failed",
        "wait": _O + "test_plugins_flow.py::test_it_does_not_wait_for_a_subflow_when_told",
    },
    "io.kestra.plugin.core.flow.Switch": {
        "cases": _O + "test_flowables.py::test_it_runs_the_matching_switch_case_or_the_defaults",
        "defaults": _O + "test_flowables.py::test_it_runs_the_matching_switch_case_or_the_defaults",
        "value": _O + "test_flowables.py::test_it_runs_the_matching_switch_case_or_the_defaults",
    },
    "io.kestra.plugin.core.flow.WorkingDirectory": {
        "cache": _O + "test_files.py::test_working_directory_cache_restores_files_on_the_next_run",
        "inputFiles": _O + "test_files.py::test_working_directory_children_share_one_directory_on_one_worker",
        "namespaceFiles": REFUSED,
        "outputFiles": _ME + "test_working_directory_output_files_are_stored",
        "tasks": _O + "test_files.py::test_working_directory_children_share_one_directory_on_one_worker",
    },
    "io.kestra.plugin.core.http.Download": {
        "allowFailed": _HT + "test_it_fails_an_empty_download_unless_told_not_to",
        "body": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "contentType": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "failOnEmptyResponse": _O + "test_http_tasks.py::test_it_fails_an_empty_download_unless_told_not_to",
        "formData": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "headers": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "method": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "options": _HT + "test_it_fails_an_empty_download_unless_told_not_to",
        "sslOptions": _HT + "test_it_verifies_tls_by_default",
        "uri": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
    },
    "io.kestra.plugin.core.http.Trigger": {
        "body": _HG + "test_it_sends_the_method_body_and_rendered_headers",
        "contentType": _HG + "test_it_sends_form_data_with_its_content_type_and_the_options_auth",
        "encryptBody": REFUSED,
        "formData": _HG + "test_it_sends_form_data_with_its_content_type_and_the_options_auth",
        "headers": _HG + "test_it_sends_the_method_body_and_rendered_headers",
        # A polling trigger's own; still REFUSED in TRIGGER_COMMON for every other trigger type.
        "interval": _HG + "test_it_evaluates_at_most_once_per_interval",
        "method": _HG + "test_it_sends_the_method_body_and_rendered_headers",
        "options": _HG + "test_it_sends_form_data_with_its_content_type_and_the_options_auth",
        "responseCondition": _HG + "test_it_starts_nothing_when_the_response_condition_is_false",
        "sslOptions": _HG + "test_it_verifies_tls_unless_ssl_options_say_otherwise",
        "stopAfter": _HG + "test_it_waits_for_its_execution_and_stops_after_the_listed_states",
        "uri": _HG + "test_it_starts_an_execution_with_the_response_when_the_condition_holds",
    },
    "io.kestra.plugin.core.http.Request": {
        "allowFailed": _O + "test_http_tasks.py::test_it_fails_on_an_error_status_unless_allow_failed",
        "body": _O + "test_http_tasks.py::test_it_gets_a_json_body_with_code_headers_and_uri",
        "contentType": _O + "test_http_tasks.py::test_it_posts_a_body_with_its_content_type_and_headers",
        "encryptBody": REFUSED,
        "formData": _O
        + "test_http_tasks.py::test_it_sends_form_data_url_encoded_and_multipart_with_a_stored_file",
        "headers": _O + "test_http_tasks.py::test_it_gets_a_json_body_with_code_headers_and_uri",
        "method": _O + "test_http_tasks.py::test_it_posts_a_body_with_its_content_type_and_headers",
        "options": _O + "test_http_tasks.py::test_it_fails_on_an_error_status_unless_allow_failed",
        "sslOptions": _HT + "test_it_verifies_tls_by_default",
        "uri": _O + "test_http_tasks.py::test_it_gets_a_json_body_with_code_headers_and_uri",
    },
    "io.kestra.plugin.core.storage.Concat": {
        "extension": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
        "files": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
        "separator": _FT + "test_it_concatenates_with_a_separator_from_a_json_list",
    },
    "io.kestra.plugin.core.storage.Delete": {
        "errorOnMissing": _FT + "test_it_refuses_another_flows_file_and_a_missing_one_when_asked",
        "uri": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
    },
    "io.kestra.plugin.core.storage.Size": {
        "uri": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
    },
    "io.kestra.plugin.core.storage.Split": {
        "bytes": _FT + "test_it_splits_by_bytes_with_a_separator",
        "from": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
        "partitions": _FT + "test_the_split_rule_follows_kestra",
        "rows": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
        "separator": _FT + "test_it_splits_by_bytes_with_a_separator",
    },
    "io.kestra.plugin.core.storage.Write": {
        "content": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
        "extension": _FT + "test_it_writes_concatenates_splits_sizes_and_deletes",
    },
    "io.kestra.plugin.core.kv.Delete": {
        "errorOnMissing": _O + "test_kv_tasks.py::test_delete_fails_on_a_missing_key_when_asked",
        "key": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
        "namespace": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
    },
    "io.kestra.plugin.core.kv.Get": {
        "errorOnMissing": _O
        + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
        "key": _O + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
        "namespace": _O + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
    },
    "io.kestra.plugin.core.kv.Set": {
        "key": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
        "kvType": _O + "test_kv_tasks.py::test_it_converts_the_value_to_kv_type",
        "namespace": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
        "overwrite": _O + "test_kv_tasks.py::test_it_refuses_to_overwrite_when_told_not_to",
        "ttl": _O + "test_kv_tasks.py::test_it_sets_a_ttl_and_fails_on_missing_when_asked",
        "value": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
    },
    "io.kestra.plugin.core.log.Fetch": {
        "executionId": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
        "flowId": _ME + "test_fetch_refuses_an_execution_of_another_flow_id",
        "level": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
        "namespace": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
        "tasksId": _O + "test_plugins_flow.py::test_it_fetches_logs_by_task_and_level",
    },
    "io.kestra.plugin.core.log.Log": {
        "level": _O + "test_compat.py::test_a_wrong_log_line_fails_the_run",
        "message": _O + "test_cli.py::test_it_reports_valid_flows",
    },
    "io.kestra.plugin.core.output.OutputValues": {
        "values": _O + "test_control.py::test_it_pauses_until_resumed_with_validated_inputs",
    },
    "io.kestra.plugin.core.state.Delete": {
        "errorOnMissing": _ME + "test_state_tasks_scope_by_iteration_value_and_can_insist_on_a_value",
        "name": _O + "test_plugins_flow.py::test_it_sets_gets_and_deletes_state",
        "namespace": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
        "taskrunValue": _ME + "test_state_tasks_scope_by_iteration_value_and_can_insist_on_a_value",
    },
    "io.kestra.plugin.core.state.Get": {
        "errorOnMissing": _O
        + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
        "name": _O + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
        "namespace": _O + "test_control.py::test_it_restarts_from_the_failed_task_keeping_earlier_outputs",
        "taskrunValue": _ME + "test_state_tasks_scope_by_iteration_value_and_can_insist_on_a_value",
    },
    "io.kestra.plugin.core.state.Set": {
        "data": _O + "test_plugins_flow.py::test_it_sets_gets_and_deletes_state",
        "name": _O + "test_plugins_flow.py::test_it_sets_gets_and_deletes_state",
        "namespace": _O + "test_kv_tasks.py::test_it_sets_gets_and_deletes_a_value_in_the_flow_namespace",
        "taskrunValue": _ME + "test_state_tasks_scope_by_iteration_value_and_can_insist_on_a_value",
    },
    "io.kestra.plugin.core.storage.LocalFiles": {
        "inputs": _O + "test_files.py::test_working_directory_children_share_one_directory_on_one_worker",
        "outputs": _O + "test_files.py::test_working_directory_children_share_one_directory_on_one_worker",
    },
    "io.kestra.plugin.core.trigger.Flow": {
        "inputs": _O + "test_triggers.py::test_it_loads_flows_with_schedule_webhook_and_flow_triggers",
        "preconditions": REFUSED,
        "states": _ME + "test_a_flow_trigger_fires_only_on_the_states_it_lists",
    },
    "io.kestra.plugin.core.trigger.Schedule": {
        "backfill": _O + "test_schedule_recovery.py::"
        + "test_a_backfill_runs_its_dates_with_its_labels_once_then_the_schedule_goes_on",
        "cron": _O + "test_compat.py::test_it_stores_a_disabled_trigger_first_and_reports_it_after_the_run",
        "inputs": _O + "test_triggers.py::test_it_loads_flows_with_schedule_webhook_and_flow_triggers",
        "lateMaximumDelay": _O
        + "test_schedule_recovery.py::test_it_skips_dates_later_than_the_late_maximum_delay",
        "recoverMissedSchedules": _O
        + "test_schedule_recovery.py::test_it_recovers_only_the_last_missed_schedule_with_last",
        "scheduleConditions": REFUSED,
        "timezone": _O + "test_triggers.py::test_it_loads_flows_with_schedule_webhook_and_flow_triggers",
        "withSeconds": REFUSED,
    },
    "io.kestra.plugin.core.trigger.Toggle": {
        "enabled": _O
        + "test_compat.py::test_it_stores_a_disabled_trigger_first_and_reports_it_after_the_run",
        "flowId": _O + "test_toggle.py::test_it_enables_a_trigger_the_operator_switched_off",
        "namespace": _O
        + "test_compat.py::test_it_stores_a_disabled_trigger_first_and_reports_it_after_the_run",
        "trigger": _O
        + "test_compat.py::test_it_stores_a_disabled_trigger_first_and_reports_it_after_the_run",
    },
    "io.kestra.plugin.core.trigger.Webhook": {
        "inputs": _O + "test_triggers.py::test_it_loads_flows_with_schedule_webhook_and_flow_triggers",
        "key": _O + "test_triggers.py::test_it_loads_flows_with_schedule_webhook_and_flow_triggers",
        "responseContentType": REFUSED,
        "returnOutputs": _O
        + "test_triggers.py::test_it_answers_a_waiting_webhook_with_the_final_state_and_outputs",
        "wait": _O + "test_triggers.py::test_it_answers_a_waiting_webhook_with_the_final_state_and_outputs",
    },
    "io.kestra.plugin.notifications.discord.DiscordIncomingWebhook": {
        "options": _NT + "test_it_fails_on_an_error_status_and_an_unreachable_url",
        "payload": _NT + "test_it_posts_teams_and_discord_payloads",
        "url": _NT + "test_it_posts_teams_and_discord_payloads",
    },
    "io.kestra.plugin.notifications.mail.MailSend": {
        "attachments": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "cc": _NT + "test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "embeddedImages": _NT + "test_it_embeds_images_the_html_refers_to",
        "host": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "htmlTextContent": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "password": _NT + "test_it_logs_in_over_starttls_and_checks_the_certificate_unless_told",
        "plainTextContent": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "port": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "from": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "sessionTimeout": _O
        + "test_notification_tasks.py::test_it_fails_clearly_when_the_mail_server_is_not_there",
        "subject": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "to": _NT + "test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "transportStrategy": _O
        + "test_notification_tasks.py::test_it_sends_an_email_with_html_cc_and_a_stored_attachment",
        "trustedHosts": _NT + "test_it_logs_in_over_starttls_and_checks_the_certificate_unless_told",
        "username": _NT + "test_it_logs_in_over_starttls_and_checks_the_certificate_unless_told",
        "verifyServerIdentity": _NT + "test_it_logs_in_over_starttls_and_checks_the_certificate_unless_told",
    },
    "io.kestra.plugin.notifications.slack.SlackIncomingWebhook": {
        "messageText": _O
        + "test_notification_tasks.py::test_it_posts_slack_payloads_and_converts_message_text",
        "options": _NT + "test_it_posts_slack_payloads_and_converts_message_text",
        "payload": _NT + "test_it_posts_slack_payloads_and_converts_message_text",
        "url": _NT + "test_it_posts_slack_payloads_and_converts_message_text",
    },
    "io.kestra.plugin.notifications.teams.TeamsIncomingWebhook": {
        "options": _NT + "test_it_posts_teams_and_discord_payloads",
        "payload": _NT + "test_it_posts_teams_and_discord_payloads",
        "url": _NT + "test_it_posts_teams_and_discord_payloads",
    },
    "io.kestra.plugin.terraform.cli.TerraformCLI": {
        "beforeCommands": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "commands": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "containerImage": _TF + "test_it_refuses_a_terraform_cli_that_asks_for_a_container",
        "docker": _TF + "test_it_refuses_a_terraform_cli_that_asks_for_a_container",
        "env": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "inputFiles": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "outputFiles": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "taskRunner": _TF + "test_it_refuses_a_terraform_cli_that_asks_for_a_container",
    },
    "portico.hcloud.CreateServer": {
        "image": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "labels": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "location": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "name": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "serverType": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "sshPublicKey": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
    },
    "portico.hcloud.DeleteServer": {
        "name": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "serverId": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
    },
    "portico.hcloud.PowerOff": {
        "name": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "serverId": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
    },
    "portico.hcloud.PowerOn": {
        "name": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
        "serverId": _O
        + "test_hcloud_plugin.py::test_it_creates_powers_and_deletes_a_server_leaving_nothing_behind",
    },
    "portico.terraform.Apply": {
        "env": _O + _TB,
        "lockTimeout": _TF + "test_it_locks_a_state_against_a_concurrent_apply",
        "module": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "planFile": _TF + "test_it_runs_the_example_flow_from_the_command_line",
        "sensitiveVariables": _TF + "test_it_masks_sensitive_variables_in_logs_and_outputs",
        "stateKey": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "variables": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
    },
    "portico.terraform.Destroy": {
        "env": _O + _TB,
        "lockTimeout": _TF + "test_it_locks_a_state_against_a_concurrent_apply",
        "module": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "sensitiveVariables": _TF + "test_it_masks_sensitive_variables_in_logs_and_outputs",
        "stateKey": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "variables": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
    },
    "portico.terraform.Init": {
        "env": _TF + "test_it_runs_kestra_terraform_cli_commands",
        "lockTimeout": _TF + "test_it_locks_a_state_against_a_concurrent_apply",
        "module": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "sensitiveVariables": _TF + "test_it_masks_sensitive_variables_in_logs_and_outputs",
        "stateKey": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "variables": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
    },
    "portico.terraform.Output": {
        "env": _O + _TB,
        "lockTimeout": _TF + "test_it_locks_a_state_against_a_concurrent_apply",
        "module": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "sensitiveVariables": _TF + "test_it_masks_sensitive_variables_in_logs_and_outputs",
        "stateKey": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "variables": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
    },
    "portico.terraform.Plan": {
        "destroy": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "env": _O + _TB,
        "lockTimeout": _TF + "test_it_locks_a_state_against_a_concurrent_apply",
        "module": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "savePlan": _TF + "test_it_runs_the_example_flow_from_the_command_line",
        "sensitiveVariables": _TF + "test_it_masks_sensitive_variables_in_logs_and_outputs",
        "stateKey": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
        "variables": _TF + "test_it_plans_applies_reads_and_destroys_the_sandbox",
    },
}


# The script tasks share Kestra's AbstractExecScript properties, proven once on the shell tasks.
_SCRIPT_COMMON = {
    "beforeCommands": _ST + "test_it_runs_shell_commands_streams_lines_and_reads_the_output_protocol",
    "containerImage": _ST + "test_it_refuses_what_this_worker_cannot_do_at_load",
    "docker": _ST + "test_it_refuses_what_this_worker_cannot_do_at_load",
    "env": _ST + "test_it_runs_shell_commands_streams_lines_and_reads_the_output_protocol",
    "failFast": _ST + "test_it_fails_fast_and_reports_the_exit_code",
    "inputFiles": _ST + "test_it_passes_input_files_and_uploads_output_files_and_the_output_dir",
    "interpreter": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
    "namespaceFiles": _ST + "test_it_mounts_namespace_files_and_reads_them_in_templates",
    "outputDirectory": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
    "outputFiles": _ST + "test_it_passes_input_files_and_uploads_output_files_and_the_output_dir",
    "runner": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
    "targetOS": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
    "taskRunner": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
    "warningOnStdErr": _ST + "test_stderr_makes_a_warning_unless_told_otherwise",
}
_AN = _O + "test_ansible.py::"
_AN_RUN = _AN + "test_it_runs_a_playbook_with_outputs_logs_files_and_masked_secrets"
_AN_LOAD = _AN + "test_it_refuses_what_this_worker_cannot_do_at_load"
TYPES["io.kestra.plugin.ansible.cli.AnsibleCLI"] = {
    "ansibleConfig": _AN + "test_it_writes_ansible_config_and_points_ansible_at_it",
    "autoInstallGalaxyRequirements": _AN_LOAD,
    "autoInstallPythonRequirements": _AN + "test_it_stops_on_requirements_it_cannot_install_unless_told",
    "beforeCommands": _AN_RUN,
    "commands": _AN_RUN,
    "containerImage": _AN_LOAD,
    "docker": _AN_LOAD,
    "env": _AN_RUN,
    "inputFiles": _AN_RUN,
    "namespaceFiles": _AN + "test_it_runs_a_playbook_from_namespace_files_leaving_its_jinja_to_ansible",
    "outputFiles": _AN_RUN,
    "outputLogFile": _AN_RUN,
    "outputsMode": _AN_LOAD,
    "taskRunner": _AN_LOAD,
}
_PYTHON_PACKAGES = dict.fromkeys(
    ("dependencies", "dependencyCacheEnabled", "packageManager", "pythonVersion", "uvAutoInstallEnabled"),
    REFUSED,
)
TYPES.update(
    {
        "io.kestra.plugin.scripts.shell.Commands": {
            **_SCRIPT_COMMON,
            "commands": _ST + "test_it_fails_fast_and_reports_the_exit_code",
        },
        "io.kestra.plugin.scripts.shell.Script": {
            **_SCRIPT_COMMON,
            "script": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
        },
        "io.kestra.plugin.scripts.powershell.Commands": {
            **_SCRIPT_COMMON,
            "commands": _ST + "test_powershell_fails_clearly_without_pwsh",
        },
        "io.kestra.plugin.scripts.powershell.Script": {
            **_SCRIPT_COMMON,
            "script": _ST + "test_it_takes_kestras_runner_and_interpreter_settings",
        },
        "io.kestra.plugin.scripts.python.Commands": {
            **_SCRIPT_COMMON,
            **_PYTHON_PACKAGES,
            "commands": _ST + "test_it_fails_fast_and_reports_the_exit_code",
        },
        "io.kestra.plugin.scripts.python.Script": {
            **_SCRIPT_COMMON,
            **_PYTHON_PACKAGES,
            "script": _ST + "test_it_runs_a_python_script_with_kestras_prelude",
        },
    }
)


# Samples for the refused properties of a type (validated alone: other errors are ignored).
REFUSED_SAMPLES: dict[str, Any] = {
    "revision": 2,
    "encryptBody": True,
    "dependencies": ["requests"],
    "dependencyCacheEnabled": True,
    "packageManager": "UV",
    "pythonVersion": "3.12",
    "uvAutoInstallEnabled": True,
    "scheduleDate": "2026-01-01T00:00:00Z",
    "preconditions": {"id": "p"},
    "backfill": {"start": "2026-01-01T00:00:00Z"},
    "lateMaximumDelay": "PT1H",
    "recoverMissedSchedules": "ALL",
    "scheduleConditions": [{"type": "x"}],
    "withSeconds": True,
    "responseContentType": "text/plain",
    "namespaceFiles": {"enabled": True},
}
# A value each refused flow, task, trigger or input key may take, and where it goes.
KEY_SAMPLES: dict[str, Any] = {
    "deleted": True,
    "workerGroup": {"key": "gpu"},
    "workerSelector": {"labels": {}},
    "logToFile": True,
    "taskCache": {"enabled": True},
    "version": "1.0",
    "pluginDefaultsRef": "x",
    "stopAfter": ["FAILED"],
    "logLevel": "INFO",
    "minLogLevel": "INFO",
    "failOnTriggerError": True,
    "allowConcurrent": True,
    "interval": "PT1M",
    "prefill": "x",
    "isRadio": True,
    "autoSelectFirst": True,
    "extension": ".txt",
    "expression": "{{ [] }}",
}
_INPUT_TYPE_FOR = {"prefill": "STRING", "extension": "FILE"}


def _all_type_fields(task_type: task_api.TaskType) -> set[str]:
    """The keys a flow writes: a field's alias where it has one (``from``), else its name."""
    fields = {info.alias or name for name, info in task_type.props_model.model_fields.items()}
    return (fields | set(task_type.branches)) - set(BRANCHES)


def test_every_accepted_key_is_in_the_table() -> None:
    """The inventory is complete: a new key anywhere needs an entry (evidence or refusal)."""
    assert set(FLOW) == set(FLOW_KEYS)
    assert set(TASK_COMMON) == set(COMMON_TASK_KEYS)
    assert set(TRIGGER_COMMON) == set(TRIGGER_COMMON_KEYS)
    assert set(INPUT) == set(INPUT_COMMON_KEYS).union(*INPUT_KEYS_BY_TYPE.values())
    assert set(RETRY) == set(RETRY_COMMON).union(*(req | opt for req, opt in RETRY_KEYS.values()))
    assert (set(SLA_ITEM), set(CHECK_ITEM), set(LISTENER_ITEM)) == (SLA_KEYS, CHECK_KEYS, LISTENER_KEYS)
    assert set(OUTPUT_ITEM) == set(OUTPUT_KEYS)
    # ``tests.*`` types are throw-away registrations of other tests, not something a flow can use.
    registered = {
        t.name: _all_type_fields(t)
        for t in task_api.all_types()
        if not t.name.startswith("tests.")
    }
    assert {name: set(fields) for name, fields in TYPES.items() if name in registered} == registered


@cache
def _test_source(test_id: str) -> str | None:
    """A test function's text with its decorators and the module-level names it uses (flow texts)."""
    path, name = test_id.split("::")
    text = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(text)
    module_defs: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    module_defs[target.id] = ast.get_source_segment(text, node) or ""
        elif isinstance(node, ast.FunctionDef):
            module_defs.setdefault(node.name, ast.get_source_segment(text, node) or "")
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            parts = [ast.get_source_segment(text, d) or "" for d in node.decorator_list]
            parts.append(ast.get_source_segment(text, node) or "")
            used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {name}
            used |= {arg.arg for arg in node.args.args}  # fixtures defined in the module
            for _ in range(2):  # and what those helpers and fixtures use in turn
                texts = [module_defs[u] for u in sorted(used) if u in module_defs]
                used |= {n for text in texts for n in re.findall(r"[A-Za-z_]\w*", text)}
            parts += [module_defs[u] for u in sorted(used) if u in module_defs and u != name]
            return "\n".join(parts)
    return None


def _rows() -> list[tuple[str, str, str]]:
    rows = [("flow", k, v) for k, v in FLOW.items()]
    rows += [("task", k, v) for k, v in TASK_COMMON.items()]
    rows += [("trigger", k, v) for k, v in TRIGGER_COMMON.items()]
    rows += [("input", k, v) for k, v in INPUT.items()]
    rows += [("retry", k, v) for k, v in RETRY.items()]
    rows += [("branch", k, v) for k, v in BRANCHES.items()]
    rows += [("sla", k, v) for k, v in SLA_ITEM.items()] + [("checks", k, v) for k, v in CHECK_ITEM.items()]
    rows += [("listeners", k, v) for k, v in LISTENER_ITEM.items()]
    rows += [("outputs", k, v) for k, v in OUTPUT_ITEM.items()]
    rows += [(type_name, k, v) for type_name, fields in TYPES.items() for k, v in fields.items()]
    return rows


@pytest.mark.parametrize(("where", "key", "evidence"), _rows(), ids=lambda v: str(v).rsplit(".", 1)[-1][:40])
def test_each_implemented_key_has_a_test_that_uses_it(where: str, key: str, evidence: str) -> None:
    if evidence in (PENDING, IGNORED, OTHERS):
        pytest.xfail(f"{where}.{key}: {evidence} (see the table's docstring)")
    if evidence in _MARKERS:
        return
    source = _test_source(evidence)
    assert source is not None, f"{where}.{key}: no test {evidence}"
    assert re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", source), f"{evidence} never uses '{key}'"


def _flow_with(**parts: str) -> str:
    text = "id: f\nnamespace: n\n" + parts.get("top", "")
    text += parts.get("inputs", "")
    text += "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    text += parts.get("task", "")
    return text + parts.get("triggers", "")


def _yaml(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML


def _refusal(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, file="x.yml")
    return [(e.line, e.path, e.message) for e in caught.value.errors]


@pytest.mark.parametrize("key", [k for k, v in FLOW.items() if v == REFUSED])
def test_refused_flow_keys_fail_at_load(key: str) -> None:
    text = _flow_with(top=f"{key}: {_yaml(KEY_SAMPLES[key])}\n")
    assert _refusal(text) == [(3, key, "not supported yet")]


@pytest.mark.parametrize("key", [k for k, v in TASK_COMMON.items() if v == REFUSED])
def test_refused_task_keys_fail_at_load(key: str) -> None:
    text = _flow_with(task=f"    {key}: {_yaml(KEY_SAMPLES[key])}\n")
    assert _refusal(text) == [(7, f"tasks[0].{key}", "not supported yet")]


@pytest.mark.parametrize("key", [k for k, v in TRIGGER_COMMON.items() if v == REFUSED])
def test_refused_trigger_keys_fail_at_load(key: str) -> None:
    trigger = "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
    trigger += "    cron: '0 * * * *'\n"
    text = _flow_with(triggers=trigger + f"    {key}: {_yaml(KEY_SAMPLES[key])}\n")
    assert _refusal(text) == [(11, f"triggers[0].{key}", "not supported yet")]


@pytest.mark.parametrize("key", [k for k, v in INPUT.items() if v == REFUSED])
def test_refused_input_keys_fail_at_load(key: str) -> None:
    kind = _INPUT_TYPE_FOR.get(key, "SELECT")
    values = "    values: [a, b]\n" if kind == "SELECT" else ""
    inputs = f"inputs:\n  - id: i\n    type: {kind}\n    required: false\n{values}"
    text = _flow_with(inputs=inputs + f"    {key}: {_yaml(KEY_SAMPLES[key])}\n")
    problems = _refusal(text)
    assert (problems[-1][1], problems[-1][2]) == (f"inputs[0].{key}", "not supported yet")
    assert all(message == "not supported yet" for _, _, message in problems)


@pytest.mark.parametrize(
    ("type_name", "key"),
    [(t, k) for t, fields in TYPES.items() for k, v in fields.items() if v == REFUSED],
)
def test_refused_type_properties_fail_at_load(type_name: str, key: str) -> None:
    task_type = task_api.lookup(type_name)
    assert task_type is not None
    try:
        task_type.props_model.model_validate({key: REFUSED_SAMPLES[key]})
    except Exception as exc:  # noqa: BLE001 (pydantic's ValidationError: read its errors below)
        errors = exc.errors()  # type: ignore[attr-defined]
    else:
        errors = []
    messages = [e["msg"] for e in errors if e["loc"] == (key,)]
    assert messages and all(m.endswith("not supported yet") for m in messages), messages


# --- the small proofs the tables point at ----------------------------------------------------------


def test_an_input_name_is_the_older_id() -> None:
    flow = parse_flow(_flow_with(inputs="inputs:\n  - name: who\n    type: STRING\n"))
    assert [spec.id for spec in flow.inputs] == ["who"]


def test_select_options_are_the_older_values() -> None:
    flow = parse_flow(_flow_with(inputs="inputs:\n  - id: size\n    type: SELECT\n    options: [s, m]\n"))
    assert flow.input_map["size"].values == ["s", "m"]


def test_an_input_before_bound_refuses_later_values() -> None:
    flow = parse_flow(_flow_with(inputs="inputs:\n  - id: day\n    type: DATE\n    before: '2026-01-01'\n"))
    with pytest.raises(input_types.InputsInvalid) as caught:
        input_types.resolve_inputs(flow, {"day": "2026-02-01"})
    assert "before" in caught.value.errors["day"]


def test_a_flowable_runs_its_finally_after_a_failure(run_flow: Any) -> None:
    execution = run_flow(
        """
id: flowable-finally
namespace: tests.keys
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - {id: boom, type: io.kestra.plugin.core.execution.Fail, errorMessage: no}
    finally:
      - {id: cleanup, type: io.kestra.plugin.core.debug.Return, format: done}
"""
    )
    assert execution.state == State.FAILED
    runs = {run.task_id: run.state for run in execution.task_runs.all()}
    assert runs["cleanup"] == State.SUCCESS


def test_state_tasks_scope_by_iteration_value_and_can_insist_on_a_value(run_flow: Any) -> None:
    execution = run_flow(
        """
id: state-keys
namespace: tests.keys
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a"]
    tasks:
      - {id: put, type: io.kestra.plugin.core.state.Set, name: s, data: {v: 1}}
      - {id: same, type: io.kestra.plugin.core.state.Get, name: s}
      - {id: shared, type: io.kestra.plugin.core.state.Get, name: s, taskrunValue: false}
      - id: strict
        type: io.kestra.plugin.core.state.Get
        name: s
        taskrunValue: false
        errorOnMissing: true
        allowFailure: true
      - id: missing
        type: io.kestra.plugin.core.state.Delete
        name: nothing
        errorOnMissing: true
        allowFailure: true
      - {id: tidy, type: io.kestra.plugin.core.state.Delete, name: s, taskrunValue: false}
"""
    )
    runs = {run.task_id: run for run in execution.task_runs.all()}
    assert runs["same"].outputs["count"] == 1
    assert runs["shared"].outputs["count"] == 0  # taskrunValue: false reads the key without "/a"
    assert "not found" in runs["strict"].error
    assert "not found" in runs["missing"].error
    assert runs["tidy"].outputs == {"deleted": False}  # the value was stored under the iteration


def test_fetch_refuses_an_execution_of_another_flow_id(run_flow: Any) -> None:
    execution = run_flow(
        """
id: fetch-keys
namespace: tests.keys
tasks:
  - id: fetch
    type: io.kestra.plugin.core.log.Fetch
    flowId: another-flow
    allowFailure: true
"""
    )
    [fetch] = execution.task_runs.all()
    assert "is not an execution of" in fetch.error


def test_a_dag_runs_at_most_concurrent_tasks_at_once(run_flow: Any) -> None:
    execution = run_flow(
        """
id: dag-keys
namespace: tests.keys
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    concurrent: 1
    tasks:
      - task: {id: one, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.3S}
      - task: {id: two, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.3S}
"""
    )
    assert execution.state == State.SUCCESS
    first, second = sorted(
        (run for run in execution.task_runs.all() if run.task_id in ("one", "two")), key=lambda r: r.started
    )
    assert second.started >= first.ended


@pytest.mark.django_db(transaction=True)
def test_for_each_item_labels_its_sub_executions_and_may_ignore_their_failure(
    celery_worker: Any, children: None
) -> None:
    text = for_each_item("fails", rows=5) + "    transmitFailed: false\n    labels: {team: blue}\n"
    execution = start(text, {"file": input_types.FileUpload("i.txt", LINES)}, timeout=60)
    assert execution.state == State.SUCCESS
    items = runs(execution, "each_items")[0]
    subs = list(Execution.objects.filter(parent_taskrun=items))
    assert len(subs) == 2
    assert all(sub.state == State.FAILED and sub.labels.get("team") == "blue" for sub in subs)


# --- proofs for keys that had no test using them ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_resume_checks_the_flow_id_of_the_execution(run_flow: Any) -> None:
    execution = run_flow(
        "id: resumer\nnamespace: tests.proofs\ntasks:\n"
        "  - id: resume\n    type: io.kestra.plugin.core.execution.Resume\n"
        "    namespace: tests.proofs\n    flowId: someone-else\n"
    )

    assert execution.state == State.FAILED
    assert "is not an execution of tests.proofs.someone-else" in execution.task_runs.get().error


@pytest.mark.django_db(transaction=True)
def test_for_each_item_inherit_labels_and_wait(celery_worker: Any, children: None) -> None:
    labelled = for_each_item("echo").replace(
        "tasks:\n", "labels:\n  team: blue\ntasks:\n", 1
    ).replace("    flowId: echo\n", "    flowId: echo\n    inheritLabels: true\n    wait: false\n")
    plain = for_each_item("echo").replace(
        "    flowId: echo\n", "    flowId: echo\n    inheritLabels: 'false'\n"
    )

    with_labels = start(labelled, {"file": input_types.FileUpload("items.txt", LINES)}, timeout=60)
    without = start(plain, {"file": input_types.FileUpload("items.txt", LINES)}, timeout=60)

    assert with_labels.state == without.state == State.SUCCESS
    items = runs(with_labels, "each_items")[0]
    subs = list(Execution.objects.filter(parent_taskrun=items))
    assert subs and all(sub.labels.get("team") == "blue" for sub in subs)
    # wait: false ends each_items as soon as the sub-executions are started; by default it waits for them.
    assert all(items.ended < sub.ended for sub in subs)
    waited = runs(without, "each_items")[0]
    plain_subs = list(Execution.objects.filter(parent_taskrun=waited))
    assert all(waited.ended >= sub.ended for sub in plain_subs)
    assert not any("team" in sub.labels for sub in plain_subs)


@pytest.mark.django_db(transaction=True)
def test_working_directory_output_files_are_stored(run_flow: Any) -> None:
    execution = run_flow(
        "id: wd-out\nnamespace: tests.proofs\ntasks:\n"
        "  - id: wd\n    type: io.kestra.plugin.core.flow.WorkingDirectory\n"
        "    outputFiles: ['*.txt']\n    tasks:\n"
        "      - id: make\n        type: io.kestra.plugin.core.storage.LocalFiles\n"
        "        inputs: {made.txt: hello}\n"
    )

    assert execution.state == State.SUCCESS
    uri = execution.task_runs.get(task_id="wd").outputs["outputFiles"]["made.txt"]
    assert uri.startswith("kestra:///tests/proofs/wd-out/executions/")


@pytest.mark.django_db(transaction=True)
def test_a_flow_trigger_fires_only_on_the_states_it_lists(run_flow: Any) -> None:
    triggers.sync_triggers(
        [
            parse_flow(
                "id: on-failure\nnamespace: tests.proofs\ntasks:\n"
                "  - id: noted\n    type: io.kestra.plugin.core.log.Log\n    message: '{{ trigger.state }}'\n"
                "triggers:\n  - id: failures\n    type: io.kestra.plugin.core.trigger.Flow\n"
                "    states: [FAILED]\n    conditions:\n"
                "      - type: io.kestra.plugin.core.condition.ExecutionFlow\n"
                "        namespace: tests.proofs\n        flowId: breaks\n"
            )
        ]
    )
    upstream = "id: breaks\nnamespace: tests.proofs\ninputs:\n  - id: fail\n    type: BOOLEAN\ntasks:\n"
    upstream += "  - id: maybe\n    type: io.kestra.plugin.core.execution.Fail\n"
    upstream += "    condition: '{{ inputs.fail }}'\n"

    ok = run_flow(upstream, {"fail": "false"})
    failed = run_flow(upstream, {"fail": "true"})

    assert (ok.state, failed.state) == (State.SUCCESS, State.FAILED)
    deadline = time.monotonic() + 20
    while not Execution.objects.filter(flow_id="on-failure").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    fired = list(Execution.objects.filter(flow_id="on-failure"))
    assert [execution.trigger.get("executionId") for execution in fired] == [str(failed.pk)]
