#!/usr/bin/env bash
# Copyright 2026 the Reaper authors. MIT license.
# Proof (d), with the open-file limit raised: 10,000 idle connections need
# about 10,500 descriptors in the server and in the client. Raises the soft
# `ulimit -n` to the hard limit, then runs bench/proof/idle_10k.ts with the
# arguments given.
#   bash bench/proof/idle_10k.sh [--connections 10000] [--servers ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
hard=$(ulimit -Hn)
ulimit -n "$hard" || true
echo "ulimit -n: $(ulimit -n) (hard limit $hard)"
exec npx -y deno@2.9.6 run -A bench/proof/idle_10k.ts "$@"
