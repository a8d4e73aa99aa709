"""What `xstilts validate` prints: a plan's phases and trials, where their workers go on the
cluster, how they train, and what the sweep costs in trial-hours and GPU-hours (`sweep.cost`).
Nothing here starts Ray or reads data."""

from __future__ import annotations

from collections import Counter

from sweep.cost import (
    TRAIN_SIZES,
    model_parameters,
    model_state_bytes,
    retrieval_hours,
    trial_hours,
)
from sweep.plan import Plan, entry_fields
from sweep.spec import NONE, ResourcesSpec, SweepSpec
from trainers.config import DeepSpeedConfig, MixtureConfig

TRAINING = ("pretrain", "intermediate", "target")
SHARDED = {
    0: "nothing sharded",
    1: "ZeRO-1 shards the optimizer states",
    2: "ZeRO-2 shards the gradients and optimizer states",
    3: "ZeRO-3 shards the weights, gradients and optimizer states",
}


def describe(plan: Plan) -> list[str]:
    """The lines `xstilts validate` prints."""
    spec = plan.spec
    res = spec.resources
    precision = spec.deepspeed.resolved_precision(res.use_gpu())
    lines = [
        f"sweep {spec.name}: model {spec.model.name}"
        + (" (tiny, random init)" if spec.model.tiny else ""),
        f"data: {spec.data.source}" + (f" at {spec.data.root}" if spec.data.root else ""),
        f"resources per trial: {_resources(res)}"
        + f", DeepSpeed {_zero_text(spec.deepspeed)}, {precision}",
        f"seeds: {', '.join(map(str, spec.seeds))}; {_asha_text(spec.asha)}",
        _cluster_line(
            res, any(not spec.resources_for(p).trains_in_trial_process() for p in TRAINING)
        ),
    ]
    total_hours = device_hours = 0.0
    for phase in TRAINING:
        count = plan.planned_trials(phase)
        hours = sum(trial_hours(spec, t) * n for t, n in plan.weighted_trials(phase))
        phase_res = spec.resources_for(phase)
        phase_device_hours = hours * _devices(spec, phase_res.workers, phase_res.gpus_per_worker)
        total_hours += hours
        device_hours += phase_device_hours
        detail = _phase_detail(plan, phase)
        lines.append(f"phase {phase}: {count} trial(s), ~{hours:.2f} trial-hours{detail}")
        if count and phase_res != res:
            lines.append(f"  {phase} resources: {_resources(phase_res)}")
        if count:
            lines += _placement_lines(plan, phase, phase_device_hours)
        if phase == "intermediate":
            lines += _mixture_lines(plan)
    eval_devices = _devices(spec, res.eval_processes(), res.eval_gpus)
    if plan.retrieval:
        hours = sum(retrieval_hours(spec, task) for _, task in plan.retrieval)
        total_hours += hours
        device_hours += hours * eval_devices
        lines.append(
            f"phase retrieval: {len(plan.retrieval)} evaluation(s) = "
            f"{len({s for s, _ in plan.retrieval})} starting point(s) x "
            f"{len({t for _, t in plan.retrieval})} retrieval target(s), no training, "
            f"straight after phase intermediate, beside phase target, ~{hours:.2f} trial-hours"
        )
    n_eval = plan.evaluations()
    targets = plan.weighted_trials("target")
    eval_hours = sum(trial_hours(spec, t, evaluation=True) * n for t, n in targets)
    langs = sum(len(plan.eval_languages(t)) for t in {t.task for t, _ in targets})
    lines.append(
        f"phase zero_shot: up to {n_eval} evaluation(s) over {langs} task-language pair(s), ~{eval_hours:.2f} trial-hours"
    )
    total_hours += eval_hours
    device_hours += eval_hours * eval_devices
    unit = "GPU" if spec.uses_gpu() else "CPU-worker"
    lines.append(
        f"total: {sum(plan.planned_trials(p) for p in TRAINING)} training trial(s), "
        f"~{total_hours:.2f} trial-hours before ASHA stops any (~{device_hours:.2f} {unit}-hours)"
    )
    return lines


def _devices(spec: SweepSpec, count: int, gpus: float) -> float:
    """What an hour of `count` workers (or actors) of `gpus` GPUs each costs: GPU-hours on a
    GPU sweep (0 for work on CPU there), worker-hours on a CPU sweep."""
    return count * gpus if spec.uses_gpu() else float(count)


