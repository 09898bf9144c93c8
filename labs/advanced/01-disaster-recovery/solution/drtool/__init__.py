"""Back up and restore an MLflow registry: its SQLite database and its artifact store."""
