"""The raw side of ``bench/grade_vs_raw.py``: one module per lab, named for its grader package.

Each module has ``LAB`` (the lab id) and ``run(raw: Raw) -> None``: by hand, with no harness
around it, the work a grading of that lab's reference needs (the same builds, containers,
commands and probes, the same number of times), in a fresh ``raw.work`` folder.
"""
