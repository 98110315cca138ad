"""Monitoring writes: baselines, monitors, drift runs and what a drifting run sets off.

Baselines are built once per model version from a data frame (an uploaded file, the dataset
the run logged, or the deployment's first captured rows) and kept as a compact profile.
A drift run compares a deployment's captured window with its version's baseline, streaming
the window chunk by chunk, and records per-column results and the deployment's drift status.
When a monitor's run drifts, its actions fire once: an alert, an incident, a signed retraining
webhook, and for a high-risk model a request to review the deployment again.
A deployment's decision log (its compacted captured traffic) is exported over a range, audited.
"""

from portal.monitoring.services.actions import (
    DRIFT_EVENT,
    MONITOR_ACTOR,
    RETRAIN_EVENT,
    REVIEW_EVENT,
    drift_actions_fire,
    drift_payload,
)
from portal.monitoring.services.baselines import (
    baseline_from_capture,
    baseline_from_dataset,
    baseline_from_frame,
    baseline_from_upload,
    baseline_record_failure,
    check_logged_dataset,
)
from portal.monitoring.services.decision_logs import decision_log_export
from portal.monitoring.services.monitors import (
    BY_CONSTRUCTION,
    MONITOR_FIELDS,
    MONITORED_STATES,
    check_overrides,
    monitor_create,
    monitor_for_live_revision,
    monitor_run_due,
    monitor_update,
    monitored_deployments,
)
from portal.monitoring.services.runs import (
    ABANDONED_ERROR,
    PROGRESS_EVERY_SECONDS,
    RUN_ABANDONED_AFTER,
    drift_run_execute,
    drift_run_fail,
    drift_run_request,
)

__all__ = [
    "ABANDONED_ERROR",
    "BY_CONSTRUCTION",
    "DRIFT_EVENT",
    "MONITORED_STATES",
    "MONITOR_ACTOR",
    "MONITOR_FIELDS",
    "PROGRESS_EVERY_SECONDS",
    "RETRAIN_EVENT",
    "REVIEW_EVENT",
    "RUN_ABANDONED_AFTER",
    "baseline_from_capture",
    "baseline_from_dataset",
    "baseline_from_frame",
    "baseline_from_upload",
    "baseline_record_failure",
    "check_logged_dataset",
    "check_overrides",
    "decision_log_export",
    "drift_actions_fire",
    "drift_payload",
    "drift_run_execute",
    "drift_run_fail",
    "drift_run_request",
    "monitor_create",
    "monitor_for_live_revision",
    "monitor_run_due",
    "monitor_update",
    "monitored_deployments",
]
