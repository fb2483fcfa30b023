"""`sdlscape crosscheck INSTANCE --starts N`: where gradient descent from many starts ends, against the landscape."""
from __future__ import annotations

import time

from sdlscape.commands._common import (
    add_instance_argument,
    add_json_argument,
    check_device_early,
    check_device_torch,
    check_memory,
    crosscheck_bytes,
    device_name,
    load_instance_arg,
    positive_float,
    positive_int,
    seed_int,
    write_result,
)
from sdlscape.errors import InputError

DESCRIPTION = """\
Train N independent models of L~ (eq. 11) in one batched tensor program, match every end point to its
activation-pattern piece of the landscape (computed unless --landscape is given), compare its loss with the
piece's ACS value, and test resampling of dead latents at spurious minima."""


def register(sub) -> None:
    p = sub.add_parser("crosscheck", help="match many gradient-descent runs of L~ to the exact landscape",
                       description=DESCRIPTION)
    add_instance_argument(p)
    p.add_argument("--starts", type=int, required=True, help="number of independent gradient runs (>= 1)")
    p.add_argument("--device", type=device_name, default="cpu", help="cpu, cuda or cuda:i (default cpu)")
    p.add_argument("--steps", type=positive_int, default=10000, help="gradient steps per run (default 10000)")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam step size, cosine-decayed (default 1e-2)")
    p.add_argument("--init", choices=("random", "tied", "both"), default="both",
                   help="initialisation: Gaussian, tied (W_E = W_D^T), or half of each (default both)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the starting points (default 0)")
    p.add_argument("--landscape", metavar="FILE", help="a landscape result (JSON from `sdlscape landscape`)")
    p.add_argument("--landscape-starts", type=positive_int, default=4,
                   help="ACS starts per piece when the landscape is computed here (default 4)")
    p.add_argument("--no-resampling", action="store_true",
                   help="skip the resampling experiment at spurious minima with dead latents")
    p.add_argument("--bench-resampling", action="store_true",
                   help="also train small bench SAEs with and without resampling (Fig. 7 analogue)")
    p.add_argument("--progress", action="store_true", help="show progress bars on stderr")
    add_json_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sdlscape.storage import read_json

    # Every input is read and checked before torch is imported (a bad file is refused in a second).
    if args.starts < 1:
        raise InputError(f"--starts must be >= 1, got {args.starts}")
    check_device_early(args.device)
    inst = load_instance_arg(args.instance, args.normalize)
    check_memory(crosscheck_bytes(inst, args.starts), f"--starts {args.starts}")
    land = None
    if args.landscape:
        try:
            land = read_json(args.landscape)
        except FileNotFoundError:
            raise InputError(f"cannot read landscape file {args.landscape!r}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"landscape file {args.landscape!r} is a directory") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read landscape file {args.landscape!r}: {str(exc).splitlines()[0]}") from None
        if not isinstance(land, dict) or not isinstance(land.get("pieces"), list):
            raise InputError(f"landscape file {args.landscape!r} is not a landscape result "
                             "(JSON from `sdlscape landscape --json`)")
    else:                 # the landscape is computed here: refuse at once an instance too large for it
        from sdlscape.solvers.landscape import DEFAULT_EPS, DEFAULT_MAX_PIECES
        from sdlscape.solvers.piece_bounds import check_enumerable

        check_enumerable(inst, DEFAULT_MAX_PIECES, DEFAULT_EPS)
    from sdlscape.storage import provenance
    from sdlscape.verify.crosscheck import run_crosscheck, summary_lines

    check_device_torch(args.device)
    t0 = time.perf_counter()
    res = run_crosscheck(inst, args.starts, steps=args.steps, device=args.device, seed=args.seed, landscape=land,
                         init=args.init, progress=args.progress, lr=args.lr, resampling=not args.no_resampling,
                         landscape_starts=args.landscape_starts)
    if args.bench_resampling:
        from sdlscape.bench.resampling import bench_resampling

        res["bench_resampling"] = bench_resampling(seed=args.seed, device=args.device)
    res["provenance"] = provenance(args.device, time.perf_counter() - t0)
    print("\n".join(summary_lines(res)))
    write_result(args, res)
    return 0