def _cluster_line(res: ResourcesSpec, drivers_needed: bool) -> str:
    """Where the drivers (of trials through Ray Train), the spot-node policy and the evaluation
    actors go."""
    drivers = (
        f"trial drivers {res.driver_cpus:g} CPU" + _custom(res.driver_resources)
        if drivers_needed
        else "no trial drivers (every trial trains in its own process)"
    )
    failures = f"up to {res.max_failures} worker failure(s) per trial"
    if res.preemptible:
        times = "any number of times" if res.max_preemptions < 0 else f"up to {res.max_preemptions}"
        failures += f"; workers on spot nodes: a preempted trial resumes {times}"
    actor = f"{res.eval_gpus:g} GPU + " if res.eval_gpus else ""
    shape = f"{actor}{res.eval_cpus:g} CPU" + _custom(res.eval_resources)
    evaluation = (
        f"evaluations up to {res.eval_actors} actor(s) x {shape}"
        if res.eval_actors
        else f"evaluations each in one task of {shape} (no Ray Data pipeline)"
    )
    return f"placement: {drivers}; {failures}; {evaluation}"


def _custom(resources: dict[str, float]) -> str:
    return "".join(f" + {name} {amount:g}" for name, amount in sorted(resources.items()))


def _placement_lines(plan: Plan, phase: str, device_hours: float) -> list[str]:
    """A training phase's workers on the cluster, how they train, and their model states."""
    spec = plan.spec
    res = spec.resources_for(phase)
    gpu = f"{res.gpus_per_worker:g} GPU + " if res.gpus_per_worker else ""
    unit = "GPU" if spec.uses_gpu() else "CPU-worker"
    if res.trains_in_trial_process():
        packed = "in the trial's own process (no Ray Train worker group)"
    elif res.workers > 1:
        packed = "packed on one node where they fit (Ray Train PACK)"
    else:
        packed = "one node"
    precision = spec.deepspeed.resolved_precision(res.use_gpu())
    asha = spec.asha_for(phase) if phase != "pretrain" else spec.asha
    own_asha = [f"  {phase}: {_asha_text(asha)}"] if asha != spec.asha else []
    return own_asha + [
        f"  {phase} placement: {res.workers} worker(s) per trial, each {gpu}"
        f"{res.cpus_per_worker:g} CPU{_custom(res.worker_resources)}, {packed}; "
        f"~{device_hours:.2f} {unit}-hours",
        f"  {phase} training: {precision}, ZeRO-{spec.deepspeed.stage(res.workers)}"
        + (", torch.compile" if spec.deepspeed.torch_compile else "")
        + "; effective batch "
        + _batch_text(plan, phase, res.workers),
        f"  {phase} {'GPU ' if res.use_gpu() else ''}memory per worker: "
        + _memory_text(spec, res.workers, precision),
    ]


def _asha_text(asha) -> str:
    text = f"ASHA grace {asha.grace_period} round(s), reduction {asha.reduction_factor:g}"
    if asha.promotion == "pause":
        text += ", by promotion (trials wait paused at each rung)"
    return text


def _zero_text(ds: DeepSpeedConfig) -> str:
    if ds.zero_stage == "auto" and ds.offload_optimizer:
        return "ZeRO auto (2: the optimizer is offloaded)"
    if ds.zero_stage == "auto":
        return "ZeRO auto (0 with one worker per trial, 2 with several)"
    return f"ZeRO-{ds.zero_stage}"


def _batch_text(plan: Plan, phase: str, workers: int) -> str:
    """'32 = 4 per worker x 1 accumulation step(s) x 8 worker(s); squad_v2: 16 = 2 x 1 x 8': the
    most common batch first, then each task that differs."""
    shapes: dict[tuple[int, int], list[str]] = {}
    for trial, _ in plan.weighted_trials(phase):
        tasks = shapes.setdefault((trial.optim.batch_size, trial.optim.grad_accum), [])
        if trial.task not in tasks:
            tasks.append(trial.task)
    counts = Counter({shape: len(tasks) for shape, tasks in shapes.items()})
    (common, _), *others = counts.most_common()
    batch, accum = common
    text = (
        f"{batch * accum * workers} = {batch} per worker x {accum} accumulation step(s) x "
        f"{workers} worker(s)"
    )
    for (batch, accum), _ in others:
        text += f"; {', '.join(shapes[batch, accum])}: {batch * accum * workers} = {batch} x {accum} x {workers}"
    return text


