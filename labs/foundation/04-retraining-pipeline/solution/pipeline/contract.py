"""The data contract every batch must keep (see the lab README)."""

from pathlib import Path

import pandas as pd

INTEGER = {
    "tenure_months": (0, 72),
    "support_calls": (0, 10),
    "age": (18, 90),
    "churned": (0, 1),
}
DECIMAL = {"monthly_charges": (18.0, 120.0), "total_charges": (0.0, None)}
CATEGORIES = {
    "contract": {"month-to-month", "one-year", "two-year"},
    "payment_method": {"card", "bank-transfer", "electronic-check", "mailed-check"},
    "internet_service": {"fiber", "dsl", "none"},
}
COLUMNS = ["customer_id", *INTEGER, *DECIMAL, *CATEGORIES]
NULLABLE = {"total_charges"}


def problems(path: Path) -> list[str]:
    """Every way the batch at ``path`` breaks the contract (empty when it keeps it)."""
    content = path.read_bytes()
    if content and not content.endswith(b"\n"):  # a value cut short can look valid: 56.8
        return ["the file ends in the middle of a line: it was cut while it was being written"]
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        return [f"not a readable CSV file: {error}"]
    found = []
    missing = sorted(set(COLUMNS) - set(frame.columns))
    extra = sorted(set(frame.columns) - set(COLUMNS))
    if missing:
        found.append(f"missing columns: {', '.join(missing)}")
    if extra:
        found.append(f"unexpected columns: {', '.join(extra)}")
    if frame.empty:
        found.append("no rows")
    for column in [c for c in COLUMNS if c in frame.columns]:
        values = frame[column].str.strip()
        empty = values == ""
        if empty.any() and column not in NULLABLE:
            found.append(f"{column}: {int(empty.sum())} empty values")
        present = values[~empty]
        if column in INTEGER or column in DECIMAL:
            numbers = pd.to_numeric(present, errors="coerce")
            if numbers.isna().any():
                bad = present[numbers.isna()].iloc[0]
                count = int(numbers.isna().sum())
                found.append(f"{column}: {count} values are not numbers, e.g. {bad!r}")
                continue
            low, high = INTEGER.get(column) or DECIMAL[column]
            if column in INTEGER and (numbers != numbers.round()).any():
                found.append(f"{column}: values that are not whole numbers")
            outside = (numbers < low) | (numbers > high if high is not None else False)
            if outside.any():
                found.append(
                    f"{column}: {int(outside.sum())} values outside [{low}, {high}], "
                    f"e.g. {numbers[outside].iloc[0]}"
                )
        elif column in CATEGORIES:
            unknown = sorted(set(present) - CATEGORIES[column])
            if unknown:
                found.append(f"{column}: unknown values {unknown[:3]}")
    return found
