"""Metrics speed: CR, MCR, accuracy, spread, gap and CIs for 10,000 instances x 10 variants, exact-match judge.
Target: under 10 s on the 2-core machine.  Run: .venv/bin/python bench/bench_metrics.py"""
import random, time
from ca_nb.metrics import consistency_metrics

rng = random.Random(0)
recs = []
for i in range(10_000):
    ref = ' '.join(str(rng.randint(0, 9)) for _ in range(4))
    for v in ['orig'] + [f'test{j}' for j in range(9)]:
        a = ref if rng.random() < 0.6 else ' '.join(str(rng.randint(0, 9)) for _ in range(4))
        recs.append(dict(task=f't{i % 20}', instance=f'i{i}', variant=v, answer=a, refs=[ref]))
t = time.perf_counter()
m = consistency_metrics(recs)
dt = time.perf_counter() - t
print(f"{m['n_instances']} instances x {m['n_variants']} variants: all metrics with CIs in {dt:.2f}s "
      f"(target < 10 s: {'met' if dt < 10 else 'NOT met'}); CR {m['cr']:.3f} MCR {m['mcr']:.3f} acc {m['accuracy']:.3f}")
