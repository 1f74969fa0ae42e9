"""The exact types a skops file may hold without ``trust=True``.

skops refuses to build any type it does not trust by default unless the caller lists
it. whybox lists only the names below, each an exact ``module.name`` as
``skops.io.get_untrusted_types`` reports it; nothing is trusted by prefix. Every entry
is a class whose construction from a file's data runs no code from the file, or a
library function that only validates or scores arrays (``SCORE_FUNCTIONS``: the
metrics behind scikit-learn's named scorers). Types whose state holds raw
indices that compiled code follows without bounds checks are listed in
``VALIDATED_TYPES``: their arrays are checked by ``_skops_validate`` before skops
builds them. Types left out on purpose:

- Distance metrics other than euclidean, manhattan, chebyshev and minkowski
  (``SEuclideanDistance64``, ``MahalanobisDistance64``, ``HaversineDistance64``,
  ``PyFuncDistance64``, ...): their weight vectors and matrices are read with the
  data's number of features and are not validated; a ball tree with one needs
  trust. A nearest-neighbours model fitted with ``algorithm="brute"`` holds no tree.
- Any function that can run code or touch files (``builtins.eval``,
  ``numpy.testing.*``, ``os.*``, ...), bound methods and ``operator`` getters.
"""

from __future__ import annotations

from functools import cache

# Classes whose state is checked element by element before skops constructs them.
VALIDATED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # support vectors and dual coefficients of SVMs fitted on sparse data; scipy's
        # compiled sparse code follows indptr and indices without bounds checks
        "scipy.sparse._csr.csr_matrix",
        # nearest-neighbour trees: their whole layout is checked against the one
        # scikit-learn builds for their number of points and leaf_size
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        # their distance metrics; a metric is only allowed inside a tree, whose
        # number of features its weights are checked against
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    }
)

# Attribute types of fitted scikit-learn estimators that are not estimators themselves.
_SKLEARN_INTERNAL_TYPES = frozenset(
    {
        # losses and links of gradient boosting, HGB and GLMs
        "sklearn._loss.link.HalfLogitLink",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.ExponentialLoss",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfGammaLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.HalfTweedieLoss",
        "sklearn._loss.loss.HalfTweedieLossIdentity",
        "sklearn._loss.loss.HuberLoss",
        "sklearn._loss.loss.PinballLoss",
        # histogram gradient boosting
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        # calibration
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # neural networks
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # Gaussian processes
        "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
        "sklearn.gaussian_process.kernels.CompoundKernel",
        "sklearn.gaussian_process.kernels.ConstantKernel",
        "sklearn.gaussian_process.kernels.DotProduct",
        "sklearn.gaussian_process.kernels.ExpSineSquared",
        "sklearn.gaussian_process.kernels.Exponentiation",
        "sklearn.gaussian_process.kernels.Matern",
        "sklearn.gaussian_process.kernels.Product",
        "sklearn.gaussian_process.kernels.RBF",
        "sklearn.gaussian_process.kernels.RationalQuadratic",
        "sklearn.gaussian_process.kernels.Sum",
        "sklearn.gaussian_process.kernels.WhiteKernel",
        # containers
        "sklearn.utils._bunch.Bunch",
        # SplineTransformer
        "scipy.interpolate._bsplines.BSpline",
        "scipy._lib.array_api_compat.numpy._aliases.asarray",
        # HistGradientBoosting with categorical features: partial(check_array, ...)
        "functools.partial",
        "sklearn.utils.validation.check_array",
        # default score functions of the univariate feature selectors (called in fit)
        "sklearn.feature_selection._univariate_selection.chi2",
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.feature_selection._univariate_selection.r_regression",
        "sklearn.feature_selection._mutual_info.mutual_info_classif",
        "sklearn.feature_selection._mutual_info.mutual_info_regression",
        # NumPy types skops leaves to the caller
        "numpy.dtype",
    }
)

