"""The training process. Run it with `python -m core.train --config RUN_DIR/config.yaml`."""
