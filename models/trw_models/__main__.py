"""python -m trw_models {train,serve,...}: see `python -m trw_models --help`; installed
(`pip install ./models`), the same is the console script `trw-models`.

Each module in COMMAND_MODULES adds its subcommands (`register(subparsers)`);
this keeps one entry point for the DP-LSTM, its baselines and the multimodal parts."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Modules that add subcommands (each defines register(subparsers)).
COMMAND_MODULES: list = ["train", "mm.cli"]  # train, serve (issue 11); mm-* (issue 12)


def main(argv=None) -> int:
    prog = "trw-models" if os.path.basename(sys.argv[0]) == "trw-models" else "python -m trw_models"
    p = argparse.ArgumentParser(prog=prog, description="Train, evaluate and serve trw's runaway detectors.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"trw_models.{name}").register(sub)
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
