import os
import zlib

import numpy as np
import pytest
from hypothesis import settings

# CI runs a fixed set of examples (derandomize) so a run cannot pass or fail by
# luck; HYPOTHESIS_PROFILE=explore draws fresh random examples for local hunting.
settings.register_profile("default", max_examples=40, deadline=None, derandomize=True)
settings.register_profile("quick", max_examples=10, deadline=None, derandomize=True)
settings.register_profile("explore", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng(request):
    # a seed per test, stable across runs
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
