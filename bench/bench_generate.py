"""Generation speed: batched (left padding, length-sorted batches) vs one prompt at a time with `model.generate`,
on the small base model, 1,000 suite prompts, greedy. Target: >= 8x faster with identical answers.
Run: .venv/bin/python bench/bench_generate.py [MODEL_DIR]   (default: the cached small base model)"""
import sys, time, torch
from ca_nb.models import load_model, render_prompt
from ca_nb.suite import mini_suite
from ca_nb.generate import generate, GenConfig, one_at_a_time
from ca_nb.sft import cached_base
from ca_nb.pipeline import get_preset

p = get_preset('small')
model_dir = sys.argv[1] if len(sys.argv) > 1 else cached_base(p.tiny, p.base, p.data)
torch.set_num_threads(2)  # both loops get both cores; only the batched one can use them
model, tok, _ = load_model(model_dir)
tasks = mini_suite(n_train=10, n_dev=10, n_test=60)
prompts = [render_prompt(text, i.input, tok) for t in tasks for i in t.instances_for('test') for _, text in t.variants('test')][:1000]
cfg = GenConfig(max_new_tokens=p.eval.max_new_tokens, batch_size=p.eval.batch_size)

t = time.perf_counter(); batched = [a[0] for a in generate(model, tok, prompts, cfg, progress=False)]; tb = time.perf_counter() - t
t = time.perf_counter(); single = one_at_a_time(model, tok, prompts, cfg.max_new_tokens)
ts = time.perf_counter() - t
same = sum(a == b for a, b in zip(batched, single))
print(f"{len(prompts)} prompts: one at a time {ts:.1f}s, batched {tb:.1f}s -> {ts / tb:.1f}x faster "
      f"(target >= 8x: {'met' if ts / tb >= 8 else 'NOT met'}); identical answers {same}/{len(prompts)}")
