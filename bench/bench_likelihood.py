"""Likelihood self-reward speed on the 12-task SmolLM2 study's stage 2: every distinct answer of 3 train instances per
task (greedy + 2 samples at T=0.7, top-p 0.95, 16 new tokens, under the 9 train wordings) scored under the instance's 8
other wordings. New `completion_logprobs` (answer tokens only, each prompt prefilled once, its answers as one token tree, a LoRA model's adapters merged into a copy) against the old whole-row
implementation (`_completion_logprobs_full`, timed on a few batches and extrapolated). Target: new <= 3 minutes on 2 cores.
The answers are those of the study run in RUN (default /work/runs/smollm2_12) when it has them, scored by its IA-SFT
model; otherwise the base SmolLM2 samples them here first (cached, not timed) and scores them.
Wall seconds are the target's measure; on a machine shared with other jobs they stretch, and the CPU seconds of a
one-thread run (THREADS=1: no threads spinning at barriers while descheduled) are the steadier comparison.
Run: .venv/bin/python bench/bench_likelihood.py [RUN] [THREADS] [BATCH]   (default THREADS: 2, the study's; BATCH: 256, the
study's: 4 x its judge batch of 64; OLD=0 in the environment skips the old implementation)"""
import os, shutil, sys, time
import numpy as np
from ca_nb.files import cache_dir
from ca_nb.data import DataConfig, load_tasks
from ca_nb.tasks import shared_sni_dir
from ca_nb.models import load_model, seed_everything
from ca_nb.pipeline import get_preset
from ca_nb.align import sample_candidates, candidate_items
from ca_nb.reward import completion_logprobs, merged_lora, _completion_logprobs_full

IDS = ('task092_check_prime_classification,task365_synthetic_remove_vowels,task369_synthetic_remove_odds,'
       'task850_synthetic_longest_palindrome,task1148_maximum_ascii_value,task1189_check_char_in_string,'
       'task1316_remove_duplicates_string,task1332_check_leap_year,task1403_check_validity_date_mmddyyyy,'
       'task1404_date_conversion,task1443_string_to_number,task1498_24hour_to_12hour_clock').split(',')
OLD_BATCHES = 3  # batches of the old implementation timed, spread over the work

run = sys.argv[1] if len(sys.argv) > 1 else '/work/runs/smollm2_12'
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 256
sni = shared_sni_dir()
tasks = load_tasks(DataConfig(tasks=str(sni / 'tasks'), task_ids=list(IDS), paraphrases=str(sni / 'paraphrases' / 'train.jsonl'),
                              train_instances='generated', n_train=40, n_dev=10, n_test=40))
cfg = get_preset('real').align.sample
have_run = all(os.path.exists(os.path.join(run, p)) for p in ('ia_sft/adapter_config.json', 'responses/greedy.jsonl', 'responses/samples.jsonl'))
seed_everything(0, threads=threads)
model, tok, _ = load_model(os.path.join(run, 'ia_sft') if have_run else 'smollm2')
answers = os.path.join(cache_dir(), 'bench_likelihood', 'run' if have_run else 'smollm2')
if have_run:  # a copy: the run's own caches are never written to
    for f in ('greedy.jsonl', 'samples.jsonl'): os.makedirs(answers, exist_ok=True); shutil.copy(os.path.join(run, 'responses', f), answers)
t = time.perf_counter()
recs = sample_candidates(model, tok, tasks, cfg, seed=0, cache_dir=answers, progress=False)
print(f"answers: {'the study run ' + run if have_run else 'sampled here by the base SmolLM2'} ({time.perf_counter() - t:.0f}s, not timed)")

items = candidate_items(recs, 'likelihood')
prompts = [p for it in items for p in it['other_prompts']]
comps = [' ' + it['answer'] for it in items for _ in it['other_prompts']]
print(f"{len(items)} distinct answers of {len({(r['task'], r['instance']) for r in recs})} instances; {len(prompts)} (prompt, answer) "
      f"pairs, {len(set(zip(prompts, comps)))} distinct, over {len(set(prompts))} prompts")

def timed(f, *a):
    "f(*a), its wall seconds and its CPU seconds (all threads together)."
    w, c = time.perf_counter(), time.process_time(); out = f(*a)
    return out, time.perf_counter() - w, time.process_time() - c

new, t_new, c_new = timed(lambda: completion_logprobs(merged_lora(model), tok, prompts, comps, batch))  # as the study scores: a merged copy of the LoRA model
print(f"new (answer tokens only, prompts prefilled once, answers as trees, batches of {batch}): {t_new:.0f}s wall, {c_new:.0f} CPU s for all "
      f"{len(prompts)} pairs; target <= 180s on 2 cores: {'met' if t_new <= 180 else 'NOT met'}", flush=True)
if os.environ.get('OLD') == '0': sys.exit(0)

B = 64  # both at the default batch size
starts = [int(s) for s in np.linspace(0, len(prompts) - B, OLD_BATCHES)]
sub = [i for s in starts for i in range(s, s + B)]
old, t_old, c_old = timed(_completion_logprobs_full, model, tok, [prompts[i] for i in sub], [comps[i] for i in sub], B)
t_old, c_old = t_old * len(prompts) / len(sub), c_old * len(prompts) / len(sub)
diff = float(np.abs(old - new[sub]).max())
print(f"old (whole rows, full log-softmax): {t_old:.0f}s wall, {c_old:.0f} CPU s, EXTRAPOLATED from {len(sub)} of {len(prompts)} "
      f"pairs ({OLD_BATCHES} batches of {B})")
print(f"new (answer tokens only, prompts prefilled once, answers as trees): {t_new:.0f}s wall, {c_new:.0f} CPU s for all {len(prompts)} pairs "
      f"-> {t_old / t_new:.1f}x faster (CPU: {c_old / c_new:.1f}x); target <= 180s on 2 cores: {'met' if t_new <= 180 else 'NOT met'}"
      f"{f'; with perfect 2-thread scaling its one-thread CPU time would take {c_new / 2:.0f}s on 2 free cores' if threads == 1 else ''}")
print(f"max abs difference of the mean log-probabilities on those {len(sub)} pairs: {diff:.2e}; "
      f"{threads} torch thread(s); load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
