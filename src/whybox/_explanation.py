"""The one result type of every attribution method: :class:`Explanation`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from whybox._exceptions import InputError
from whybox._utils import (
    Result,
    from_json_array,
    from_json_number,
    is_dask_collection,
    json_value,
)

OUTPUT_SPACES = ("raw", "probability", "log_odds")

_AXES_TABULAR = ("samples", "features", "outputs")
_AXES_INTERACTIONS = ("samples", "features", "features", "outputs")
# Every axis that is not one of these is an input (feature) axis: "features" for tables,
# e.g. "channels", "height", "width" for images explained by gradient methods.
_NON_FEATURE_AXES = ("samples", "outputs")


@dataclass(frozen=True, eq=False)
class Explanation(Result):
    """Attributions of model outputs to input features, with everything needed to check them.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_features, n_outputs), float64
        The attribution of each output to each feature (SHAP values for the Shapley
        explainers), in the output space named by ``output_space``. Interaction values
        have shape (n_samples, n_features, n_features, n_outputs). Gradient methods on
        images or sequences keep the input's shape: (n_samples, *input_shape, n_outputs),
        with axes such as ("samples", "channels", "height", "width", "outputs"). A
        single-output model keeps a length-1 output axis.
    base_values : ndarray of shape (n_samples, n_outputs), float64
        The base value: the expected model output over the background (or, for
        path-dependent TreeSHAP, over the training data the trees saw).
    data : ndarray of shape (n_samples, n_features) or (n_samples, *input_shape), or None
        The explained rows as given (float64, or object when a column holds text).
    feature_names : tuple of str
        One name per feature (or feature group); empty when the input axes are not
        named per entry (images).
    output_names : tuple of str
        One name per output: the class names for classifiers, the target name otherwise.
    output_space : {"raw", "probability", "log_odds"}
        What the values add up to: the raw model output (the margin, which is the
        log-odds for gradient-boosted classifiers), the probability, or the log-odds.
    method : str
        The method that produced the values, e.g. ``"tree_path_dependent"``.
    params : dict
        Everything needed to reproduce the values (the method's parameters,
        ``random_state``, the number of background rows, the whybox version).
    model_output : ndarray of shape (n_samples, n_outputs) or None
        The model's own output for the explained rows in ``output_space``; with it
        the explanation reports its ``additivity_error``.
    axes : tuple of str
        The names of the axes of ``values``; slicing with an integer drops an axis.
        Every axis other than "samples" and "outputs" is a feature (input) axis.
    quality : dict
        Quality figures of the estimate, e.g. ``"standard_error"``: an array shaped
        like ``values`` (sliced with them) for sampling estimators, or ``"local_r2"``:
        an array shaped like ``base_values`` (sliced with them) for local surrogates.
        Other entries are kept whole when slicing.

    Notes
    -----
    Local accuracy (Lundberg & Lee, 2017): ``values.sum(feature axes) + base_values``
    equals the model output. ``additivity_error`` measures the departure per sample.

    Indexing follows numpy on the sample axis and accepts names on the feature and
    output axes: ``ex[0]``, ``ex[:, "age"]``, ``ex[:, :, "malignant"]``,
    ``ex[:, ["age", "income"]]``.

    An explainer given a dask collection returns a lazy Explanation: ``values``,
    ``base_values``, ``data`` and ``model_output`` are dask arrays with the input's row
    chunks (checked by shape only, nothing is computed). :meth:`compute` returns the
    in-memory Explanation and :meth:`to_parquet` writes the values from the workers;
    ``additivity_error`` stays lazy, ``global_importance`` computes its reduction, and
    ``to_frame`` and ``to_dict`` ask for :meth:`compute` first.
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray | None
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    output_space: str = "raw"
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    model_output: np.ndarray | None = None
    axes: tuple[str, ...] = _AXES_TABULAR
    quality: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = _as_array(self.values, np.float64)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "feature_names", tuple(str(f) for f in self.feature_names))
        object.__setattr__(self, "output_names", tuple(str(o) for o in self.output_names))
        object.__setattr__(self, "base_values", _as_array(self.base_values, np.float64))
        if self.model_output is not None:
            object.__setattr__(self, "model_output", _as_array(self.model_output, np.float64))
        if self.data is not None:
            object.__setattr__(self, "data", _as_array(self.data, None))
        if values.ndim != len(self.axes):
            raise InputError(
                f"values has {values.ndim} dimensions but axes names {len(self.axes)} "
                f"({self.axes}); give values of shape matching the axes."
            )
        if self.output_space not in OUTPUT_SPACES:
            raise InputError(
                f"output_space must be one of {OUTPUT_SPACES}, got {self.output_space!r}."
            )
        for axis, size in zip(self.axes, values.shape, strict=True):
            names = {"features": self.feature_names, "outputs": self.output_names}.get(axis)
            if names is not None and len(names) != size:
                raise InputError(
                    f"values has {size} entries on its {axis} axis but {len(names)} "
                    f"{axis[:-1]} names were given; give one name per entry."
                )
        expected_base = tuple(
            s for a, s in zip(self.axes, values.shape, strict=True) if a in _NON_FEATURE_AXES
        )
        if self.base_values.shape != expected_base:
            raise InputError(
                f"base_values must have shape {expected_base}, got {self.base_values.shape}."
            )

    # ------------------------------------------------------------------ shape helpers
    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``values``."""
        return self.values.shape

    def __len__(self) -> int:
        if "samples" not in self.axes:
            raise TypeError("this Explanation holds a single sample and has no length")
        return self.values.shape[0]

    @property
    def is_lazy(self) -> bool:
        """Whether the values are a dask array (not computed yet); see :meth:`compute`."""
        return is_dask_collection(self.values)

    def _lazy_fields(self) -> dict[str, Any]:
        """The dask arrays among the fields (quality entries keyed ``quality:<name>``)."""
        fields = {
            name: getattr(self, name) for name in ("values", "base_values", "data", "model_output")
        }
        fields.update({f"quality:{k}": v for k, v in self.quality.items()})
        return {k: v for k, v in fields.items() if is_dask_collection(v)}

    def compute(self) -> Explanation:
        """The in-memory Explanation of a lazy (dask) one.

        Returns
        -------
        Explanation
            The same Explanation with every dask array (``values``, ``base_values``,
            ``data``, ``model_output``, ``quality`` arrays) computed to an ndarray, all
            in one ``dask.compute`` on the active scheduler; ``self`` when nothing is
            lazy.
        """
        lazy = self._lazy_fields()
        if not lazy:
            return self
        import dask

        # no low-level fusion: a chunk's explanation task feeds several fields, and fusing
        # it into one field's tasks when fewer are asked for would give the same output keys
        # other tasks on the scheduler (dask/dask#9888)
        with dask.config.set({"optimization.fuse.active": False}):
            done = dict(zip(lazy, dask.compute(*lazy.values()), strict=True))
        quality = {k: done.get(f"quality:{k}", v) for k, v in self.quality.items()}
        fields = {k: v for k, v in done.items() if not k.startswith("quality:")}
        return replace(self, **fields, quality=quality)

    def _require_computed(self, what: str) -> None:
        if self.is_lazy:
            raise InputError(
                f"{what} needs the values in memory but this Explanation holds dask arrays; "
                "call .compute() first (or write it with .to_parquet(path))."
            )

    @property
    def _feature_axes(self) -> tuple[int, ...]:
        return tuple(i for i, a in enumerate(self.axes) if a not in _NON_FEATURE_AXES)

    @property
    def additivity_error(self) -> np.ndarray:
        """Largest absolute local-accuracy error per sample.

        Returns
        -------
        ndarray of shape (n_samples,) (a scalar for a single sample)
            ``max over outputs |values.sum(features) + base_values - model_output|``,
            in ``output_space``. For interaction values the sum runs over both
            feature axes. NaN when the model output was not recorded.
        """
        total = self.values.sum(axis=self._feature_axes) + self.base_values
        if self.model_output is None:
            return np.full(total.shape[:-1] if "outputs" in self.axes else total.shape, np.nan)
        err = np.abs(total - self.model_output)
        return err.max(axis=-1) if "outputs" in self.axes else err

    # ------------------------------------------------------------------ slicing
    def _resolve(self, axis: str, key: Any, size: int) -> Any:
        names = {"features": self.feature_names, "outputs": self.output_names}.get(axis)
        if isinstance(key, str):
            return self._name_to_index(axis, key, names)
        if isinstance(key, (list, tuple)) and any(isinstance(k, str) for k in key):
            return np.array([self._name_to_index(axis, k, names) for k in key], dtype=np.intp)
        if isinstance(key, (int, np.integer)):
            if not -size <= key < size:
                raise IndexError(f"index {key} is out of range for the {axis} axis of size {size}")
            return int(key) % size
        if isinstance(key, slice):
            return key
        arr = np.asarray(key)
        if arr.dtype == bool:
            if arr.shape != (size,):
                raise IndexError(
                    f"a boolean mask on the {axis} axis must have length {size}, got {arr.shape}"
                )
            return np.flatnonzero(arr)
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
            return arr.astype(np.intp)
        raise IndexError(f"cannot index the {axis} axis with {key!r}")

    def _name_to_index(self, axis: str, key: str, names: tuple[str, ...] | None) -> int:
        if names is None:
            raise IndexError(f"the {axis} axis is indexed by position, not by name ({key!r})")
        try:
            return names.index(key)
        except ValueError:
            raise KeyError(
                f"{key!r} is not one of the {axis} names; choose from {list(names)[:20]}"
            ) from None

    def __getitem__(self, key: Any) -> Explanation:
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) > len(self.axes):
            raise IndexError(f"too many indices: this Explanation has axes {self.axes}")
        key = key + (slice(None),) * (len(self.axes) - len(key))
        resolved = [
            self._resolve(a, k, s)
            for a, k, s in zip(self.axes, key, self.values.shape, strict=True)
        ]

        def take(arr: np.ndarray | None, arr_axes: tuple[str, ...]) -> np.ndarray | None:
            if arr is None:
                return None
            out = arr
            # Index from the last axis to the first so positions stay valid as axes drop.
            used_first_feature = False
            picks = []
            for ax_name in arr_axes:
                if ax_name == "features" and used_first_feature:
                    picks.append(None)
                    continue
                used_first_feature |= ax_name == "features"
                picks.append(resolved[self.axes.index(ax_name)])
            for pos in range(len(arr_axes) - 1, -1, -1):
                idx = picks[pos]
                if idx is None:
                    continue
                if isinstance(idx, slice):
                    out = out[(slice(None),) * pos + (idx,)]
                else:
                    out = np.take(out, idx, axis=pos)
            return out

        def take_all(arr: np.ndarray) -> np.ndarray:
            # every axis has its own index (interaction feature axes both use theirs)
            for pos in range(len(self.axes) - 1, -1, -1):
                idx = resolved[pos]
                if isinstance(idx, slice):
                    arr = arr[(slice(None),) * pos + (idx,)]
                else:
                    arr = np.take(arr, idx, axis=pos)
            return arr

        values = take_all(self.values)
        base_axes = tuple(a for a in self.axes if a in _NON_FEATURE_AXES)

        def take_quality(v: Any) -> Any:
            # per-value figures (standard errors) follow the values; per-sample-and-output
            # figures (a surrogate's local R^2) follow the base values
            if not isinstance(v, np.ndarray):
                return v
            if v.shape == self.values.shape:
                return take_all(v)
            if v.shape == self.base_values.shape:
                return take(v, base_axes)
            return v

        quality = {k: take_quality(v) for k, v in self.quality.items()}
        data_axes = tuple(a for a in dict.fromkeys(self.axes) if a != "outputs")
        out_axes = base_axes
        new_axes = tuple(
            a
            for a, r in zip(self.axes, resolved, strict=True)
            if not isinstance(r, (int, np.integer))
        )
        feat_res = resolved[self.axes.index("features")] if "features" in self.axes else None
        feature_names = _pick_names(self.feature_names, feat_res)
        out_res = resolved[self.axes.index("outputs")] if "outputs" in self.axes else None
        output_names = _pick_names(self.output_names, out_res)
        n_feat_axes = sum(a == "features" for a in self.axes)
        if n_feat_axes == 2 and isinstance(feat_res, int) and "features" in new_axes:
            # ex[:, "age"] on interaction values: keep the second feature axis' names.
            feature_names = self.feature_names
            second = resolved[self._feature_axes[1]]
            if not isinstance(second, int):
                feature_names = tuple(np.asarray(self.feature_names, dtype=object)[second])
        return replace(
            self,
            values=values,
            base_values=take(self.base_values, base_axes),
            data=take(self.data, data_axes),
            model_output=take(self.model_output, out_axes),
            feature_names=feature_names,
            output_names=output_names,
            axes=new_axes,
            quality=quality,
        )

    # ------------------------------------------------------------------ summaries
    def global_importance(self) -> pd.DataFrame:
        """Mean absolute SHAP value of each feature, the usual global importance.

        Returns
        -------
        DataFrame of shape (n_features, n_outputs)
            Index: feature names; columns: output names; sorted by the mean over
            outputs, largest first. Units: those of ``output_space``.
        """
        if self.axes != _AXES_TABULAR:
            raise InputError(
                f"global_importance needs an Explanation with axes {_AXES_TABULAR}, "
                f"got {self.axes}; slice the outputs or samples back in first."
            )
        imp = np.abs(self.values).mean(axis=0)
        if is_dask_collection(imp):  # a reduction on the cluster: (n_features, n_outputs)
            import dask

            with dask.config.set({"optimization.fuse.active": False}):  # as in compute()
                imp = imp.compute()
        frame = pd.DataFrame(imp, index=list(self.feature_names), columns=list(self.output_names))
        order = np.argsort(-imp.mean(axis=1), kind="stable")
        return frame.iloc[order]

    def to_frame(self) -> pd.DataFrame:
        """The values as a tidy table, one row per (sample, feature, output).

        Returns
        -------
        DataFrame
            Columns ``sample``, ``feature``, ``output``, ``value`` (the attribution),
            ``feature_value`` (the explained row's value, when data is known) and
            ``base_value``. Only for tabular explanations with all three axes.
        """
        if self.axes != _AXES_TABULAR:
            raise InputError(
                f"to_frame needs an Explanation with axes {_AXES_TABULAR}, got {self.axes}."
            )
        self._require_computed("to_frame")
        n, d, k = self.values.shape
        frame = pd.DataFrame(
            {
                "sample": np.repeat(np.arange(n), d * k),
                "feature": np.tile(np.repeat(np.asarray(self.feature_names, dtype=object), k), n),
                "output": np.tile(np.asarray(self.output_names, dtype=object), n * d),
                "value": self.values.reshape(-1),
            }
        )
        if self.data is not None:
            frame["feature_value"] = np.repeat(self.data.reshape(-1), k)
        frame["base_value"] = np.repeat(self.base_values, d, axis=0).reshape(-1)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (arrays as nested lists).

        Raises
        ------
        InputError
            If the Explanation is lazy (dask arrays): call :meth:`compute` first.
        """
        self._require_computed("to_dict")

        def arr(a: np.ndarray | None) -> Any:
            if a is None:
                return None
            return json_value(a) if a.dtype != object else np.vectorize(str)(a).tolist()

        return {
            "values": arr(self.values),
            "base_values": arr(self.base_values),
            "data": arr(self.data),
            "feature_names": list(self.feature_names),
            "output_names": list(self.output_names),
            "output_space": self.output_space,
            "method": self.method,
            "params": json_value(self.params),
            "model_output": arr(self.model_output),
            "axes": list(self.axes),
            "quality": json_value(self.quality),
        }

    def to_parquet(self, path: Any) -> None:
        """Write one row per explained row to Parquet.

        Parameters
        ----------
        path : str or path-like
            Where to write. A lazy (dask) Explanation is written by the workers as a
            folder of ``part.<i>.parquet`` files, one per row chunk, without gathering
            the values here; an in-memory one is written by pandas as one file. Both
            are read back whole by ``pandas.read_parquet(path)``.

        Notes
        -----
        The columns: ``row`` (int64, the row's position in the explained input,
        0-based), then ``shap:<feature>`` for each feature (float64, the attribution
        in ``output_space``, whatever the method), ``base_value`` and, when recorded,
        ``model_output``. With several outputs every column but ``row`` is written
        once per output with the suffix ``:<output name>``, outputs varying fastest
        within a feature: ``shap:age:yes``, ``shap:age:no``, ...,
        ``base_value:yes``, ``base_value:no``.

        Raises
        ------
        InputError
            If the Explanation is not tabular (axes other than ("samples",
            "features", "outputs"), e.g. interaction values).
        """
        if self.axes != _AXES_TABULAR:
            raise InputError(
                f"to_parquet needs an Explanation with axes {_AXES_TABULAR}, got {self.axes}; "
                "write interaction values with numpy (np.save) or sum them to SHAP values."
            )
        names = _parquet_columns(self.feature_names, self.output_names)
        parts = [self.values, self.base_values]
        if self.model_output is not None:
            parts.append(self.model_output)
        if not self.is_lazy:
            _parquet_frame(0, names, *parts).to_parquet(path, index=False)
            return
        import dask
        import dask.dataframe as dd

        # every field in blocks of the values' row chunks, whole along the other axes
        rows = self.values.chunks[0]
        blocks = [
            p.rechunk((rows, *((-1,) * (p.ndim - 1)))).to_delayed(optimize_graph=False)
            for p in parts
        ]
        starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
        frames = [
            dask.delayed(_parquet_frame, pure=True)(
                int(start), names, *(b[(i,) + (0,) * (b.ndim - 1)] for b in blocks)
            )
            for i, start in enumerate(starts)
        ]
        meta = _parquet_frame(0, names, *(np.empty((0, *p.shape[1:])) for p in parts))
        with dask.config.set({"optimization.fuse.active": False}):  # as in compute()
            frame = dd.from_delayed(frames, meta=meta, verify_meta=False)
            frame.to_parquet(path, write_index=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Explanation:
        """Rebuild an Explanation from :meth:`to_dict` output (or parsed JSON)."""
        data = d.get("data")
        return cls(
            values=from_json_array(d["values"], np.float64),
            base_values=from_json_array(d["base_values"], np.float64),
            data=None if data is None else from_json_array(data),
            feature_names=tuple(d["feature_names"]),
            output_names=tuple(d["output_names"]),
            output_space=d["output_space"],
            method=d.get("method", ""),
            params=dict(d.get("params", {})),
            model_output=None
            if d.get("model_output") is None
            else from_json_array(d["model_output"], np.float64),
            axes=tuple(d.get("axes", _AXES_TABULAR)),
            quality={
                k: from_json_array(v, np.float64)
                if isinstance(v, list)
                else (from_json_number(v) if isinstance(v, str) and v in ("inf", "-inf") else v)
                for k, v in d.get("quality", {}).items()
            },
        )

    # ------------------------------------------------------------------ shap bridge
    def to_shap(self, target: Any = None) -> Any:
        """The values as a ``shap.Explanation``, so that ``shap.plots.*`` draw them.

        Parameters
        ----------
        target : int, str or None, default=None
            Which output: an output position or name. ``None`` keeps every output:
            a single-output Explanation (regression, a binary margin) gives shap's
            single-output layout, several outputs give shap's multi-output layout.

        Returns
        -------
        shap.Explanation
            ``values`` of shape (n_samples, n_features) for one output or
            (n_samples, n_features, n_outputs) for several (float64), ``base_values``
            of shape (n_samples,) or (n_samples, n_outputs), ``data`` (n_samples,
            n_features) as recorded (None if not), ``feature_names`` (list of str) and,
            for several outputs, ``output_names`` (list of str; shap's single-output
            layout has none, so give it back to :meth:`from_shap`). A single-sample
            Explanation (``ex[0]``) drops the sample axis, as shap does, which is what
            ``shap.plots.waterfall`` takes. The output space is not part of a
            shap.Explanation; it stays ``self.output_space``.

        Raises
        ------
        InputError
            If the Explanation is lazy (call :meth:`compute` first), holds interaction
            values or image-shaped (gradient) values, whose feature axes shap's tabular
            plots cannot read, or ``target`` names no output.
        """
        self._require_computed("to_shap")
        if self.axes not in (_AXES_TABULAR, _AXES_TABULAR[1:]):
            raise InputError(
                f"to_shap needs an Explanation with axes {_AXES_TABULAR} (or one sample of "
                f"them), got {self.axes}; sum interaction values over one feature axis, and "
                "draw image attributions with whybox.plots."
            )
        import shap

        ex = self
        if target is not None:  # a one-entry list keeps the output axis, dropped below
            ex = self[(slice(None),) * (len(self.axes) - 1) + ([self._output_position(target)],)]
        values, base = ex.values, ex.base_values
        output_names: Any = list(ex.output_names)
        if ex.axes[-1] == "outputs" and values.shape[-1] == 1:  # shap's single-output layout
            values, base = values[..., 0], base[..., 0]
            output_names = None  # shap's single-output layout names no output
        data = None if ex.data is None else np.array(ex.data, copy=True)
        return shap.Explanation(
            values=np.array(values, dtype=np.float64, copy=True),
            base_values=np.float64(base) if base.ndim == 0 else np.array(base, dtype=np.float64),
            data=data,
            feature_names=list(ex.feature_names),
            output_names=output_names,
        )

    def _output_position(self, target: Any) -> int:
        """The position of output ``target`` (a position or an output name)."""
        n = len(self.output_names)
        if isinstance(target, str) and target in self.output_names:
            return self.output_names.index(target)
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            if -n <= target < n:
                return int(target) % n
        raise InputError(
            f"target must be an output position in [0, {n}) or one of the output names "
            f"{list(self.output_names)[:10]}, got {target!r}; pick one of those."
        )

    @classmethod
    def from_shap(
        cls, explanation: Any, *, output: str = "raw", output_names: Any = None
    ) -> Explanation:
        """An Explanation from a ``shap.Explanation`` (the inverse of :meth:`to_shap`).

        Parameters
        ----------
        explanation : shap.Explanation
            Values of shape (n_features,) (one sample), (n_samples, n_features) (one
            output) or (n_samples, n_features, n_outputs), with base values of shape
            (), (n_samples,) or (n_samples, n_outputs) (a scalar is repeated per
            sample).
        output : {"raw", "probability", "log_odds"}, default="raw"
            The output space the values are in (shap does not record it).
        output_names : sequence of str, optional
            One name per output, used when ``explanation`` names none (shap's
            single-output layout); default: ``explanation.output_names``, else
            ``"output 0"``, ...

        Returns
        -------
        Explanation
            Axes ("samples", "features", "outputs") (("features", "outputs") for one
            sample); a single-output shap.Explanation gets a length-1 output axis.
            Names missing in ``explanation`` (and not given) become ``"feature 0"``,
            ... and ``"output 0"``, ...; ``method`` is ``"shap"``.

        Raises
        ------
        InputError
            If ``explanation`` is not a shap.Explanation or its values have another
            number of dimensions (e.g. interaction values).
        """
        values = getattr(explanation, "values", None)
        if (
            values is None
            or not hasattr(explanation, "base_values")
            or type(explanation).__name__ != "Explanation"
        ):
            raise InputError(
                "explanation must be a shap.Explanation, got "
                f"{type(explanation).__name__}; pass what a shap explainer returns."
            )
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2, 3):
            raise InputError(
                "explanation.values must have 1, 2 or 3 dimensions (sample, feature, "
                f"output), got shape {values.shape}; sum interaction values over one "
                "feature axis first."
            )
        single_sample = values.ndim == 1 or (values.ndim == 2 and _one_sample(explanation, values))
        if single_sample:
            values = values[None]
        multi = values.ndim == 3
        if not multi:
            values = values[..., None]
        n, d, k = values.shape
        base = np.asarray(explanation.base_values, dtype=np.float64)
        base = np.broadcast_to(base.reshape(-1, k) if base.size == n * k else base, (n, k))
        data = None if explanation.data is None else np.asarray(explanation.data)
        if data is not None:
            data = data.reshape(n, -1)
        feature_names = explanation.feature_names
        if feature_names is None or len(feature_names) != d:
            feature_names = [f"feature {j}" for j in range(d)]
        if output_names is None:
            output_names = explanation.output_names
        if isinstance(output_names, str):
            output_names = [output_names]
        if output_names is None or len(output_names) != k:
            output_names = [f"output {j}" for j in range(k)]
        ex = cls(
            values=values,
            base_values=np.array(base),
            data=data,
            feature_names=tuple(feature_names),
            output_names=tuple(output_names),
            output_space=output,
            method="shap",
        )
        return ex[0] if single_sample else ex

    def _repr_html_(self) -> str:
        """What a notebook shows: shape, method, output space, base value, and the top
        features by mean absolute value (escaped text, no script, bounded size)."""
        import html

        def esc(v: Any) -> str:
            text = str(v)
            return html.escape(text if len(text) <= 100 else text[:99] + "\u2026")

        outputs = ", ".join(esc(o) for o in self.output_names[:5])
        if len(self.output_names) > 5:
            outputs += f", ... ({len(self.output_names)} outputs)"
        lines = [
            f"method <code>{esc(self.method or '?')}</code>",
            f"shape <code>{esc(self.values.shape)}</code>, axes <code>{esc(self.axes)}</code>",
            f"output space <code>{esc(self.output_space)}</code>, outputs: {outputs}",
        ]
        if self.is_lazy:
            lines.append("lazy (dask): <code>.compute()</code> to see the values")
            return "<p><b>Explanation</b></p><p>" + "<br>".join(lines) + "</p>"
        base = np.asarray(self.base_values, dtype=np.float64)
        per_output = base.reshape(-1, base.shape[-1]).mean(axis=0) if base.ndim else base[None]
        mean_note = " (mean over samples)" if "samples" in self.axes else ""
        shown = ", ".join(f"{v:.4g}" for v in per_output[:5])
        lines.append(f"base value{mean_note}: <code>{esc(shown)}</code>")
        if self.model_output is not None:
            err = float(np.max(self.additivity_error, initial=0.0))
            lines.append(f"max additivity error: <code>{err:.3g}</code>")
        out = "<p><b>Explanation</b></p><p>" + "<br>".join(lines) + "</p>"
        table = self._top_features()
        if table is not None:
            out += f"<p>Top features by mean |value| (of {len(table)}):</p>"
            out += self._html_table(table, max_rows=10)
        return out

    def _top_features(self) -> pd.DataFrame | None:
        """Mean |value| per feature and output, largest first; None for axes other than
        (samples,) features, outputs (images, interactions)."""
        if self.axes not in (_AXES_TABULAR, _AXES_TABULAR[1:]):
            return None
        values = self.values if self.axes == _AXES_TABULAR else self.values[None]
        imp = np.abs(values).mean(axis=0)
        frame = pd.DataFrame(imp, index=list(self.feature_names), columns=list(self.output_names))
        frame = frame.iloc[np.argsort(-imp.mean(axis=1), kind="stable")]
        frame.index.name = "feature"
        return frame

    def __repr__(self) -> str:
        return (
            f"Explanation(method={self.method!r}, axes={self.axes}, shape={self.values.shape}, "
            f"output_space={self.output_space!r}, outputs={list(self.output_names)[:5]})"
        )


def _one_sample(e: Any, values: np.ndarray) -> bool:
    """Whether 2-D shap values are one sample's (n_features, n_outputs), not
    (n_samples, n_features): the data is one row, or (without data) the feature names
    count the first axis."""
    if e.data is not None:
        return np.ndim(e.data) == 1
    names = e.feature_names
    return names is not None and len(names) == values.shape[0] != values.shape[1]


def _as_array(a: Any, dtype: Any) -> Any:
    """``a`` as an ndarray of ``dtype``; a dask array is kept lazy (cast lazily)."""
    if is_dask_collection(a):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    return np.asarray(a, dtype=dtype)


def _parquet_columns(
    feature_names: tuple[str, ...], output_names: tuple[str, ...]
) -> dict[str, list[str]]:
    """The column names of :meth:`Explanation.to_parquet` for each written field."""
    suffix = [""] if len(output_names) == 1 else [f":{o}" for o in output_names]
    return {
        "values": [f"shap:{f}{s}" for f in feature_names for s in suffix],
        "base_values": [f"base_value{s}" for s in suffix],
        "model_output": [f"model_output{s}" for s in suffix],
    }


def _parquet_frame(
    start: int,
    names: dict[str, list[str]],
    values: np.ndarray,
    base_values: np.ndarray,
    model_output: np.ndarray | None = None,
) -> pd.DataFrame:
    """One block of rows of :meth:`Explanation.to_parquet`, its first row at ``start``."""
    n = values.shape[0]
    columns: dict[str, Any] = {"row": np.arange(start, start + n, dtype=np.int64)}
    fields = [("values", values), ("base_values", base_values)]
    if model_output is not None:
        fields.append(("model_output", model_output))
    for field_name, arr in fields:
        flat = np.asarray(arr, dtype=np.float64).reshape(n, int(np.prod(arr.shape[1:])))
        columns.update(zip(names[field_name], flat.T, strict=True))
    return pd.DataFrame(columns)


def _pick_names(names: tuple[str, ...], picked: Any) -> tuple[str, ...]:
    """The names kept by an axis's resolved index (None keeps all, an int keeps one)."""
    if picked is None:
        return names
    if isinstance(picked, int):
        return (names[picked],)
    return tuple(np.asarray(names, dtype=object)[picked])
