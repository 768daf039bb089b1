"""Each pytest-xdist worker gets a Redis database and a var/ folder of its own (`make test` runs the
suite on several workers; the test databases are pytest-django's, one per worker: `test_<name>_gw1`).

Why a Redis database each: a test's `cache.clear()` is FLUSHDB, and the worker tests start a Celery
worker on the Redis broker's `celery` queue; two pytest workers sharing one database would empty each
other's cache and run each other's tasks. Why a var/ folder each: the default storages write there.
Processes a test starts (celery, `manage.py`) inherit the worker's environment.

settings.py reads REDIS_URL and ATELIER_VAR_DIR once, at import, and pytest-django imports the settings
in its `pytest_load_initial_conftests`, before any conftest is loaded. So this module is a plugin of
each worker, named in PYTEST_PLUGINS by the controller (`tests/conftest.py`, `pytest_configure`): a
PYTEST_PLUGINS plugin registers after the installed ones, so its hook below runs after pytest-env's
(`tryfirst`, which sets ATELIER_VAR_DIR) and before pytest-django's. `tests/conftest.py` checks on each
worker that Django's settings did take the worker's values.

The order of the tests is the workers' too (xdist hands them out in collection order): the ones that
wait longest go first, so short ones fill the other workers meanwhile and none is left with a long test
at the end.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from urllib.parse import urlparse, urlunparse

import pytest
from xdist.scheduler import LoadGroupScheduling

REDIS_DATABASES = 16  # redis.conf's default `databases`


def worker_index() -> int | None:
    """The number of this xdist worker (gw0 → 0), None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def worker_redis_url(url: str) -> str:
    """`url` on the database `its own + worker index`: redis://h:6379/12 is /12, /13, /14 on gw0-gw2."""
    index = worker_index()
    parsed = urlparse(url)
    if index is None or parsed.scheme not in ("redis", "rediss"):
        return url
    db = int(parsed.path.strip("/") or 0) + index
    if db >= REDIS_DATABASES:
        raise pytest.UsageError(f"xdist worker gw{index} needs Redis database {db} ({url} + {index}): "
                                "run fewer workers (-n) or give REDIS_URL a lower database")
    return urlunparse(parsed._replace(path=f"/{db}"))


def worker_var_dir(var: str) -> str:
    """The worker's own folder under `var`."""
    index = worker_index()
    return var if index is None else os.path.join(var, f"gw{index}")


def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if worker_index() is None:
        return
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name):
            os.environ[name] = worker_redis_url(os.environ[name])
    if os.environ.get("ATELIER_VAR_DIR"):
        os.environ["ATELIER_VAR_DIR"] = worker_var_dir(os.environ["ATELIER_VAR_DIR"])


def waits_long(item: pytest.Item) -> int:
    """How long a test mostly waits, as a rank (0 longest): `make run` (minutes), a real Celery worker, a
    browser on the live server, a test marked slow, then the rest."""
    if item.get_closest_marker("e2e"):
        return 0
    if item.get_closest_marker("worker"):
        return 1
    if item.get_closest_marker("browser") or "live_server" in getattr(item, "fixturenames", ()):
        return 2
    if item.get_closest_marker("slow"):
        return 3
    return 4


# The modules whose tests start a cluster of their own (`tests/scheduling/cluster.py`: a Redis, Celery
# workers and beats) and assert how soon it heals: two clusters sharing the machine's two cores would
# slow each other down, so their tests form one unit of work, run one at a time on one worker.
ONE_AT_A_TIME = ("tests/scheduling/test_faults.py", "tests/scheduling/test_fault_healing.py",
                 "tests/scheduling/test_fault_timing.py")
CLUSTER_GROUP = "cluster"


class GroupScheduling(LoadGroupScheduling):
    """xdist's `loadgroup`, with the modules of ONE_AT_A_TIME as one group. (xdist 3.8 groups tests by a
    suffix it adds to their node id, which pytest 9.2's node ids no longer take, so an `xdist_group`
    mark alone groups nothing.)"""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.split("::", 1)[0] in ONE_AT_A_TIME:
            return CLUSTER_GROUP
        return super()._split_scope(nodeid)


class Controller:
    """The controller's side, registered by `tests/conftest.py` when xdist runs the suite."""

    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadGroupScheduling | None:
        return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Generator[None, None, None]:
    """After every other hook (pytest-django's sort by kind of database use among them): longest waits
    first, a stable sort, so every worker collects the same order, as xdist requires. A worker's
    transactional tests then run before its others; their flush leaves what `migrate` leaves (the
    post_migrate hooks rebuild the role groups and the beat schedule).

    A test that starts a cluster outside the modules of ONE_AT_A_TIME stops the run: name its module there."""
    yield
    if worker_index() is None:
        return
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()) and item.nodeid.split("::", 1)[0] not in ONE_AT_A_TIME:
            raise pytest.UsageError(f"{item.nodeid} starts a cluster: add its module to ONE_AT_A_TIME "
                                    "(tests/parallel.py), so that it runs one at a time with the others")
    items.sort(key=waits_long)
