"""python -m registry register|promote|rollback|audit  (see the lab README)."""

import argparse
import json
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from registry import audit, gate

ALIAS = "champion"


def champion(client: MlflowClient, name: str):
    """The version the alias points to, or None."""
    try:
        return client.get_model_version_by_alias(name, ALIAS)
    except MlflowException:
        return None


def register(args: argparse.Namespace) -> int:
    # Imported here, not above: promote, rollback and audit never load a model (1.2 s saved each).
    import joblib
    import skops
    import skops.io
    import sklearn

    model = joblib.load(args.model)
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    # Pinned to what runs here; left out, MLflow infers them in a subprocess (about 5 s a call).
    requirements = [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]
    logged = mlflow.sklearn.log_model(model, name="model", skops_trusted_types=trusted,
                                      pip_requirements=requirements)
    tags = {"git_commit": args.git_commit, "data_version": args.data_version,
            "training_run": args.training_run, "author": args.author, gate.METRIC: args.roc_auc}
    version = mlflow.register_model(logged.model_uri, args.name, tags=tags)
    print(json.dumps({"name": args.name, "version": version.version}))
    return 0


def promote(args: argparse.Namespace) -> int:
    client = MlflowClient()
    candidate = client.get_model_version(args.name, args.version)
    current = champion(client, args.name)
    before = current.version if current else None
    problems = gate.refusals(candidate, current)
    if problems:
        why = "; ".join(problems)
        audit.record(client, args.name, "refuse", before, candidate.version, why)
        print(f"refused: version {candidate.version} of {args.name}: {why}", file=sys.stderr)
        return 1
    client.set_registered_model_alias(args.name, ALIAS, candidate.version)
    why = args.reason or (f"{gate.METRIC} {candidate.tags[gate.METRIC]}, approved by "
                          f"{candidate.tags[gate.APPROVAL]}")
    audit.record(client, args.name, "promote", before, candidate.version, why)
    print(json.dumps({"name": args.name, ALIAS: candidate.version, "previous": before}))
    return 0


def rollback(args: argparse.Namespace) -> int:
    client = MlflowClient()
    served: list[str] = []  # the champions, oldest first, as the moves left them
    for event in audit.events(client, args.name):
        if event["action"] == "promote":
            if not served and event["from"]:
                served.append(event["from"])
            served.append(event["to"])
        elif event["action"] == "rollback":
            served.pop()
    if len(served) < 2:
        print(f"refused: {args.name} has no previous champion to roll back to", file=sys.stderr)
        return 1
    client.set_registered_model_alias(args.name, ALIAS, served[-2])
    audit.record(client, args.name, "rollback", served[-1], served[-2],
                 args.reason or "rolled back to the previous champion")
    print(json.dumps({"name": args.name, ALIAS: served[-2], "previous": served[-1]}))
    return 0


def show_audit(args: argparse.Namespace) -> int:
    for event in audit.events(MlflowClient(), args.name):
        print(json.dumps(event))
    return 0


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
