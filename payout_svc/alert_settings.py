"""When the payout service raises its alerts (payout_svc/entrypoints/payout_alerts.py): read
with the service's settings (PayoutSettings.alerts)."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.settings import SettingsError, env_float, env_int


@dataclass(frozen=True)
class PayoutAlertSettings:
    # A payout the provider took but has not put in transit this long (Stripe does so within
    # minutes), or in transit this long (a bank transfer takes 1-3 business days; 5 days
    # covers a long weekend), is stuck: an operator must look.
    submitted_after_s: float = 3600.0
    in_transit_after_s: float = 5 * 86_400.0
    # A seller whose last `failures` payouts failed (none paid since), within the window: a
    # wrong bank account, a closed one, a provider refusing; each run fails again until fixed.
    failures: int = 3
    failure_window_s: float = 7 * 86_400.0

    @classmethod
    def from_env(cls) -> PayoutAlertSettings:
        values = cls(
            submitted_after_s=env_float("PAYOUT_ALERT_SUBMITTED_AFTER_S", 3600.0),
            in_transit_after_s=env_float("PAYOUT_ALERT_IN_TRANSIT_AFTER_S", 5 * 86_400.0),
            failures=env_int("PAYOUT_ALERT_FAILURES", 3, minimum=1),
            failure_window_s=env_float("PAYOUT_ALERT_FAILURE_WINDOW_S", 7 * 86_400.0),
        )
        if min(values.submitted_after_s, values.in_transit_after_s, values.failure_window_s) <= 0:
            raise SettingsError("the PAYOUT_ALERT_*_S settings must be positive")
        return values
