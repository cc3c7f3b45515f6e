"""python -m trw_models {train,serve,...}: see `python -m trw_models --help`.

Each model family registers a module in COMMANDS providing `add_arguments(subparsers)`;
this keeps one entry point for the DP-LSTM, its baselines and the multimodal parts."""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add subcommands (each defines register(subparsers)).
COMMAND_MODULES: list = ["train", "mm.cli"]  # train, serve (issue 11); mm-* (issue 12)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m trw_models", description="Train, evaluate and serve trw's runaway detectors.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"trw_models.{name}").register(sub)
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
