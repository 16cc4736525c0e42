"""DDP: the same fit() under ``torchrun --nproc_per_node 2`` (gloo on CPU) keeps both ranks identical while each
rank trains on its own shard of the data; rank 0 alone writes the files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from safetensors.torch import load_file

from test_loop import states_equal

HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    import torch
    from safetensors.torch import save_file

    sys.path.insert(0, {here!r})
    from test_loop import Blobs, TinyELBO, tiny_model
    from learnedaug.train import fit

    torch.set_num_threads(1)


    class Recording(TinyELBO):
        '''Records which dataset items each step saw (Blobs puts i / 256 at pixel (0, 5)).'''

        def __init__(self):
            super().__init__()
            self.seen = []

        def training_step(self, model, images, labels, step, *, generator=None):
            self.seen.append(torch.round(images[:, 0, 0, 5] * 256).long().tolist())
            return super().training_step(model, images, labels, step, generator=generator)


    out, rank = Path(sys.argv[1]), int(os.environ["RANK"])
    objective = Recording()
    # Different initial weights per rank: fit must start every rank from rank 0's.
    result = fit(tiny_model(seed=rank), Blobs(48), epochs=2, batch_size=8, out_dir=out / "run", objective=objective,
                 progress=False, sample_every=1, val_fraction=0.25)
    save_file({{k: v.contiguous() for k, v in result.model.state_dict().items()}}, str(out / f"rank{{rank}}.safetensors"))
    (out / f"rank{{rank}}.json").write_text(json.dumps({{"seen": objective.seen, "history": result.history}}))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_cpu_ranks_stay_identical_on_different_shards(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT.format(here=str(HERE)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(script), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=200, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    states = [load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1)]
    logs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert states_equal(states[0], states[1])  # parameters and BatchNorm buffers
    assert logs[0]["history"] == [{**row, "seconds": logs[0]["history"][i]["seconds"]} for i, row in enumerate(logs[1]["history"])]

    # 36 training images (48 minus a 25 % validation split), 18 per rank, batches of 8: 2 full steps per epoch.
    for epoch in range(2):
        shards = [[i for batch in log["seen"][2 * epoch: 2 * epoch + 2] for i in batch] for log in logs]
        assert all(len(s) == 16 == len(set(s)) for s in shards)
        assert not set(shards[0]) & set(shards[1])  # each rank saw its own data
    first, second = ([i for b in logs[0]["seen"][2 * e: 2 * e + 2] for i in b] for e in (0, 1))
    assert first != second  # the sampler reshuffles every epoch

    run = tmp_path / "run"
    assert (run / "checkpoint.safetensors").is_file() and (run / "model" / "model.safetensors").is_file()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert states_equal(load_file(run / "model" / "model.safetensors"), states[0])