def _memory_text(spec: SweepSpec, workers: int, precision: str) -> str:
    parameters = model_parameters(spec.model)
    if parameters is None:
        return f"unknown (no parameter count for {spec.model.name})"
    ds = spec.deepspeed
    stage = ds.stage(workers)
    offload = ds.offload_optimizer and stage > 0
    size = model_state_bytes(parameters, stage, workers, precision, offload)
    sharded = SHARDED[stage] + (f" over {workers} worker(s)" if stage else "")
    if stage and workers == 1:
        sharded = f"ZeRO-{stage} with 1 worker: nothing sharded"
    extra = "; optimizer states offloaded to CPU memory" if offload else ""
    return (
        f"~{_bytes(size)} of model states ({_count(parameters)} parameters x "
        f"{size / parameters:.3g} B: {sharded}{extra}); activations not included"
    )


def _bytes(size: float) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def _count(parameters: int) -> str:
    return f"{parameters / 1e6:.0f}M" if parameters >= 1e7 else f"{parameters / 1e6:.2f}M"


def _mixture_lines(plan: Plan) -> list[str]:
    """One line per mixture of the intermediate phase: members, sampler and probabilities."""
    lines = []
    for entry in plan.spec.phases.intermediate.tasks:
        mixture = plan.spec.mixture(entry)
        if mixture is None:
            continue
        config = MixtureConfig.model_validate(entry_fields(plan.spec, entry)["mixture"])
        sizes = {m.key(): TRAIN_SIZES.get(m.task, 10_000) for m in config.members}
        shares = ", ".join(f"{k} {p:.0%}" for k, p in config.probabilities(sizes).items())
        sampler = mixture.sampler
        how = sampler.kind + (
            f" K={sampler.cap}"
            if sampler.cap
            else f" T={sampler.temperature:g}"
            if sampler.temperature
            else ""
        )
        lines.append(f"  mixture {entry}: {len(config.members)} task(s), sampler {how}: {shares}")
    return lines


def _resources(res: ResourcesSpec) -> str:
    return (
        f"{res.workers} worker(s) x {res.cpus_per_worker:g} CPU"
        + (f" + {res.gpus_per_worker:g} GPU" if res.gpus_per_worker else "")
        + f"; up to {res.max_concurrent_trials} trials at once"
    )


def _phase_detail(plan: Plan, phase: str) -> str:
    spec = plan.spec
    if phase == "pretrain":
        pre = spec.phases.pretrain
        return (
            f" (MLM on {', '.join(pre.languages)})"
            if pre.enabled
            else " (skipped: starts from the model's weights)"
        )
    phase_spec = spec.phases.intermediate if phase == "intermediate" else spec.phases.target
    tasks = [t for t in phase_spec.tasks if t != NONE]
    if phase == "target":
        tasks = sorted({t.task for t, _ in plan.weighted_trials("target")}, key=tasks.index)
    hyperopt = phase_spec.search_algorithm == "hyperopt"
    if hyperopt:
        samples = {s.task: s.num_samples for s in plan.searches_for(phase)}
        points = _counts_text(samples, "sample(s)")
    else:
        points = _counts_text({t: len(phase_spec.points_for(t)) for t in tasks}, "grid point(s)")
    if phase == "intermediate":
        shape = f"{len(tasks)} task(s)/mixture(s) x {points} x {len(spec.seeds)} seed(s)"
    else:
        shape = (
            f"{len(plan.intermediate_configs())} starting point(s) ({', '.join(plan.intermediate_configs())}) x "
            f"{len(tasks)} target(s) x {points} x {len(spec.seeds)} seed(s)"
        )
    space = ", ".join(f"{key} {d}" for key, d in phase_spec.space().items()) if hyperopt else ""
    detail = f" (hyperopt: {shape}; {space})" if hyperopt else f" = {shape}"
    if phase == "intermediate":
        return detail + "; plus 'none'" if tasks else " (only 'none')"
    return detail


def _counts_text(counts: dict[str, int], unit: str) -> str:
    """'2 grid point(s)', or per task where they differ: '(xnli: 2, udpos: 1) grid point(s)'."""
    if len(set(counts.values())) <= 1:
        return f"{next(iter(counts.values()), 1)} {unit}"
    return "(" + ", ".join(f"{t}: {n}" for t, n in counts.items()) + f") {unit}"
