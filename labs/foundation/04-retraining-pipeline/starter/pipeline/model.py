"""The model: how it is trained and how it is scored on the holdout."""

from pathlib import Path

import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

CATEGORICAL = ["contract", "payment_method", "internet_service"]
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "age"]
FEATURES = CATEGORICAL + NUMERIC
LABEL = "churned"
SEED = 0


def read(paths: list[Path]) -> pd.DataFrame:
    """The rows of several CSV files, one after the other."""
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


def fit(frame: pd.DataFrame) -> Pipeline:
    """A model trained on ``frame`` (same rows, same model: the forest is seeded)."""
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            (SimpleImputer(strategy="median"), NUMERIC),
        ),
        RandomForestClassifier(
            n_estimators=100, max_depth=10, min_samples_leaf=5, random_state=SEED, n_jobs=1
        ),
    )
    return model.fit(frame[FEATURES], frame[LABEL])


def auc(model: Pipeline, frame: pd.DataFrame) -> float:
    """ROC AUC of ``model`` on ``frame`` (the holdout), rounded to 6 places."""
    scores = model.predict_proba(frame[FEATURES])[:, 1]
    return round(float(roc_auc_score(frame[LABEL], scores)), 6)
