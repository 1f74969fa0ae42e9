"""The ``whybox`` command line: argument parsing only; the work is library calls.

Bad input prints one line on stderr and exits with status 2; an existing report is
never replaced by a broken one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from whybox._exceptions import InputError


def _parse_rows(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"--rows must be comma-separated row numbers such as 0,17, got {value!r}."
        ) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="whybox")
def cli() -> None:
    """whybox: explain, debug and audit machine-learning models."""


@cli.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(),
    help="Saved model: .skops, XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm, PyTorch .pt2 (or .pkl/.joblib/.pt with --trust-model-file).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(),
    help="Labelled data: .csv or .parquet, one row per example (.npz of images and labels for a PyTorch model).",
)
@click.option("--target", help="Name of the target column in --data (the labels array of an .npz).")
@click.option("--rows", help="Rows to explain one by one, e.g. 0,17 (default: chosen for you).")
@click.option(
    "--out",
    default="report.html",
    show_default=True,
    type=click.Path(),
    help="Where to write the HTML report; the JSON goes beside it.",
)
@click.option(
    "--demo",
    is_flag=False,
    flag_value="breast-cancer",
    default=None,
    type=click.Choice(["breast-cancer", "credit", "digits"]),
    help="Audit a built-in demo: breast-cancer (gradient boosting; the default when no "
    "value is given), credit (synthetic loans with a planted proxy bias, audited for "
    "fairness by 'group') or digits (a PyTorch CNN, needs torch).",
)
@click.option(
    "--sensitive",
    multiple=True,
    help="A column of --data holding a sensitive attribute (repeat for several): the report "
    "gains a Fairness section. A column the model was not fitted on is left out of its input.",
)
@click.option(
    "--trust-model-file",
    is_flag=True,
    help="Load pickle/joblib files, which run code when loaded. Only for files you trust.",
)
@click.option(
    "--seed", default=0, show_default=True, help="random_state for every stochastic step."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def audit(
    model_path: str | None,
    data_path: str | None,
    target: str | None,
    rows: str | None,
    out: str,
    demo: str | None,
    sensitive: tuple[str, ...],
    trust_model_file: bool,
    seed: int,
    quiet: bool,
) -> None:
    """Audit a model on a labelled dataset and write one self-contained HTML report."""
    from whybox.io import check_output_path, load_data, load_model
    from whybox.report import audit as run_audit
    from whybox.report._audit_images import is_torch_model

    out_path = check_output_path(out)
    row_list = _parse_rows(rows)
    if demo:
        if model_path or data_path or target or sensitive:
            raise InputError(
                "--demo takes no --model, --data, --target or --sensitive; drop them or --demo."
            )
        from whybox.datasets import load_credit, load_demo, load_digits_cnn

        loader = {"digits": load_digits_cnn, "credit": load_credit}.get(demo, load_demo)
        case = loader(random_state=seed)
        report = run_audit(
            case.model, case.X_test, case.y_test, rows=row_list, class_names=case.class_names,
            random_state=seed, progress=not quiet, source=case.description,
            sensitive=case.group_test if demo == "credit" else None,
        )  # fmt: skip
    else:
        missing = [
            name
            for name, v in (("--model", model_path), ("--data", data_path), ("--target", target))
            if not v
        ]
        if missing:
            raise InputError(
                f"whybox audit needs {', '.join(missing)}; give them, or --demo for the demo."
            )
        model = load_model(model_path, trust=trust_model_file)
        source = f"model {Path(model_path).name}, data {Path(data_path).name}, target {target}"
        if is_torch_model(model):
            if sensitive:
                raise InputError(
                    "--sensitive applies to tabular data; a PyTorch image model has no columns "
                    "to audit for fairness."
                )
            X, y = _image_arrays(data_path, target)
            report = run_audit(
                model, X, y, rows=row_list, random_state=seed, progress=not quiet, source=source
            )
            _save(report, out_path)
            return
        frame = load_data(data_path)
        if target not in frame.columns:
            raise InputError(
                f"--target {target!r} is not a column of {Path(data_path).name}; its columns "
                f"are {list(map(str, frame.columns))[:10]}."
            )
        y = frame[target]
        X = frame.drop(columns=[target])
        report = run_audit(
            model, X, y, rows=row_list, random_state=seed, progress=not quiet, source=source,
            sensitive=list(sensitive) or None,
        )  # fmt: skip
    _save(report, out_path)


def _save(report: Any, out_path: Path) -> None:
    json_path = out_path.with_suffix(".json")
    report.save_html(out_path)
    report.save_json(json_path)
    click.echo(f"wrote {out_path} and {json_path}")


def _image_arrays(data_path: str, target: str) -> tuple[Any, Any]:
    """Images and labels from an .npz file: --target names the labels array."""
    from whybox.io import load_arrays

    arrays = load_arrays(data_path)
    if target not in arrays:
        raise InputError(
            f"--target {target!r} is not an array of {Path(data_path).name}; its arrays are "
            f"{sorted(arrays)}."
        )
    others = sorted(k for k in arrays if k != target)
    if len(others) != 1:
        raise InputError(
            f"{Path(data_path).name} must hold exactly two arrays, the images and the labels "
            f"(--target), got {sorted(arrays)}; save only those two with np.savez."
        )
    return arrays[others[0]], arrays[target]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning bad input into one line on stderr and exit 2."""
    try:
        cli.main(args=argv, prog_name="whybox", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("whybox: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"whybox: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except InputError as exc:
        click.echo(f"whybox: error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"whybox: error: {exc.strerror or exc} ({exc.filename})", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
