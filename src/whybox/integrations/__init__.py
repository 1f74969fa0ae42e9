"""Integrations with the tools users already work in.

- :mod:`whybox.integrations.mlflow`: :func:`~whybox.integrations.mlflow.log_report` logs an
  audit report (HTML, JSON, SHAP values, key metrics) to an MLflow run.

Each integration imports its library inside its functions only: ``import whybox`` (and
``import whybox.integrations``) imports none of them.
"""

__all__: list[str] = []
