"""mlops-labs: hands-on MLOps labs graded by pytest against real tools."""

__version__ = "0.1.0"
