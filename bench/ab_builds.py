"""Old build against new, on a noisy machine: builds the wheel of a base
commit into a scratch folder, then runs a timing script alternately with that
build and with the working tree's (each run its own process, a pause between),
and prints the best time of each side per case.

    python bench/ab_builds.py 7ce0c39 bench/ab_layers.py --rounds 2 --threads 1

The timing script prints lines "TIME <case> <seconds>"; other lines are
ignored.  Same-process comparisons are not possible across two builds of the
extension, so alternating separate processes is what keeps background load
from favouring one side.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

# Runs the script with the base build: the editable install's import hook
# is removed so that the build in `where` is the fastconv imported; the
# script's folder goes on the path as `python script` would put it.
OLD_PRELUDE = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
    "if 'ScikitBuildRedirecting' not in type(f).__name__]; "
    "sys.path[:0] = [{where!r}, {folder!r}]; sys.argv = [{script!r}]; "
    "exec(compile(open({script!r}).read(), {script!r}, 'exec'))")


def build_base(commit, scratch):
    tree, wheels, target = (os.path.join(scratch, d) for d in ("tree", "wheels", "site"))
    subprocess.run(["git", "worktree", "add", "--detach", tree, commit], check=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", tree, "-w", wheels],
                       check=True)
        wheel = os.path.join(wheels, os.listdir(wheels)[0])
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        target, wheel], check=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", tree], check=True)
    return target


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "TIME":
            times[parts[1]] = float(parts[2])
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", help="the commit to compare against")
    ap.add_argument("script", help="a timing script printing 'TIME <case> <seconds>' lines")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    script = os.path.abspath(args.script)
    best = {"old": defaultdict(lambda: float("inf")), "new": defaultdict(lambda: float("inf"))}
    with tempfile.TemporaryDirectory() as scratch:
        where = build_base(args.base, scratch)
        old = [sys.executable, "-c", OLD_PRELUDE.format(where=where, script=script,
                                                        folder=os.path.dirname(script))]
        for _ in range(args.rounds):
            for side, cmd in (("old", old), ("new", [sys.executable, script])):
                for case, t in run(cmd, env).items():
                    best[side][case] = min(best[side][case], t)
                time.sleep(1)
    print(f"| case | {args.base} ms | working tree ms | speed-up |")
    print("|---|---|---|---|")
    for case, t_new in best["new"].items():
        t_old = best["old"].get(case, float("nan"))
        print(f"| {case} | {t_old * 1e3:.2f} | {t_new * 1e3:.2f} | {t_old / t_new:.2f}x |")


if __name__ == "__main__":
    main()
