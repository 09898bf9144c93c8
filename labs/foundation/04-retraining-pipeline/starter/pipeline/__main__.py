"""The command line: ``python -m pipeline run`` from the project folder."""

import argparse
import sys
from pathlib import Path

from pipeline.run import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="process every new batch in data/incoming/")
    parser.parse_args()
    decisions = run(Path.cwd())
    for decision in decisions:
        print(f"{decision['batch'] or '(first model)'}: {decision['decision']}")
    if not decisions:
        print("no new data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
