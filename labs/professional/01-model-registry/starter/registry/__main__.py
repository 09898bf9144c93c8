"""python -m registry register|promote|rollback|audit  (see the lab README for each command)."""

import argparse
import sys


def register(args: argparse.Namespace) -> int:
    """TODO: log the model (joblib file) and register it as a new version of --name, with the
    lineage tags git_commit, data_version, training_run, author and roc_auc."""
    raise NotImplementedError("register")


def promote(args: argparse.Namespace) -> int:
    """TODO: move the alias champion to --version only when the gate passes; otherwise exit 1
    with the reason. Record either in the audit trail."""
    raise NotImplementedError("promote")


def rollback(args: argparse.Namespace) -> int:
    """TODO: give champion back to the previous champion, and record it."""
    raise NotImplementedError("rollback")


def show_audit(args: argparse.Namespace) -> int:
    """TODO: print every alias move and refusal, oldest first, one JSON object per line."""
    raise NotImplementedError("audit")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m registry")
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register", help="register a trained model with its lineage")
    reg.add_argument("--name", required=True)
    reg.add_argument("--model", required=True, help="a scikit-learn model saved with joblib")
    for tag in ("git-commit", "data-version", "training-run", "author", "roc-auc"):
        reg.add_argument(f"--{tag}", required=True)
    pro = commands.add_parser("promote", help="make a version the champion, if the gate allows")
    pro.add_argument("--name", required=True)
    pro.add_argument("--version", required=True)
    pro.add_argument("--reason", default="")
    back = commands.add_parser("rollback", help="give the champion alias back to the previous one")
    back.add_argument("--name", required=True)
    back.add_argument("--reason", default="")
    aud = commands.add_parser("audit", help="every alias move and refusal, oldest first")
    aud.add_argument("--name", required=True)
    args = parser.parse_args()
    handler = {"register": register, "promote": promote, "rollback": rollback,
               "audit": show_audit}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
