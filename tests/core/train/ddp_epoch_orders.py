"""Run under torchrun by test_resume.py: each rank writes the row indices its training loader
yields in each of 3 epochs (StudioTrainer's real loader, accelerate's sharding, gloo DDP).

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/core/train/ddp_epoch_orders.py <model folder> <output folder>
"""

import json
import os
import sys
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForCausalLM, TrainingArguments

from core.train.trainer import StudioTrainer

model_path, out = sys.argv[1], Path(sys.argv[2])
rows = 40
lengths = [3 + (i * 7) % 23 for i in range(rows)]
dataset = Dataset.from_dict({"input_ids": [[1] * n for n in lengths], "length": lengths})
args = TrainingArguments(
    output_dir=str(out / "trainer"),
    per_device_train_batch_size=4,
    train_sampling_strategy="group_by_length",
    use_cpu=True,
    ddp_backend="gloo",
    report_to="none",
    seed=3,
)
trainer = StudioTrainer(
    model=AutoModelForCausalLM.from_pretrained(model_path), args=args, train_dataset=dataset
)
loader = trainer.get_train_dataloader()
orders = []
for epoch in range(3):
    # what Trainer._inner_training_loop calls before each epoch
    loader.set_epoch(epoch)
    underlying = getattr(getattr(loader, "batch_sampler", None), "batch_sampler", None)
    if hasattr(underlying, "set_epoch"):
        underlying.set_epoch(epoch)
    orders.append([list(map(int, batch)) for batch in loader.batch_sampler])
rank = int(os.environ["RANK"])
(out / f"rank{rank}.json").write_text(json.dumps({"world": args.world_size, "orders": orders}))
