"""``pandas-clusters``: the library's stages from the command line, without Snakemake.

Each sub-command does what one workflow rule does, reading a validated
configuration file (``--config``, default ``config/config.yaml``) for its
settings. Run ``pandas-clusters --help`` for the list.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pandas_clusters.core.config import inference_params, load_config, sources_params, stamps_params

__all__ = ["main"]


def _mock_settings(cfg):
    from pandas_clusters.acquire.mock import MockSettings

    return MockSettings.from_config(cfg["mock"], seed=cfg["seed"])


def _cmd_validate(cfg, args):
    print(f"{args.config}: valid ({cfg['survey']} survey, fields {cfg['fields']})")


def _cmd_mock_image(cfg, args):
    from pandas_clusters.acquire.mock import write_mock_image

    write_mock_image(_mock_settings(cfg), args.field, args.band, args.out)


def _cmd_mock_truth(cfg, args):
    from pandas_clusters.acquire.mock import write_field_truth

    write_field_truth(_mock_settings(cfg), args.field, args.out)


def _cmd_mock_catalogues(cfg, args):
    from pandas_clusters.acquire.mock import write_mock_catalogues
    from pandas_clusters.core.catalogues import CATALOGUES

    out = Path(args.outdir)
    write_mock_catalogues(
        _mock_settings(cfg),
        catalogue_paths={name: out / f"{name}.parquet" for name in CATALOGUES},
        footprint_path=out / "phat_footprint.json",
        truth_path=out / "catalogue_truth.parquet",
    )


def _reference_argv(args, name: str) -> list[str]:
    """The start of a command line against the real reference files, as the documents record it.

    The reference folder is written relative to the working folder (the repository
    root), so that a document names no path of the machine that made it.
    """
    reference = args.reference
    if os.path.isabs(reference):
        reference = os.path.relpath(reference)
    return [
        "pandas-clusters",
        "--config",
        args.config,
        name,
        "--reference",
        reference,
        "--out",
        args.out,
    ]


def _cmd_mock_realism(cfg, args):
    from pandas_clusters.report.realism import write_realism_report

    argv = _reference_argv(args, "mock-realism")
    if args.per_class is not None:
        argv += ["--per-class", str(args.per_class)]
    comp = write_realism_report(
        _mock_settings(cfg),
        args.reference,
        args.out,
        per_class=args.per_class,
        seed=cfg["seed"],
        command=" ".join(argv),
    )
    print(f"{args.out}: {int(comp['pass_'].sum())} of {len(comp)} realism targets met")


def _cmd_mock_realism_levers(cfg, args):
    from pandas_clusters.report.realism_levers import parse_lever, write_lever_report

    levers = dict(parse_lever(text) for text in args.lever or [])
    argv = _reference_argv(args, "mock-realism-levers")
    if args.per_class is not None:
        argv += ["--per-class", str(args.per_class)]
    argv += [f"--lever '{text}'" for text in args.lever or []]
    table = write_lever_report(
        _mock_settings(cfg),
        args.reference,
        args.out,
        levers,
        per_class=args.per_class,
        seed=cfg["seed"],
        command=" ".join(argv),
    )
    print(f"{args.out}: {table['lever'].nunique()} settings, {len(table)} rows")


def _cmd_mock_calibration(cfg, args):
    from pandas_clusters.acquire.mock.calibration import write_calibration_report
    from pandas_clusters.report.realism import RBC_SUPPLEMENT, read_rbc_vmag

    argv = _reference_argv(args, "mock-calibration")
    rbc = read_rbc_vmag(Path(args.reference) / RBC_SUPPLEMENT)
    write_calibration_report(
        _mock_settings(cfg),
        args.out,
        rbc_vmag=rbc["vmag"].to_numpy(),
        command=" ".join(argv),
        reference=args.reference,
    )
    print(f"wrote {args.out}")


def _cmd_mock_sim_to_real(cfg, args):
    from pandas_clusters.report.sim_to_real import update_realism_doc, write_sim_to_real

    argv = _reference_argv(args, "mock-sim-to-real")
    argv += ["--per-class", str(args.per_class), "--epochs", str(args.epochs)]
    argv += ["--trainings", str(args.trainings)]
    result = write_sim_to_real(
        _mock_settings(cfg),
        args.reference,
        args.out,
        n_per_class=args.per_class,
        seed=cfg["seed"],
        epochs=args.epochs,
        command=" ".join(argv),
        trainings=args.trainings,
    )
    if args.realism_doc:
        update_realism_doc(args.realism_doc, result)
    print(json.dumps(result, indent=2))


def _pairs(items, what):
    """``["g=a.fits", "i=b.fits"]`` -> ``{"g": "a.fits", "i": "b.fits"}``."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            msg = f"--{what} expects KEY=PATH, got {item!r}"
            raise ValueError(msg)
        out[key] = value
    return out


