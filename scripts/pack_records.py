"""Stages one reward set of the fair test for docs/results (called by
scripts/compare-records.sh pack): copies every file a resume or a re-analysis reads into
STAGE, with each run's ppo/metrics.jsonl summarised to the fields the analysis reads
(step, kl, weights: fastrl-experiments' StepSummary), and writes the set's figures as
32-colour palette PNGs (about 7x smaller, the same picture).

    .venv/bin/python scripts/pack_records.py RUN_DIR STAGE_DIR DOC_DIR
"""
import json
import os
import shutil
import sys

from PIL import Image


def main(run: str, stage: str, doc: str) -> None:
    os.makedirs(stage, exist_ok=True)
    for name in sorted(os.listdir(run)):
        src = os.path.join(run, name)
        if name in ("settings.toml", "plan.json") or (name.startswith("start-s") and name.endswith(".json")):
            shutil.copy2(src, os.path.join(stage, name))
        elif os.path.isdir(src) and os.path.isfile(os.path.join(src, "eval.json")):
            # Only finished runs: an unfinished one resumes from a checkpoint not kept here.
            os.makedirs(os.path.join(stage, name, "ppo"), exist_ok=True)
            for f in ("config.toml", "eval.json", "ppo/eval-curve.jsonl"):
                if os.path.isfile(os.path.join(src, f)):
                    shutil.copy2(os.path.join(src, f), os.path.join(stage, name, f))
            with open(os.path.join(src, "ppo", "metrics.jsonl")) as fin, open(
                os.path.join(stage, name, "ppo", "metrics.jsonl"), "w"
            ) as fout:
                for line in fin:
                    if line.strip():
                        j = json.loads(line)
                        fout.write(json.dumps({k: j[k] for k in ("step", "kl", "weights")}) + "\n")
    os.makedirs(doc, exist_ok=True)
    for name in sorted(os.listdir(run)):
        src = os.path.join(run, name)
        if name.startswith("report") and name.endswith(".md"):
            shutil.copy2(src, os.path.join(doc, name))
        elif name.endswith(".png"):
            img = Image.open(src).convert("RGB").quantize(colors=32, method=Image.Quantize.MEDIANCUT)
            img.save(os.path.join(doc, name), optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
