#!/usr/bin/env bash
# Rebuild the committed generated instances (run from the repository root). Every file is
# reproducible from (family, seed, knobs); manifest.json records each file's command and SHA-256.
set -euo pipefail
out=instances/generated
rm -f "$out"/*.json
optplace generate --family hetero --count 4 --seed 0 --out "$out"
optplace generate --family scale-10 --count 2 --seed 0 --out "$out"
optplace generate --family scale-100 --count 2 --seed 0 --out "$out"
for family in loose tight very-tight edgetpu switch-light switch-heavy skewed percentile edge-mixed datacenter \
  edgetpu-zipf-tail fcfs-dominant fcfs-dominant-mean ps-scv ps-low-load; do
  optplace generate --family "$family" --count 1 --seed 0 --out "$out"
done
# Larger sets are not committed; generate them the same way, e.g.
#   optplace generate --family scale-1000 --count 5 --seed 0 --out /tmp/scale-1000
#   optplace generate --family scale-10000 --count 1 --seed 0 --out /tmp/scale-10000
