#!/usr/bin/env bash
# Cross-compile the kernel library for aarch64 (where the x86 micro-kernels
# compile to nothing and the generic ones run), with -Werror, and run the C
# smoke test under qemu.  Needs gcc-aarch64-linux-gnu and qemu-user.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$(mktemp -d)}
cc=aarch64-linux-gnu-gcc
mapfile -t flags < <(grep -v '^#' "$root/csrc/cflags.txt")
objs=()
for src in $(grep -v '^#' "$root/csrc/sources.txt"); do
  obj="$out/$(basename "$src" .c).o"
  "$cc" "${flags[@]}" -Wall -Wextra -Werror -fopenmp -I"$root/csrc/include" -I"$root/csrc" -c "$root/$src" -o "$obj"
  objs+=("$obj")
done
"$cc" "${flags[@]}" -fopenmp -I"$root/csrc/include" "$root/tests/c/portable_smoke.c" "${objs[@]}" \
  -lm -ldl -o "$out/portable_smoke"
OMP_NUM_THREADS=2 qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/portable_smoke"
