"""The data contract every batch must keep (see the lab README)."""

from pathlib import Path

import pandas as pd  # noqa: F401  (you will need it)

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
    """Every way the batch at ``path`` breaks the contract (empty when it keeps it).

    TODO: check that the file ends with a line break (one that ends in the middle of a line was
    cut), the columns, that numbers are numbers (whole numbers where INTEGER says so: 12.0 is
    one, 12.5 is not), the ranges, the categories and the empty values (only NULLABLE columns
    may have them).
    Name the column in every problem: the reason file of a quarantined batch is read by people.
    """
    return []
