"""The fair test's records in and out of their committed form (called by
scripts/compare-records.sh):

    .venv/bin/python scripts/pack_records.py pack RUN_DIR STAGE_DIR DOC_DIR
    python3 scripts/pack_records.py unpack STAGE_DIR RUN_DIR

pack copies every file a resume or a re-analysis reads into STAGE_DIR, with each run's
ppo/metrics.jsonl summarised to the fields the analysis reads (step, kl, weights:
fastrl-experiments' StepSummary), and writes the set's reports and figures (as 32-colour
palette PNGs, about 7x smaller, the same picture) to DOC_DIR.

The per-response scores, the KL and the weights are f32 values the trainer widened to f64;
their f64 text takes 17 digits where the f32's shortest text takes at most 9. pack writes
the shortest text that parses back to the same f32 (a third smaller once compressed) and
refuses a value that is not an f32; unpack widens each back to the f32's exact f64, so
the unpacked records equal the originals value for value.
"""
import json
import os
import shutil
import struct
import sys


def f32(x: float) -> float:
    """x rounded to the nearest f32, as an f64."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def shortest(x: float, where: str) -> float:
    """The f64 with the shortest text that rounds to the same f32 as x (x must be one)."""
    if f32(x) != x:
        sys.exit(f"error: {where}: {x!r} is not an f32 value; these records cannot be packed")
    for digits in range(1, 10):
        y = float("%.*g" % (digits, x))
        if f32(y) == x:
            return y
    return x


def map_floats(eval_json: dict, fn, where: str) -> dict:
    """eval.json / start-s*.json with fn applied to every per-response score."""
    eval_json["scores"] = {
        k: [fn(x, f"{where} scores.{k}") for x in v] for k, v in eval_json["scores"].items()
    }
    return eval_json


def map_step(line: dict, fn, where: str) -> dict:
    """A metrics.jsonl line reduced to step, kl and weights, fn applied to kl and weights."""
    return {
        "step": line["step"],
        "kl": fn(line["kl"], f"{where} kl"),
        "weights": {k: fn(v, f"{where} weights.{k}") for k, v in line["weights"].items()},
    }


def widen(x: float, _where: str) -> float:
    return f32(x)


def write_json(path: str, value: dict) -> None:
    with open(path, "w") as f:
        json.dump(value, f)


def convert_tree(src: str, dst: str, fn) -> None:
    """Copies one set's records from src to dst, fn applied to their f32 values."""
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name in ("settings.toml", "plan.json"):
            shutil.copy2(path, os.path.join(dst, name))
        elif name.startswith("start-s") and name.endswith(".json"):
            with open(path) as f:
                write_json(os.path.join(dst, name), map_floats(json.load(f), fn, path))
        elif os.path.isdir(path) and os.path.isfile(os.path.join(path, "eval.json")):
            # Only finished runs: an unfinished one resumes from a checkpoint not kept here.
            os.makedirs(os.path.join(dst, name, "ppo"), exist_ok=True)
            for f in ("config.toml", "ppo/eval-curve.jsonl"):
                if os.path.isfile(os.path.join(path, f)):
                    shutil.copy2(os.path.join(path, f), os.path.join(dst, name, f))
            ev = os.path.join(path, "eval.json")
            with open(ev) as f:
                write_json(os.path.join(dst, name, "eval.json"), map_floats(json.load(f), fn, ev))
            metrics = os.path.join(path, "ppo", "metrics.jsonl")
            with open(metrics) as fin, open(os.path.join(dst, name, "ppo", "metrics.jsonl"), "w") as fout:
                for i, line in enumerate(fin, 1):
                    if line.strip():
                        fout.write(json.dumps(map_step(json.loads(line), fn, f"{metrics}:{i}")) + "\n")


def pack(run: str, stage: str, doc: str) -> None:
    from PIL import Image

    convert_tree(run, stage, shortest)
    os.makedirs(doc, exist_ok=True)
    for name in sorted(os.listdir(run)):
        src = os.path.join(run, name)
        if name.startswith("report") and name.endswith(".md"):
            shutil.copy2(src, os.path.join(doc, name))
        elif name.endswith(".png"):
            img = Image.open(src).convert("RGB").quantize(colors=32, method=Image.Quantize.MEDIANCUT)
            img.save(os.path.join(doc, name), optimize=True)


def unpack(stage: str, run: str) -> None:
    convert_tree(stage, run, widen)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "pack":
        pack(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "unpack":
        unpack(*sys.argv[2:])
    else:
        sys.exit(__doc__)