# Cross-validation splitters held by searches, CalibratedClassifierCV and stacking:
# plain parameters (numbers, booleans, a seed or RandomState, PredefinedSplit's fold
# array); the repeated splitters also hold the class of the splitter they repeat.
_CV_SPLITTERS = frozenset(
    f"sklearn.model_selection._split.{name}"
    for name in (
        "GroupKFold",
        "GroupShuffleSplit",
        "KFold",
        "LeaveOneGroupOut",
        "LeaveOneOut",
        "LeavePGroupsOut",
        "LeavePOut",
        "PredefinedSplit",
        "RepeatedKFold",
        "RepeatedStratifiedKFold",
        "ShuffleSplit",
        "StratifiedGroupKFold",
        "StratifiedKFold",
        "StratifiedShuffleSplit",
        "TimeSeriesSplit",
    )
)

# Score functions of searches' scorers: the functions behind scikit-learn's named
# scorers (``sklearn.metrics.get_scorer_names``); each only scores arrays.
SCORE_FUNCTIONS = frozenset(
    {
        "sklearn.metrics._scorer.negative_likelihood_ratio",
        "sklearn.metrics._scorer.positive_likelihood_ratio",
    }
    | {
        f"sklearn.metrics._classification.{name}"
        for name in (
            "accuracy_score",
            "balanced_accuracy_score",
            "brier_score_loss",
            "d2_brier_score",
            "d2_log_loss_score",
            "f1_score",
            "jaccard_score",
            "log_loss",
            "matthews_corrcoef",
            "precision_score",
            "recall_score",
        )
    }
    | {
        f"sklearn.metrics._ranking.{name}"
        for name in ("average_precision_score", "roc_auc_score", "top_k_accuracy_score")
    }
    | {
        f"sklearn.metrics._regression.{name}"
        for name in (
            "d2_absolute_error_score",
            "explained_variance_score",
            "max_error",
            "mean_absolute_error",
            "mean_absolute_percentage_error",
            "mean_gamma_deviance",
            "mean_poisson_deviance",
            "mean_squared_error",
            "mean_squared_log_error",
            "median_absolute_error",
            "r2_score",
            "root_mean_squared_error",
            "root_mean_squared_log_error",
        )
    }
    | {
        f"sklearn.metrics.cluster._supervised.{name}"
        for name in (
            "adjusted_mutual_info_score",
            "adjusted_rand_score",
            "completeness_score",
            "fowlkes_mallows_score",
            "homogeneity_score",
            "mutual_info_score",
            "normalized_mutual_info_score",
            "rand_score",
            "v_measure_score",
        )
    }
)

# Scorers of searches (``scorer_``, ``scoring``). A ``_Scorer`` calls its score
# function (one of ``SCORE_FUNCTIONS``) with stored keyword arguments;
# ``_skops_validate`` checks that the function is stored as a function, the sign is 1
# or -1, the keyword arguments are data and the response method names a prediction
# method. ``_PassthroughScorer`` calls the search's own ``score``.
_SCORERS = frozenset(
    {"sklearn.metrics._scorer._PassthroughScorer", "sklearn.metrics._scorer._Scorer"}
)


@cache
def allowed_skops_types() -> frozenset[str]:
    """The exact type names a skops file may hold without ``trust=True``.

    Returns
    -------
    frozenset of str
        Every public scikit-learn estimator class (from
        ``sklearn.utils.all_estimators``, named by its defining module), the
        attribute types listed in ``_SKLEARN_INTERNAL_TYPES``, the cross-validation
        splitters, scorers and score functions (``_CV_SPLITTERS``, ``_SCORERS``,
        ``SCORE_FUNCTIONS``) and ``VALIDATED_TYPES``.
    """
    from sklearn.utils import all_estimators

    estimators = {
        f"{cls.__module__}.{cls.__name__}"
        for _, cls in all_estimators()
        if cls.__module__.startswith("sklearn.")
    }
    return (
        frozenset(estimators)
        | _SKLEARN_INTERNAL_TYPES
        | _CV_SPLITTERS
        | _SCORERS
        | SCORE_FUNCTIONS
        | VALIDATED_TYPES
    )
