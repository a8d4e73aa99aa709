"""The `xstilts` command line. User mistakes get one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sweep.spec import SpecError

USAGE_ERROR = 2


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (SpecError, UsageError) as err:
        print(f"xstilts: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("xstilts: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xstilts", description="X-STILTs sweeps on Ray")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a spec and print its expanded plan (starts nothing)")
    p.add_argument("spec", help="a spec file, or the name of a shipped spec (e.g. demo)")
    _add_set(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run a sweep")
    p.add_argument("spec")
    _add_set(p)
    p.add_argument("--out", type=Path, help="output directory (default: runs/<name>)")
    p.add_argument(
        "--storage",
        help="shared storage for checkpoints, hand-offs and a copy of the output directory "
        "(s3://, gs://, or a path every node mounts); default: the spec's storage_path, else "
        "$XSTILTS_STORAGE/<name>, else none",
    )
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="train every trial, even those an earlier sweep trained with the same inputs",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "resume",
        help="continue an interrupted sweep: finished trials are kept, interrupted ones continue "
        "from their last checkpoint",
    )
    _add_dir(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("status", help="phases and trials of a sweep directory")
    _add_dir(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "report",
        help="write the report of a sweep directory (report.md, report.html, csv/), "
        "or with --compare two sweeps side by side",
    )
    _add_dir(p, optional=True)
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("DIR_A", "DIR_B"),
        help="two sweep directories (or storage URIs) to compare; the comparison goes to --out "
        "(default runs/compare-<A>-vs-<B>)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("tasks", help="list every task: roles, format, metric, languages, sources")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser(
        "score", help="score a prediction file in XTREME's submission format; prints JSON"
    )
    p.add_argument("--task", required=True, help="a registered task (see `xstilts tasks`)")
    p.add_argument("--lang", required=True, help="the language of the predictions")
    p.add_argument("--pred", required=True, type=Path, help="the prediction file")
    gold = p.add_mutually_exclusive_group(required=True)
    gold.add_argument(
        "--gold", nargs="+", type=Path, help="gold file(s) in the task's release format"
    )
    gold.add_argument(
        "--data-root", type=Path, help="a data root in the XTREME layout (gold read from it)"
    )
    p.add_argument("--split", default="test", choices=("dev", "test"), help="with --data-root")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("demo", help="run the shipped offline demo sweep, then its report")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.set_defaults(func=cmd_demo)
    return parser


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec key (dotted, e.g. data.root=/mnt/xtreme); repeatable",
    )


def _add_dir(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument(
        "dir",
        nargs="?" if optional else None,
        help="the sweep's output directory, or its storage URI (copied here first)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="with a storage URI: the directory the sweep is copied into (default: runs/<name>)",
    )


def _sweep_dir(args) -> Path:
    """The local directory of the sweep `args.dir` names; a storage URI is copied there first."""
    from trainers import remote

    if not remote.is_uri(args.dir):
        if args.out is not None:
            raise UsageError("--out: only with a storage URI (the sweep is copied into it)")
        return Path(args.dir)
    return _pulled(args.dir, args.out)


def _pulled(uri: str, local: Path | None) -> Path:
    """A copy of the sweep at storage `uri` in `local` (default runs/<name>)."""
    from sweep.storage import pull

    local = local or Path("runs") / _uri_name(uri)
    if local.exists() and not local.is_dir():
        raise UsageError(f"--out: {local} exists and is not a directory")
    try:
        return pull(uri, local)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    except OSError as err:  # unreachable storage, missing credentials: pyarrow says which
        raise UsageError(f"{uri}: cannot read the storage ({err})") from None


def _uri_name(uri: str) -> str:
    return uri.split("?")[0].rstrip("/").rpartition("/")[2]


def cmd_tasks(args) -> int:
    from sweep.task_list import task_lines

    print("\n".join(task_lines(args.json)))
    return 0


def cmd_score(args) -> int:
    import json

    from sweep.scoring import score
    from trainers.data.examples import DataError
    from trainers.tasks import REGISTRY

    if args.task not in REGISTRY:
        raise UsageError(f"--task: unknown task {args.task!r}; `xstilts tasks` lists them")
    try:
        result = score(
            args.task, args.lang, args.pred, gold=args.gold, data_root=args.data_root,
            split=args.split,
        )  # fmt: skip
    except DataError as err:
        raise UsageError(str(err)) from None
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


def cmd_validate(args) -> int:
    from sweep.plan import describe, expand
    from sweep.spec import load_spec

    for line in describe(expand(load_spec(args.spec, args.overrides))):
        print(line)
    return 0


def cmd_run(args) -> int:
    from sweep.spec import load_spec
    from sweep.storage import holds_sweep, sweep_storage

    overrides = [*args.overrides, *([f"storage_path={args.storage}"] if args.storage else [])]
    spec = load_spec(args.spec, overrides)
    out = args.out or Path("runs") / spec.name
    storage = sweep_storage(spec.storage_path, spec.name)
    if storage and holds_sweep(storage):
        raise UsageError(
            f"--storage: {storage} already holds a sweep; continue it with `xstilts resume "
            f"{storage}`, or choose another storage"
        )
    _run_and_report(spec, out, reuse=not args.no_reuse)
    return 0


def cmd_demo(args) -> int:
    from sweep.spec import load_spec

    _run_and_report(load_spec("demo"), args.out)
    return 0


def cmd_resume(args) -> int:
    from sweep.progress import read_status
    from sweep.spec import load_spec

    directory = _sweep_dir(args)
    _require_sweep_dir(directory)
    if not (directory / "spec.yaml").is_file():
        raise UsageError(f"{directory}: no spec.yaml, so there is no sweep to resume")
    spec = load_spec(directory / "spec.yaml")
    if read_status(directory)["phases"].get("zero_shot", {}).get("state") == "done":
        print(f"{directory}: the sweep finished; nothing to resume")
        return 0
    _run_and_report(spec, directory, resume=True)
    return 0


def _run_and_report(spec, out: Path, resume: bool = False, reuse: bool = True) -> None:
    from analysis.report import summary_lines, write_report
    from sweep.plan import describe, expand
    from sweep.runner import run_sweep
    from sweep.storage import push_dir, sweep_storage
    from trainers.data.examples import DataError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    if (out / "status.json").exists() and not resume:
        raise UsageError(
            f"--out: {out} already holds a sweep; choose another directory, or continue it "
            f"with `xstilts resume {out}`"
        )
    for line in describe(expand(spec)):
        print(line)
    try:
        run_sweep(spec, out, echo=_timed_echo(), resume=resume, reuse=reuse)
    except DataError as err:  # a data file the spec names is missing or malformed
        raise UsageError(str(err)) from None
    report = write_report(out)
    if spec_storage := sweep_storage(spec.storage_path, spec.name):
        push_dir(out.resolve(), spec_storage, report.resolve().parent)
    print("== done")
    for line in summary_lines(out):
        print(line)


def _timed_echo():
    import time

    start = time.monotonic()

    def echo(line: str) -> None:
        print(f"[{time.monotonic() - start:6.0f}s] {line}", flush=True)

    return echo


def cmd_status(args) -> int:
    from sweep.progress import read_status

    directory = _sweep_dir(args)
    _require_sweep_dir(directory)
    status = read_status(directory)
    for phase in ("pretrain", "intermediate", "retrieval", "target", "zero_shot"):
        info = status["phases"].get(phase)
        if info is None:
            continue
        trials = {k: v for k, v in status["trials"].items() if v["phase"] == phase}
        counts = {}
        for trial in trials.values():
            counts[trial.get("state", "pending")] = counts.get(trial.get("state", "pending"), 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        print(f"phase {phase}: {info['state']}" + (f" ({summary})" if summary else ""))
        for trial_id, trial in sorted(trials.items()):
            score = f" dev {trial['dev_score']:.4f}" if "dev_score" in trial else ""
            rounds = f" round {trial.get('round', 0)}/{trial['rounds']}"
            error = f" error: {trial['error']}" if trial.get("error") else ""
            evaluated = f" zero-shot {trial['zero_shot']}" if trial.get("zero_shot") else ""
            reused = f" (reused: {trial['reused_from']})" if trial.get("reused_from") else ""
            print(
                f"  {trial.get('state', 'pending'):8} {trial_id}{rounds}{score}{evaluated}{error}"
                + reused
            )
            for lang, why in sorted((trial.get("zero_shot_errors") or {}).items()):
                print(f"    {lang} not evaluated: {why}")
            if trial.get("zero_shot_error"):
                print(f"    not evaluated: {trial['zero_shot_error']}")
    return 0


def cmd_report(args) -> int:
    from analysis.report import write_report

    if args.compare:
        return _compare(args)
    if args.dir is None:
        raise UsageError("report: give a sweep directory, or --compare DIR_A DIR_B")
    directory = _sweep_dir(args)
    _require_sweep_dir(directory)
    path = write_report(directory)
    print(f"report: {path}")
    print(f"html: {path.with_suffix('.html')}")
    return 0


def _require_sweep_dir(directory: Path) -> None:
    if not (directory / "status.json").is_file() and not (directory / "results").is_dir():
        raise UsageError(f"{directory}: not a sweep directory (no status.json or results/)")


if __name__ == "__main__":
    sys.exit(main())


def _compare(args) -> int:
    from analysis.compare import write_comparison
    from trainers import remote

    if args.dir is not None:
        raise UsageError("report: give a sweep directory or --compare DIR_A DIR_B, not both")
    sweeps = []
    for given in args.compare:
        directory = _pulled(given, None) if remote.is_uri(given) else Path(given)
        try:
            _require_sweep_dir(directory)
        except UsageError as err:
            raise UsageError(f"--compare: {err}") from None
        sweeps.append(directory)
    names = [_uri_name(g) if remote.is_uri(g) else Path(g).resolve().name for g in args.compare]
    out = args.out or Path("runs") / f"compare-{names[0]}-vs-{names[1]}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    print(f"comparison: {write_comparison(sweeps[0], sweeps[1], out)}")
    return 0
