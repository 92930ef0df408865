"""Fuzzing runs with a fixed seed under CI (``CI`` set), so a red run can be replayed and CI
never turns red on an example it happened to draw that day; locally it explores anew."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
