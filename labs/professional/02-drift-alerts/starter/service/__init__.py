"""The loan-default scoring service of lab professional/02-drift-alerts."""
