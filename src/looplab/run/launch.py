"""``looplab train --nproc N``: check the run here, then start N workers with torchrun.

The workers are ``python -m torch.distributed.run --standalone --nproc-per-node N -m looplab
train --config <the checked config>`` (``--standalone``: a rendezvous on this machine, on a free
port). Everything a user can get wrong is refused here first, in one line, before a process
starts or a file is written. torchrun runs in its own session, so a Ctrl-C reaches it once, from
here: it passes SIGINT/SIGTERM to every worker, which stop after the same step, rank 0 saves a
checkpoint, and this process exits with 130/143 as a one-process run does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

import tomli_w

from looplab.config import Config
from looplab.data.prepared import load_prepared
from looplab.run.build import check_fits_data
from looplab.run.resume import prepare_resume

CAUGHT = (signal.SIGINT, signal.SIGTERM)


def check_job(config: Config, resume: Path | None) -> None:
    """Every check a worker would make before training, made once here: a resume's checkpoint,
    the data and the devices (the config was checked when it was read)."""
    if resume is not None:
        prepare_resume(resume, config)
    check_fits_data(config, load_prepared(config))  # and the devices


def torchrun_command(config_file: Path, nproc: int, resume: Path | None) -> list[str]:
    """The torchrun command line of a job of ``nproc`` workers on this machine."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(nproc), "-m", "looplab", "train", "--config", str(config_file),
        *(["--resume", str(resume)] if resume is not None else []),
    ]  # fmt: skip


def run_job(config: Config, resume: Path | None = None) -> int:
    """Check the job, run it with torchrun, and return the exit code: torchrun's, or 128 +
    the signal that stopped it (130 for Ctrl-C, 143 for SIGTERM)."""
    check_job(config, resume)
    with tempfile.TemporaryDirectory(prefix="looplab-job-") as tmp:
        config_file = Path(tmp) / "config.toml"
        config_file.write_text(tomli_w.dumps(config.to_dict()))
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        env.setdefault("LOGLEVEL", "ERROR")  # torchrun's own log lines: errors only
        command = torchrun_command(config_file, config.nproc, resume)
        proc = subprocess.Popen(command, env=env, start_new_session=True)
        caught: list[int] = []

        def forward(signum: int, frame: FrameType | None) -> None:
            if signum not in caught:  # once each: a second one would stop ranks mid-write
                caught.append(signum)
                proc.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in CAUGHT}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 128 + caught[0] if caught else code
