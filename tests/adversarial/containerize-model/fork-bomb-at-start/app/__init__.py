"""HTTP service that serves the breast-cancer classifier trained by ``train.py``."""
