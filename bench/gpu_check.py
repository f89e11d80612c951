"""The real preset on one device, timed: evaluation, a few LoRA IA-SFT steps, a few DPO steps on SmolLM2 (or any
--model), with generation and training tokens/s, peak memory and the model-FLOPs utilisation of the training steps.

Run on a GPU:  .venv/bin/python bench/gpu_check.py --device cuda            (SmolLM2-135M-Instruct, bf16 where supported)
Check on CPU:  .venv/bin/python bench/gpu_check.py --device cpu --model DIR --steps 2 --instances 2
It prints one line per measurement and a JSON summary last."""
import argparse, json, os, tempfile, time
import torch
from ca_nb.tasks import shared_sni_dir
from ca_nb.data import DataConfig, load_tasks
from ca_nb.models import load_model, resolve_device, RunContext
from ca_nb.metrics import EvalConfig, evaluate
from ca_nb.sft import IASFTConfig, sft_dataset, train_sft, throughput
from ca_nb.align import AlignConfig, SampleConfig, CATConfig, run_alignment

PEAK_TFLOPS = {'H200': 989.0, 'H100': 989.0, 'A100': 312.0, 'L4': 121.0}  # dense bf16, by device name

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('--model', default='smollm2'); ap.add_argument('--device', default='cuda'); ap.add_argument('--dtype', default='auto')
ap.add_argument('--steps', type=int, default=10); ap.add_argument('--instances', type=int, default=20)
ap.add_argument('--tasks', default=None, help='SNI task folder (default: ../shared/data/sni/tasks, else the embedded suite)')
a = ap.parse_args()
device = resolve_device(a.device)
ctx = RunContext(0, device, a.dtype, progress=False, log=lambda *x: None)
sni = shared_sni_dir()
data = DataConfig(a.tasks or str(sni / 'tasks'), ['task1332_check_leap_year', 'task365_synthetic_remove_vowels', 'task1498_24hour_to_12hour_clock'],
                  str(sni / 'paraphrases' / 'train.jsonl'), str(sni / 'paraphrases' / 'dev.jsonl'), n_test=a.instances, n_dev=5) \
       if (a.tasks or sni) else DataConfig(n_test=a.instances)
tasks, out, res = load_tasks(data), tempfile.mkdtemp(), dict(device=device, model=a.model)
if device == 'cuda': torch.cuda.reset_peak_memory_stats(); res['gpu'] = torch.cuda.get_device_name()

def peak(): return torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else float('nan')

# 1. evaluation: greedy answers for every instance x wording
m, tok, info = load_model(a.model, a.dtype, device)
t = time.time(); r = evaluate(m, tok, tasks, EvalConfig(max_new_tokens=32, batch_size=64), os.path.join(out, 'eval'), progress=False)
dt = time.time() - t
new_tokens = sum(len(tok(json.loads(l)['answer'])['input_ids']) for l in open(os.path.join(out, 'eval', 'responses.jsonl')))
res['eval'] = dict(answers=r['n_instances'] * r['n_variants'], seconds=round(dt, 1), new_tokens_per_s=round(new_tokens / dt), cr=r['cr'],
                   accuracy=r['accuracy'], peak_gib=round(peak(), 2))
print(f"evaluation: {res['eval']}")
n_params = sum(p.numel() for p in m.parameters()); del m

# 2. LoRA IA-SFT steps
m, tok, _ = load_model(a.model); m.train()
cfg = IASFTConfig(n_variants=4, max_steps=a.steps, learning_rate=2e-4, per_device_train_batch_size=8, logging_steps=1)
t = time.time(); train_sft(m, tok, sft_dataset(tasks, tok, 4), os.path.join(out, 'sft'), cfg, ctx, lora=True)
th = throughput(os.path.join(out, 'sft')); dt = time.time() - t
flops = 6 * n_params * th['tokens']  # forward + backward through the frozen base dominates; an upper bound with LoRA's small extra
peak_tflops = next((v for k, v in PEAK_TFLOPS.items() if k in res.get('gpu', '')), None)
res['ia_sft'] = dict(steps=a.steps, tokens_per_s=round(th['tokens_per_s']), loss=[th['first_loss'], th['last_loss']], seconds=round(dt, 1),
                     achieved_tflops=round(flops / th['seconds'] / 1e12, 2), mfu=round(flops / th['seconds'] / 1e12 / peak_tflops, 4) if peak_tflops else None,
                     peak_gib=round(peak(), 2))
print(f"IA-SFT (LoRA): {res['ia_sft']}")
del m

# 3. DPO steps of stage 2 on the IA-SFT adapter
t = time.time()
s = run_alignment(os.path.join(out, 'sft'), tasks, os.path.join(out, 'cat'), AlignConfig(sample=SampleConfig(n_instances=4, n_samples=2, temperature=0.7,
                  top_p=0.95, max_new_tokens=32, batch_size=64), cat=CATConfig(max_steps=a.steps, learning_rate=5e-5, per_device_train_batch_size=4,
                  logging_steps=1)), ctx, work=out, lora=True)
log = json.load(open(os.path.join(out, 'cat', 'train_log.json')))
rt = next((x['train_runtime'] for x in log if 'train_runtime' in x), None)
res['cat'] = dict(steps=a.steps, pairs=s['n_pairs'], pair_precision=s['pair_quality']['precision'], stage2_seconds=round(time.time() - t, 1),
                  dpo_seconds=rt, seconds_per_step=round(rt / a.steps, 3) if rt else None, peak_gib=round(peak(), 2))
print(f"CAT (DPO + λ SFT, LoRA): {res['cat']}")
print(json.dumps(res))
