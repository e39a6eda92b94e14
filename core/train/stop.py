"""The Stop request: SIGTERM/SIGINT set a flag that training checks at the end of each step.

Kept free of heavy imports so `python -m core.train` installs it before loading torch and
transformers (~4 s): a Stop pressed while the model loads is still honoured, not a kill.
"""

from __future__ import annotations

import signal


class StopRequest:
    """Set by SIGTERM/SIGINT (the Stop button); the callback ends training at the next step."""

    def __init__(self):
        self.requested = False

    def install(self) -> StopRequest:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def agreed(self) -> bool:
        """True when any rank was asked to stop: every rank then stops at the same step.

        Under DDP the ranks get the signal at slightly different moments; a rank that stopped
        alone would leave the others waiting in the next all-reduce.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self.requested
        import torch

        flag = torch.tensor([1.0 if self.requested else 0.0])
        if dist.get_backend() == "nccl":
            flag = flag.cuda()
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        self.requested = bool(flag.item())
        return self.requested


STOP = StopRequest()
