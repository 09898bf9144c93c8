"""The team's registry tool: register, promote, rollback and audit models on the MLflow registry
at $MLFLOW_TRACKING_URI."""
