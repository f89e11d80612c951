"""Base model target: the `small` base model reaches >= 90% exact-match accuracy on canonical-instruction test
instances of the embedded suite, trained in <= 10 minutes on 2 cores. Prints accuracy and wall time.
Run: .venv/bin/python bench/bench_base.py [OUT_DIR]"""
import sys, time, tempfile
from ca_nb.models import load_model, RunContext
from ca_nb.data import load_tasks
from ca_nb.metrics import evaluate
from ca_nb.sft import train_base
from ca_nb.pipeline import get_preset

out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp() + '/base'
p = get_preset('small')
tasks = load_tasks(p.data)
t = time.perf_counter(); train_base(out, tasks, p.tiny, p.base, RunContext(seed=0, threads=p.threads)); dt = time.perf_counter() - t
model, tok, _ = load_model(out)
for t_ in tasks: t_.paraphrases = {}  # canonical instruction only
m = evaluate(model, tok, tasks, p.eval, progress=False)
print(f"small base: trained in {dt / 60:.1f} min (target <= 10); canonical test accuracy {m['accuracy']:.3f} "
      f"{m['ci']['accuracy']} over {m['n_instances']} instances (target >= 0.90)")
worst = sorted(m['per_task'].items(), key=lambda kv: kv[1]['accuracy'])[:5]
print("weakest tasks:", ", ".join(f"{k} {v['accuracy']:.2f}" for k, v in worst))