def _cmd_sources(cfg, args):
    from pandas_clusters.detect.sources import SourceSettings, build_sources

    settings = SourceSettings.from_config(**sources_params(cfg))
    build_sources(
        _pairs(args.image, "image"),
        field=args.field,
        out=args.out,
        settings=settings,
        catalogue=args.catalogue,
    )


def _cmd_stamps(cfg, args):
    from pandas_clusters.detect.stamps import StampSettings, cut_stamps

    settings = StampSettings.from_config(**stamps_params(cfg))
    cut_stamps(
        args.sources,
        _pairs(args.image, "image"),
        out=args.out,
        settings=settings,
        field=args.field,
    )


def _cmd_trainset(cfg, args):
    from pandas_clusters.learn.training_set import TrainsetSettings, write_trainset

    write_trainset(
        args.out,
        args.sources,
        args.stamps,
        clusters_path=args.clusters,
        galaxies_path=args.galaxies,
        footprint_path=args.footprint,
        settings=TrainsetSettings.from_config(cfg["training"], mag_limit=args.mag_limit),
    )


def _cmd_train(cfg, args):
    from pandas_clusters.learn.training import TrainSettings, train

    out = Path(args.outdir)
    train(
        args.training_set,
        settings=TrainSettings.from_config(
            cfg["training"], model=args.model, mag_limit=args.mag_limit, seed=args.seed
        ),
        weights_path=out / "weights.safetensors",
        history_path=out / "history.csv",
        settings_path=out / "settings.json",
        checkpoint_path=out / "checkpoint.pt",
    )


def _cmd_predict(cfg, args):
    from pandas_clusters.catalogue.inference import InferenceSettings, predict_stamps

    predict_stamps(
        args.stamps,
        args.weights,
        settings=InferenceSettings.from_config(**inference_params(cfg)),
        output_path=args.out,
        sources_path=args.sources,
    )


def _cmd_select(cfg, args):
    from pandas_clusters.catalogue.selection import SelectionSettings, write_candidates

    write_candidates(
        args.inference,
        args.sources,
        args.out,
        settings=SelectionSettings.from_config(cfg["selection"]),
        training_positives=args.phat_clusters,
    )


def _cmd_crossmatch(cfg, args):
    from pandas_clusters.catalogue.crossmatch import CrossmatchSettings, write_crossmatch

    write_crossmatch(
        args.candidates,
        _pairs(args.catalogue, "catalogue"),
        args.out,
        settings=CrossmatchSettings.from_config(cfg["crossmatch"]),
    )


def _cmd_publish(cfg, args):
    from pandas_clusters.catalogue.publish import PublishSettings, publish_catalogue

    out = Path(args.outdir)
    publish_catalogue(
        args.candidates,
        dat_path=out / "table7.dat",
        readme_path=out / "ReadMe",
        fits_path=out / "table7.fits",
        parquet_path=out / "table7.parquet",
        settings=PublishSettings.from_config(cfg["publish"]),
        inspection_dir=args.inspection_dir,
    )


def _inspection(cfg, args):
    from pandas_clusters.inspection import Inspection

    changes = {
        key: getattr(args, key)
        for key in ("database", "candidates", "host", "port")
        if getattr(args, key, None) is not None
    }
    return Inspection.from_config(cfg, **changes)


def _cmd_inspect(cfg, args):
    import os
    import secrets

    from pandas_clusters.inspection.server import is_loopback, make_server, serve_forever

    inspection = _inspection(cfg, args)
    settings = inspection.settings
    token = args.token or os.environ.get("PANDAS_CLUSTERS_INSPECT_TOKEN")
    if not is_loopback(settings.host) and not token:
        token = secrets.token_urlsafe(16)
    server = make_server(inspection, settings.host, settings.port, token)
    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::"):  # every interface: show the machine's name
        import socket

        host = socket.getfqdn()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    serve_forever(server, url)


def _cmd_inspect_export(cfg, args):
    inspection = _inspection(cfg, args)
    written = inspection.export()
    report = inspection.agreement(done_only=False)
    for pair in report["pairs"]:
        print(f"{' vs '.join(pair['inspectors'])}: kappa {pair['kappa']} on {pair['n_common']}")
    print(f"{len(written)} file(s) updated in {inspection.export_dir}")
    inspection.close()


