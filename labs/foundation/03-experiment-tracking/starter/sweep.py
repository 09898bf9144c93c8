"""The sweep, as the team runs it today: every point of the grid, scores printed and lost."""

from sklearn.metrics import accuracy_score, f1_score
from train import build_model, load

GRID = [(n, depth) for n in (20, 40) for depth in (4, 8, 12)]
SEED = 42


def main() -> None:
    X_train, y_train = load("data/train.csv")
    X_valid, y_valid = load("data/valid.csv")
    for n_estimators, max_depth in GRID:
        model = build_model(n_estimators, max_depth, SEED).fit(X_train, y_train)
        predicted = model.predict(X_valid)
        accuracy, f1 = accuracy_score(y_valid, predicted), f1_score(y_valid, predicted)
        print(
            f"n_estimators={n_estimators} max_depth={max_depth} accuracy={accuracy:.4f} f1={f1:.4f}"
        )


if __name__ == "__main__":
    main()
