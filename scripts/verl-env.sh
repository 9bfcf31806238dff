#!/usr/bin/env bash
# Creates the project-local Python environment .venv-verl (idempotent) for the tests of
# fastrl.verl and fastrl.trl against the real packages: verl 0.9.1 pins transformers<5.11,
# which .venv's 5.24 does not meet, so it gets an environment of its own. Installs the
# pins below and builds and installs the fastrl package from bindings/fastrl-python (maturin).
#   ./scripts/verl-env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-verl/bin/python ] || python3 -m venv .venv-verl
py=.venv-verl/bin/python
# torch 2.11.0 with its CUDA libraries and triton is 4.6 GB on disk. Where .venv (made
# first by python-env.sh) has the same torch for the same Python, hard-link it instead of
# installing a second copy: pip then finds torch installed and installs only the rest.
# Hard links share the files; pip replaces files, never writes into them, so neither venv
# can change the other's. On another file system (cp -l fails) pip installs it as usual.
site() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
if [ -x .venv/bin/python ] && ! $py -c 'import torch' 2>/dev/null &&
    [ "$(.venv/bin/python -c 'import sys; print(sys.version)')" = "$($py -c 'import sys; print(sys.version)')" ] &&
    .venv/bin/python -c 'from importlib.metadata import version; assert version("torch") == "2.11.0"' 2>/dev/null
then
    from=$(site .venv/bin/python) to=$(site $py)
    heavy=()  # the packages and their dist-info folders; a pattern matching nothing is skipped
    for h in "$from"/{torch,torchgen,functorch,triton,nvidia,cuda}{,-*.dist-info,_*.dist-info}; do
        [ -e "$h" ] && heavy+=("$h")
    done
    if cp -al "${heavy[@]}" "$to"/ 2>/dev/null; then
        echo "torch, triton and the CUDA libraries hard-linked from .venv ($(du -csh "${heavy[@]}" | tail -1 | cut -f1) not copied)" >&2
    else
        for h in "${heavy[@]}"; do rm -rf "$to/$(basename "$h")"; done
    fi
fi
# verl and trl as tested; transformers: the newest that verl (<5.11) and trl 1.16 accept.
# cachetools..TransferQueue: what verl's trainer modules import (verl's "verl-core" extra,
# without the GPU-only parts), so the legacy and the v1 trainer both import on a CPU.
pins=(
    torch==2.11.0 verl==0.9.1 trl==1.16.0 transformers==5.10.4 pytest==9.2.0
    cachetools==8.0.2 uvicorn==0.55.0 fastapi==0.165.0 pyzmq==27.3.0 msgspec==0.23.0
    TransferQueue==0.1.11
)
if ! $py - "${pins[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(any(version(p.split("==")[0]) != p.split("==")[1] for p in sys.argv[1:]))
PY
then
    $py -m pip install -q --upgrade pip
    $py -m pip install -q "${pins[@]}"
fi
$py -m pip install -q ./bindings/fastrl-python
$py -c "import fastrl.verl, fastrl.trl, verl, trl; print(f'fastrl installed in .venv-verl (verl {verl.__version__}, trl {trl.__version__})')"
