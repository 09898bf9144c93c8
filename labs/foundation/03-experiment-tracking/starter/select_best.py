"""Pick the best run of the sweep and write its id to best_run.json. (To write.)"""


def main() -> None:
    raise SystemExit("select_best.py: not written yet")


if __name__ == "__main__":
    main()
