"""The command line: ``python -m drtool backup|restore|prune``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drtool.backup import create_backup
from drtool.manifest import BackupRefused
from drtool.restore import restore_backup
from drtool.retention import prune


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; 1 when a backup is refused."""
    parser = argparse.ArgumentParser(prog="python -m drtool")
    commands = parser.add_subparsers(dest="command", required=True)

    backup = commands.add_parser("backup", help="back up the database and the artifacts")
    backup.add_argument("--db", type=Path, required=True, help="the registry's SQLite file")
    backup.add_argument("--artifacts", type=Path, required=True, help="the artifact store")
    backup.add_argument("--dest", type=Path, required=True, help="BACKUP_ROOT")

    restore = commands.add_parser("restore", help="verify a backup, then restore it")
    restore.add_argument("backup", type=Path, help="a backup folder")
    restore.add_argument("--db", type=Path, required=True, help="where the database goes")
    restore.add_argument("--artifacts", type=Path, required=True, help="where the artifacts go")

    retention = commands.add_parser("prune", help="keep the newest backups, delete older ones")
    retention.add_argument("root", type=Path, help="BACKUP_ROOT")
    retention.add_argument("--keep", type=int, required=True, help="how many backups to keep")

    args = parser.parse_args(argv)
    try:
        if args.command == "backup":
            print(create_backup(args.db, args.artifacts, args.dest))
        elif args.command == "restore":
            restore_backup(args.backup, args.db, args.artifacts)
            print(f"restored {args.backup} into {args.db} and {args.artifacts}")
        else:
            for deleted in prune(args.root, args.keep):
                print(f"deleted {deleted}")
    except BackupRefused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
