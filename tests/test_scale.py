"Past one process and one device: the console scripts under torchrun (two CPU ranks, gloo), and the device switches."
import json, os, subprocess, sys

BIN = os.path.dirname(sys.executable)
DATA = ['--preset', 'tiny', '--task-ids', 'sort_asc,max_num,upper_word', '--n-train', '8', '--n-test', '2', '--n-dev', '1']

def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS='1'), **kw)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return r

def rows(path): return [json.loads(l) for l in open(path)]

def test_sft_and_align_under_torchrun(tmp_path, tiny_base):
    "Two ranks train (DDP over gloo), record a world size of 2, lose loss; one model and one set of caches and pairs, equal to one process's."
    torchrun = [os.path.join(BIN, 'torchrun'), '--nproc_per_node', '2', '--master_port', '29517']
    sft2, cat2, cat1 = (str(tmp_path / d) for d in ('sft2', 'cat2', 'cat1'))
    run(torchrun + [os.path.join(BIN, 'ca_nb_sft'), '--model', tiny_base, '--max-steps', '8', '--logging-steps', '1', '--out', sft2] + DATA)
    info = json.load(open(os.path.join(sft2, 'ca_nb_run.json')))
    assert info['world_size'] == 2
    losses = [r['loss'] for r in json.load(open(os.path.join(sft2, 'train_log.json'))) if 'loss' in r]
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert sorted(f for f in os.listdir(sft2) if f.endswith('.safetensors')) == ['model.safetensors']
    align = ['--model', sft2, '--n-instances', '2', '--max-steps', '2', '--per-device-train-batch-size', '4']
    run(torchrun + [os.path.join(BIN, 'ca_nb_align')] + align + ['--out', cat2] + DATA)
    run([os.path.join(BIN, 'ca_nb_align')] + align + ['--out', cat1] + DATA)
    assert json.load(open(os.path.join(cat2, 'ca_nb_run.json')))['world_size'] == 2
    for f in ('rewards.jsonl', os.path.join('responses', 'greedy.jsonl'), os.path.join('responses', 'samples.jsonl')):
        two, one = rows(os.path.join(cat2, f)), rows(os.path.join(cat1, f))
        assert len(two) == len({r['key'] for r in two}) == len(one)   # written once, by the main process
    assert rows(os.path.join(cat2, 'pairs.jsonl')) == rows(os.path.join(cat1, 'pairs.jsonl'))
    assert os.path.exists(os.path.join(cat2, 'model.safetensors'))

def test_training_configs_follow_the_device(monkeypatch, tmp_path):
    "Built for CUDA, a training config asks for bf16 and does not force the CPU; built for the CPU, the reverse."
    import torch
    from ca_nb.sft import IASFTConfig, training_args
    from ca_nb.models import RunContext
    from ca_nb.align import CATConfig
    cpu = training_args(IASFTConfig(max_steps=4), str(tmp_path), RunContext(device='cpu'))
    assert cpu.use_cpu and not cpu.bf16
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    for cfg in (IASFTConfig(max_steps=4, use_cpu=True, bf16=False), CATConfig(max_steps=4, use_cpu=True, bf16=False)):
        gpu = training_args(cfg, str(tmp_path), RunContext(device='cuda'))
        assert gpu.use_cpu is False and gpu.bf16 is True and gpu.fp16 is False
        assert training_args(cfg, str(tmp_path), RunContext(device='cuda', dtype='float16')).fp16 is True

def test_cpu_device_never_touches_cuda(monkeypatch, tmp_path, tiny_base):
    "`--device cpu`: an evaluation runs without CUDA ever being initialised."
    import torch
    from ca_nb.cli import eval_cli
    def refuse(*a, **k): raise AssertionError("CUDA was initialised")
    monkeypatch.setattr(torch.cuda, '_lazy_init', refuse)
    eval_cli(['--model', tiny_base, '--device', 'cpu', '--out', str(tmp_path / 'e')] + DATA)
    assert json.load(open(tmp_path / 'e' / 'metrics.json'))['n_instances'] == 6
