import pytest

from support import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One real `hostpulse serve` shared by a module's tests."""
    srv = Server(tmp_path_factory.mktemp("server")).start()
    yield srv
    srv.stop()