def build_parser() -> argparse.ArgumentParser:
    """The ``pandas-clusters`` parser: one sub-command per workflow rule, in DAG order."""
    ap = argparse.ArgumentParser(prog="pandas-clusters", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/config.yaml", help="configuration YAML file")
    ap.add_argument(
        "-v", "--debug", action="store_true", help="on an error, print the traceback too"
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate the configuration file")
    p.set_defaults(func=_cmd_validate)
    _add_mock_commands(sub)
    _add_mock_realism_commands(sub)
    _add_detect_commands(sub)
    _add_learn_commands(sub)
    _add_catalogue_commands(sub)
    _add_inspection_commands(sub)
    return ap


def _add_mock_commands(sub) -> None:
    """``mock-image``, ``mock-truth``, ``mock-catalogues``: the simulated survey."""
    p = sub.add_parser("mock-image", help="render one mock field in one band (MEF FITS)")
    p.add_argument("--field", type=int, required=True, help="field id (one of mock.fields)")
    p.add_argument("--band", required=True, choices=["g", "i"], help="band to render")
    p.add_argument("--out", required=True, help="output FITS path")
    p.set_defaults(func=_cmd_mock_image)

    p = sub.add_parser("mock-truth", help="truth table of one mock field (Parquet)")
    p.add_argument("--field", type=int, required=True, help="field id (one of mock.fields)")
    p.add_argument("--out", required=True, help="output Parquet path")
    p.set_defaults(func=_cmd_mock_truth)

    p = sub.add_parser("mock-catalogues", help="PHAT footprint and the eight mock catalogues")
    p.add_argument("--outdir", required=True, help="folder of the catalogue Parquet files")
    p.set_defaults(func=_cmd_mock_catalogues)


def _add_mock_realism_commands(sub) -> None:
    """The mock measured against real data: realism, counts, sim-to-real transfer."""
    p = sub.add_parser(
        "mock-realism", help="real PAndAS cutouts against mock ones (docs/mock-realism.md)"
    )
    p.add_argument("--reference", default="../shared/reference", help="shared reference folder")
    p.add_argument("--out", default="docs/mock-realism.md")
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        help="real cutouts sampled per class (default: every one, as docs/mock-realism.md)",
    )
    p.set_defaults(func=_cmd_mock_realism)

    p = sub.add_parser(
        "mock-realism-levers",
        help="the mock's realism statistics under changed settings (mock only, a diagnostic)",
    )
    p.add_argument("--reference", default="../shared/reference", help="shared reference folder")
    p.add_argument("--out", default="docs/mock-realism-levers.md")
    p.add_argument(
        "--per-class", type=int, default=None, help="real positions per class (default: every one)"
    )
    p.add_argument(
        "--lever",
        action="append",
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="settings overridden together (seeing_arcsec.g=0.9 sets one band); repeatable",
    )
    p.set_defaults(func=_cmd_mock_realism_levers)

    p = sub.add_parser(
        "mock-calibration", help="mock counts against published counts (docs/mock-calibration.md)"
    )
    p.add_argument("--reference", default="../shared/reference", help="shared reference folder")
    p.add_argument("--out", default="docs/mock-calibration.md")
    p.set_defaults(func=_cmd_mock_calibration)

    p = sub.add_parser(
        "mock-sim-to-real",
        help="train on mock cutouts only, score on the real RBC cutouts (ROC AUC, JSON)",
    )
    p.add_argument("--reference", default="../shared/reference", help="shared reference folder")
    p.add_argument("--out", default="docs/mock-sim-to-real.json")
    p.add_argument("--per-class", type=int, default=1000, help="mock cutouts per class")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument(
        "--trainings",
        type=int,
        default=3,
        help="networks trained (seeds seed, seed+1, ...); the AUCs' mean and spread",
    )
    p.add_argument(
        "--realism-doc",
        default="docs/mock-realism.md",
        help="Markdown whose sim-to-real section is updated ('' for none)",
    )
    p.set_defaults(func=_cmd_mock_sim_to_real)


def _add_detect_commands(sub) -> None:
    """``sources``, ``stamps``: detection and stamps of one field."""
    p = sub.add_parser("sources", help="detect and measure the sources of one field")
    p.add_argument("--field", type=int, required=True, help="field id")
    p.add_argument("--image", action="append", metavar="BAND=FITS", help="one per band")
    p.add_argument("--catalogue", help="CASU band-merged catalogue (sources.method: catalogue)")
    p.add_argument("--out", required=True, help="output sources Parquet")
    p.set_defaults(func=_cmd_sources)

    p = sub.add_parser("stamps", help="cut the stamps of one field to Parquet")
    p.add_argument("--field", type=int, help="field ID, checked against the inputs' FIELD")
    p.add_argument("--sources", required=True, help="the field's sources Parquet")
    p.add_argument(
        "--image", action="append", metavar="BAND=FITS", required=True, help="one per band"
    )
    p.add_argument("--out", required=True, help="output stamps Parquet")
    p.set_defaults(func=_cmd_stamps)


def _add_learn_commands(sub) -> None:
    """``training-set``, ``training``: the labelled set and one ensemble member."""
    p = sub.add_parser("training-set", help="label, balance and split the training set")
    p.add_argument("--mag-limit", type=float, required=True, help="limiting g magnitude, AB")
    p.add_argument("--sources", nargs="+", required=True, help="sources Parquet, per field")
    p.add_argument("--stamps", nargs="+", required=True, help="stamps Parquet, per field")
    p.add_argument("--clusters", required=True, help="PHAT clusters Parquet")
    p.add_argument("--galaxies", help="PHAT galaxies Parquet")
    p.add_argument("--footprint", required=True, help="PHAT footprint JSON")
    p.add_argument("--out", required=True, help="output training-set Parquet")
    p.set_defaults(func=_cmd_trainset)

    p = sub.add_parser("training", help="train one model x mag limit x seed (resumes a checkpoint)")
    p.add_argument("--training-set", required=True, help="training-set Parquet")
    p.add_argument("--model", required=True, help="architecture, e.g. resnet50")
    p.add_argument("--mag-limit", type=float, required=True, help="limiting g magnitude, AB")
    p.add_argument("--seed", type=int, required=True, help="seed of this ensemble member")
    p.add_argument("--outdir", required=True, help="folder of weights, history, settings")
    p.set_defaults(func=_cmd_train)


def _add_catalogue_commands(sub) -> None:
    """``inference``, ``selection``, ``crossmatch``, ``publish``: from stamps to table 7."""
    p = sub.add_parser("inference", help="classify the stamps of one field with an ensemble")
    p.add_argument("--stamps", required=True, help="the field's stamps Parquet")
    p.add_argument("--sources", help="sources table (needed unless inference.all_sources)")
    p.add_argument("--weights", nargs="+", required=True, help="safetensors, one per seed")
    p.add_argument("--out", required=True, help="output probabilities Parquet")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("selection", help="threshold, cuts and cross-field merge of the candidates")
    p.add_argument("--inference", nargs="+", required=True, help="probabilities, per field")
    p.add_argument("--sources", nargs="+", required=True, help="sources Parquet, per field")
    p.add_argument("--phat-clusters", help="PHAT clusters (selection.exclude_training_positives)")
    p.add_argument("--out", required=True, help="output candidates Parquet")
    p.set_defaults(func=_cmd_select)

    p = sub.add_parser("crossmatch", help="name the candidates in the literature catalogues")
    p.add_argument("--candidates", required=True, help="selected candidates Parquet")
    p.add_argument("--catalogue", action="append", metavar="NAME=PARQUET", help="c09=..., rbc=...")
    p.add_argument("--out", required=True, help="output cross-matched Parquet")
    p.set_defaults(func=_cmd_crossmatch)

    p = sub.add_parser("publish", help="write table7.dat + ReadMe (CDS), FITS and Parquet")
    p.add_argument("--candidates", required=True, help="cross-matched candidates Parquet")
    p.add_argument("--inspection-dir", help="folder of <inspector>.csv visual-inspection scores")
    p.add_argument("--outdir", required=True, help="folder of table7.dat, ReadMe, FITS, Parquet")
    p.set_defaults(func=_cmd_publish)


def _add_inspection_commands(sub) -> None:
    """The visual inspection: the web app and the export of its scores."""
    p = sub.add_parser("inspect", help="score the candidates in the browser (visual inspection)")
    p.add_argument("--host", help="listening address (default: inspection.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default: inspection.port)")
    p.add_argument(
        "--token",
        help="access token; required off loopback (default: $PANDAS_CLUSTERS_INSPECT_TOKEN, "
        "else a random one printed with the URL)",
    )
    p.add_argument("--database", help="SQLite database (default: inspection.database)")
    p.add_argument("--candidates", help="candidates Parquet (default: inspection.candidates)")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser(
        "inspect-export", help="export the inspection scores (<inspector>.csv) and agreement"
    )
    p.add_argument("--database", help="SQLite database (default: inspection.database)")
    p.add_argument("--candidates", help="candidates Parquet (default: inspection.candidates)")
    p.set_defaults(func=_cmd_inspect_export)


def _one_line(exc: BaseException) -> str:
    """The error as the user needs it: the message alone, a missing file named as not found."""
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        return f"{exc.filename} not found"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return str(text) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pandas-clusters`` console script.

    An error is printed as one line per problem (exit status 2); ``--debug``
    (or ``-v``) prints the traceback too.
    """
    from pandas_clusters.core.logs import log_to

    args = build_parser().parse_args(argv)
    if args.debug:
        with log_to(None):
            args.func(load_config(args.config), args)
        return 0
    error = None
    with log_to(None):
        try:
            args.func(load_config(args.config), args)
        except Exception as exc:  # every error, one line; the traceback with --debug
            error = exc
    if error is not None:
        print(f"pandas-clusters: error: {_one_line(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
