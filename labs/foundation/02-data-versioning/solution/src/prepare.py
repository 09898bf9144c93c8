"""Clean the raw churn data and split it into a training set and a holdout (test) set."""

from pathlib import Path

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

RAW = Path("data/raw/churn.csv")
OUT = Path("data/prepared")
CATEGORICAL = ["contract", "payment_method", "internet_service"]


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
    frame = pd.read_csv(RAW).drop(columns=["customer_id"])
    missing = frame["total_charges"].isna()
    frame.loc[missing, "total_charges"] = frame["tenure_months"] * frame["monthly_charges"]
    frame = pd.get_dummies(frame, columns=CATEGORICAL, dtype=int)
    frame = frame.reindex(sorted(frame.columns), axis=1)
    train, test = train_test_split(
        frame,
        test_size=params["test_size"],
        random_state=params["seed"],
        stratify=frame["churned"],
    )
    OUT.mkdir(parents=True, exist_ok=True)
    train.to_csv(OUT / "train.csv", index=False)
    test.to_csv(OUT / "test.csv", index=False)
    print(f"prepared {len(train)} training rows and {len(test)} test rows")


if __name__ == "__main__":
    main()
