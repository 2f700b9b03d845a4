"""The fixtures of the serve tests: one repository and one server per test module (oip_testing.py)."""
import tempfile

import pytest

from oip_testing import Server, make_repository


@pytest.fixture(scope="module")
def repo():
    return make_repository(tempfile.mkdtemp(prefix="cpuinfer-serve-test-"))


@pytest.fixture(scope="module")
def server(repo):
    s = Server(repo, "--max-body-mb", "1")
    yield s
    assert s.stop() == 0
