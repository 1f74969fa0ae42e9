"""A real two-worker Dask cluster (separate processes, one thread each) on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests._requires import requires


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.Client`` of a ``LocalCluster(n_workers=2, threads_per_worker=1,
    processes=True)``, shared by the session's tests and closed at the end."""
    requires("dask")
    requires("distributed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()
