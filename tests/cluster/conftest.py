"""`slurm_cluster`: a real one-node Slurm for the session (tests/cluster/slurm_daemons.py).

It skips, saying why, only where Slurm's programs are absent or the tests do not run as root
(the daemons need it); `bash .ci/setup --test` installs slurm-wlm and munge.
"""

from __future__ import annotations

import os

import pytest

from tests.cluster.slurm_daemons import missing_programs, start_slurm


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    missing = missing_programs()
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): bash .ci/setup --test")
    if os.geteuid() != 0:
        pytest.skip("the Slurm daemons start as root: run the slurm tests as root")
    daemons = start_slurm(tmp_path_factory.mktemp("slurm"))
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = daemons.env["SLURM_CONF"]
    try:
        yield daemons
    finally:
        daemons.stop()
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
