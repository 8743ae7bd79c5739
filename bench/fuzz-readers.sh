#!/usr/bin/env bash
# Mutation fuzzing of every PEM/DER reader, in process, for as long as you like:
# MUTANTS mutants per seed (default 200000), seeds 1..SEEDS (default 5). Each
# mutant of a real k3s file must give an error or a value, never a panic, and no
# message may hold key material (shared/tests/shared/mutation.rs). A failure names its
# seed and mutant number: rerun with MUTATION_SEED=<seed> to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
mutants=${MUTANTS:-200000}
seeds=${SEEDS:-5}
for seed in $(seq 1 "$seeds"); do
  if ! out=$(MUTANTS=$mutants MUTATION_SEED=$seed \
    cargo test --release --locked -q -p shared --test shared mutation:: -- --nocapture 2>&1); then
    echo "$out" | grep -E 'panicked|mutant [0-9]' >&2
    exit 1
  fi
  echo "$out" | grep -E '^[0-9]+ mutants'
done
