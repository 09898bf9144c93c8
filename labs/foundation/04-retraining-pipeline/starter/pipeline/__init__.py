"""A retraining pipeline: new batches in, a model that is never worse out."""
