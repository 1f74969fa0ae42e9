"""The built-in demo: a gradient-boosted classifier on scikit-learn's breast cancer data."""

from __future__ import annotations

from dataclasses import dataclass

from whybox.datasets._case import TrainTestCase


@dataclass(frozen=True, eq=False)
class DemoCase(TrainTestCase):
    """A fitted model with its training and held-out data.

    Attributes
    ----------
    model : HistGradientBoostingClassifier
        Fitted on ``X_train``; predicts malignant (0) or benign (1).
    X_train, X_test : DataFrame of shape (n, 30)
    y_train, y_test : Series
        The target, named ``target``: 0 malignant, 1 benign.
    class_names : tuple of str
        ``("malignant", "benign")``.
    description : str
    """

    class_names: tuple[str, ...]
    description: str


def load_demo(random_state: int = 0) -> DemoCase:
    """Train the demo model on the breast cancer data bundled with scikit-learn.

    The Wisconsin diagnostic breast cancer data (569 rows, 30 numeric features,
    Street, Wolberg & Mangasarian 1993) ships with scikit-learn, so nothing is
    downloaded. A quarter of the rows, stratified, is held out for the audit.

    Parameters
    ----------
    random_state : int, default=0
        Seeds the split and the model.

    Returns
    -------
    DemoCase

    Examples
    --------
    >>> from whybox.datasets import load_demo
    >>> case = load_demo()
    >>> case.X_test.shape
    (143, 30)
    >>> case.class_names
    ('malignant', 'benign')
    >>> round(float(case.model.score(case.X_test, case.y_test)), 2)
    0.93
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer(as_frame=True)
    X, y = bunch.data, bunch.target.rename("target")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    model = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.1, max_leaf_nodes=15, random_state=random_state
    ).fit(X_train, y_train)
    return DemoCase(
        model=model,
        X_train=X_train.reset_index(drop=True),
        X_test=X_test.reset_index(drop=True),
        y_train=y_train.reset_index(drop=True),
        y_test=y_test.reset_index(drop=True),
        class_names=tuple(str(c) for c in bunch.target_names),
        description=(
            "HistGradientBoostingClassifier trained on scikit-learn's breast cancer data "
            f"({len(X_train)} training rows); audited on {len(X_test)} held-out rows."
        ),
    )
