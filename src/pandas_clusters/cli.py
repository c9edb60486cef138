"""``pandas-clusters``: the library's stages from the command line, without Snakemake.

Each sub-command does what one workflow rule does, reading a validated
configuration file (``--config``, default ``config/config.yaml``) for its
settings. Run ``pandas-clusters --help`` for the list.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _config(args):
    from .config import load_config

    return load_config(args.config)


def _mock_settings(cfg):
    from .mock import MockSettings

    return MockSettings.from_config(cfg["mock"], seed=cfg["seed"])


def _cmd_validate(args):
    cfg = _config(args)
    print(f"{args.config}: valid ({cfg['survey']} survey, fields {cfg['fields']})")


def _cmd_mock_image(args):
    from .mock import write_mock_image

    write_mock_image(_mock_settings(_config(args)), args.field, args.band, args.out)


def _cmd_mock_truth(args):
    from .mock import write_field_truth

    write_field_truth(_mock_settings(_config(args)), args.field, args.out)


def _cmd_mock_catalogs(args):
    from .mock import write_mock_catalogs
    from .mock.catalogs import CATALOG_NAMES

    out = Path(args.outdir)
    write_mock_catalogs(
        _mock_settings(_config(args)),
        catalog_paths={name: out / f"{name}.parquet" for name in CATALOG_NAMES},
        footprint_path=out / "phat_footprint.json",
        truth_path=out / "catalog_truth.parquet",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pandas-clusters", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml", help="configuration YAML file")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate the configuration file")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("mock-image", help="render one mock field in one band (MEF FITS)")
    p.add_argument("--field", type=int, required=True)
    p.add_argument("--band", required=True, choices=["g", "i"])
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_mock_image)

    p = sub.add_parser("mock-truth", help="truth table of one mock field (Parquet)")
    p.add_argument("--field", type=int, required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_mock_truth)

    p = sub.add_parser("mock-catalogs", help="PHAT footprint and the eight mock catalogues")
    p.add_argument("--outdir", required=True)
    p.set_defaults(func=_cmd_mock_catalogs)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pandas-clusters`` console script."""
    from .logs import log_to

    args = build_parser().parse_args(argv)
    try:
        with log_to(None):
            args.func(args)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"pandas-clusters: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
