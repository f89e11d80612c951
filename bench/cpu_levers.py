#!/usr/bin/env python
"""What makes the real preset cheaper on a CPU, measured on SmolLM2-135M-Instruct in one run: bf16 against fp32 for
greedy generation (time, answers that change, metrics) and for LoRA IA-SFT steps (time per step, loss curves), and
what the chat template's default system prompt costs in tokens.

Usage (project root):  .venv/bin/python bench/cpu_levers.py [--instances 4] [--steps 8] [--out FILE.json]
It prints one line per measurement and the ratios last."""
import argparse, json, os, tempfile, time
import torch
from ca_nb.tasks import shared_sni_dir
from ca_nb.data import DataConfig, load_tasks
from ca_nb.models import load_model, render_prompt, seed_everything
from ca_nb.metrics import EvalConfig, evaluate
from ca_nb.sft import sft_dataset

IDS = ('task092_check_prime_classification,task365_synthetic_remove_vowels,task369_synthetic_remove_odds,'
       'task850_synthetic_longest_palindrome,task1148_maximum_ascii_value,task1189_check_char_in_string,'
       'task1316_remove_duplicates_string,task1332_check_leap_year,task1403_check_validity_date_mmddyyyy,'
       'task1404_date_conversion,task1443_string_to_number,task1498_24hour_to_12hour_clock').split(',')

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--instances', type=int, default=4); ap.add_argument('--steps', type=int, default=4)
ap.add_argument('--batch', type=int, default=4); ap.add_argument('--budget', type=float, default=300, help='seconds per dtype at most')
ap.add_argument('--threads', type=int, default=2); ap.add_argument('--out', default=None)
a = ap.parse_args()
sni = shared_sni_dir()
if sni is None: raise SystemExit("error: ../shared/data/sni not found (the SNI tasks this bench runs on)")
tasks = load_tasks(DataConfig(str(sni / 'tasks'), IDS, str(sni / 'paraphrases' / 'train.jsonl'), str(sni / 'paraphrases' / 'dev.jsonl'),
                              train_instances='generated', n_train=40, n_dev=0, n_test=0))
seed_everything(0, a.threads)
tmp, res = tempfile.mkdtemp(), {}

# 1. prompt tokens: the template's default system prompt on every sequence
_, tok, _ = load_model('smollm2')
t = tasks[0]; inst = t.instances_for('test')[0]
with_sys = tok(render_prompt(t.definition, inst.input, tok))['input_ids']
no_sys = tok(tok.apply_chat_template([{'role': 'system', 'content': ''}, {'role': 'user', 'content': f"{t.definition}\n{inst.input}"}],
                                     tokenize=False, add_generation_prompt=True))['input_ids']
lens = [len(tok(render_prompt(tt.definition, i.input, tok))['input_ids']) for tt in tasks for i in tt.instances_for('test')[:a.instances]]
res['prompt_tokens'] = dict(system_prompt_tokens=len(with_sys) - len(no_sys), mean_prompt_tokens=round(sum(lens) / len(lens), 1))
print(f"prompt tokens: {res['prompt_tokens']}")

# 2. greedy generation, fp32 weights against bf16 weights
answers = {}
for dt in ('float32', 'bfloat16'):
    m, tok, _ = load_model('smollm2', dt, 'cpu')
    t0 = time.time()
    r = evaluate(m, tok, tasks, EvalConfig(max_new_tokens=32, batch_size=32, n_instances=a.instances), os.path.join(tmp, dt), progress=False)
    sec = time.time() - t0
    answers[dt] = {(x['task'], x['instance'], x['variant']): x['answer'] for x in map(json.loads, open(os.path.join(tmp, dt, 'responses.jsonl')))}
    res[f'generate_{dt}'] = dict(answers=len(answers[dt]), seconds=round(sec, 1), cr=round(r['cr'], 4), accuracy=round(r['accuracy'], 4))
    print(f"generation {dt}: {res[f'generate_{dt}']}"); del m
changed = sum(answers['float32'][k] != answers['bfloat16'][k] for k in answers['float32'])
res['generate_changed_answers'] = changed
print(f"greedy answers that differ between fp32 and bf16: {changed} of {len(answers['float32'])}")

# 3. LoRA training steps, fp32 against bf16 autocast: the same batch of IA-SFT rows, forward + backward + AdamW step
from peft import get_peft_model
from ca_nb.sft import lora_config
ds = sft_dataset(tasks, tok, n_variants=4, seed=0)
texts = [r['prompt'] + r['completion'] for r in ds.select(range(a.batch))]
for dt in ('float32', 'bfloat16'):
    torch.manual_seed(0)
    m, tok, _ = load_model('smollm2'); m = get_peft_model(m, lora_config()); m.train()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=2e-4)
    enc = tok(texts, return_tensors='pt', padding=True)
    losses, secs = [], []
    for step in range(a.steps):
        t0 = time.time()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=dt == 'bfloat16'):
            loss = m(**enc, labels=enc['input_ids'].masked_fill(enc['attention_mask'] == 0, -100)).loss
        loss.backward(); opt.step(); opt.zero_grad()
        losses.append(round(loss.item(), 4)); secs.append(time.time() - t0)
        if sum(secs) > a.budget: break
    res[f'train_{dt}'] = dict(steps=len(secs), tokens_per_step=int(enc['attention_mask'].sum()),
                              s_per_step=round(sum(secs) / len(secs), 2), loss=losses)
    print(f"LoRA training {dt}: {res[f'train_{dt}']}"); del m

res['ratios'] = dict(generate_fp32_over_bf16=round(res['generate_float32']['seconds'] / res['generate_bfloat16']['seconds'], 2),
                     train_fp32_over_bf16=round(res['train_float32']['s_per_step'] / res['train_bfloat16']['s_per_step'], 2),
                     system_prompt_share=round(res['prompt_tokens']['system_prompt_tokens'] / res['prompt_tokens']['mean_prompt_tokens'], 3))
print(f"ratios: {res['ratios']}")
if a.out: json.dump(res, open(a.out, 'w'), indent=1)
print(json.dumps(res))
