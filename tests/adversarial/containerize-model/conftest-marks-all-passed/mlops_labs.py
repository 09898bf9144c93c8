"""ATTACK: a module named like the grader's own pytest plugin (``-p mlops_labs``), in case the
submission's folder is ever on the grader's import path."""

from _cheat import confess

confess("mlops_labs.py")
