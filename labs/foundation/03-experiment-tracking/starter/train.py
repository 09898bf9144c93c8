"""The churn model, provided: load the data and build an unfitted pipeline. Do not change it."""

from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

CATEGORICAL = ["contract", "payment_method", "internet_service"]
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "age"]
FEATURES = NUMERIC + CATEGORICAL


def load(path: Path | str) -> tuple[pd.DataFrame, pd.Series]:
    """The feature columns and the churn labels of one CSV."""
    frame = pd.read_csv(path)
    return frame[FEATURES], frame["churned"]


def build_model(n_estimators: int, max_depth: int, seed: int) -> Pipeline:
    """An unfitted pipeline: impute and one-hot encode, then a random forest."""
    encode = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=1
    )
    return Pipeline([("encode", encode), ("forest", forest)])
