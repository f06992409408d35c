"""The sandbox app's models and the code that keeps them, one module per domain (re-exported
here, so ``from sandbox.models import Sandbox`` works):

- ``records``: ``Sandbox``, ``PlanRecord``, ``ExerciseAttempt`` (and the run's log line);
- ``seeds``: what a sandbox is seeded from;
- ``limits``: runs per minute (``RunCounter``) and run slots per server;
- ``admission``: a run's one round trip to the app database (``admit``, ``held``);
- ``pool``: the warm pool and the making of sandboxes;
- ``janitor``: the sweep that drops, resets and refills;
- ``shares``: shared snapshots of results and plans (``Share``).
"""

from sandbox.models.admission import Admission, admit, held
from sandbox.models.janitor import SweepReport
from sandbox.models.limits import LimitReached, RunCounter, admitted, run_slot
from sandbox.models.records import ExerciseAttempt, PlanRecord, Sandbox
from sandbox.models.seeds import (
    LAB_SEED_PREFIX,
    SANDBOX_MODES,
    FixtureMissing,
    fixture_digest,
    fixture_sql,
    seed_name,
)
from sandbox.models.shares import Share

__all__ = [
    "LAB_SEED_PREFIX",
    "SANDBOX_MODES",
    "Admission",
    "ExerciseAttempt",
    "FixtureMissing",
    "LimitReached",
    "PlanRecord",
    "RunCounter",
    "Sandbox",
    "Share",
    "SweepReport",
    "admit",
    "admitted",
    "fixture_digest",
    "fixture_sql",
    "held",
    "run_slot",
    "seed_name",
]
