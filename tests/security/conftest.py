"""Hypothesis, bounded for CI: enough examples to find what hand-written cases miss,
few enough that the suite stays within a minute or two. HYPOTHESIS_PROFILE=thorough
explores more on demand."""

import os

from hypothesis import HealthCheck, settings

# Examples within one test share its database on purpose (the fixtures are made once per
# test, and each example's writes are there for the next): that is the health check
# Hypothesis would otherwise raise about function-scoped fixtures.
shared = {
    "deadline": None,  # a shared, loaded machine: time is not what is tested
    "database": None,  # nothing written into the working tree
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=50, **shared)
settings.register_profile("thorough", max_examples=1000, **shared)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
