"""ATTACK: Python imports sitecustomize at start-up from its path: proof if the grader's is ours."""

from _cheat import confess

confess("sitecustomize.py")
