"Stage 1 behaviour: completion-only labels, loss goes down, weights change, resume continues, LoRA reloads."
import json, os
import pytest, torch
from ca_nb.models import load_model, render_prompt, RunContext
from ca_nb.suite import mini_suite
from ca_nb.sft import sft_dataset, train_sft, training_args, last_checkpoint, IASFTConfig
from ca_nb.generate import generate, GenConfig

QUIET = RunContext(progress=False)

@pytest.fixture(scope='module')
def tasks(): return mini_suite(n_train=8, n_dev=2, n_test=2)

def test_dataset_has_k_variants_per_instance(tasks, tiny_base):
    _, tok, _ = load_model(tiny_base)
    ds = sft_dataset(tasks, tok, n_variants=4)
    assert len(ds) == 4 * sum(len(t.instances_for('train')) for t in tasks)
    one = [r for r in ds if r['instance'] == tasks[0].instances_for('train')[0].id]
    assert len({r['variant'] for r in one}) == 4 and 'orig' in {r['variant'] for r in one}
    assert len({r['completion'] for r in one}) == 1   # the same reference under every wording

def test_prompt_tokens_carry_no_loss(tasks, tiny_base, tmp_path):
    from trl import SFTTrainer
    model, tok, _ = load_model(tiny_base)
    ds = sft_dataset(tasks, tok, n_variants=2)
    tr = SFTTrainer(model=model, args=training_args(IASFTConfig(max_steps=1, learning_rate=1e-3, per_device_train_batch_size=4), str(tmp_path), RunContext()), processing_class=tok,
                    train_dataset=ds.select_columns(['prompt', 'completion']))
    batch = next(iter(tr.get_train_dataloader()))
    for ids, labels in zip(batch['input_ids'], batch['labels']):
        text = tok.decode(ids[labels != -100])
        assert text.endswith(tok.eos_token) and 'Answer:' not in text   # only the answer (and EOS) is learned
        assert (labels == -100).sum() > 0

def test_loss_goes_down_and_weights_change(tasks, tiny_base, tmp_path):
    model, tok, _ = load_model(tiny_base); model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    tr = train_sft(model, tok, sft_dataset(tasks, tok, n_variants=4), str(tmp_path), IASFTConfig(max_steps=30, learning_rate=3e-3, per_device_train_batch_size=16), QUIET)
    losses = [r['loss'] for r in tr.state.log_history if 'loss' in r]
    assert losses[-1] < losses[0]
    changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters())
    assert changed == len(before)

def test_resume_continues_from_its_step(tasks, tiny_base, tmp_path):
    model, tok, _ = load_model(tiny_base); model.train()
    ds = sft_dataset(tasks, tok, n_variants=2)
    out = str(tmp_path / 'run')
    train_sft(model, tok, ds, out, IASFTConfig(max_steps=10, learning_rate=1e-3, per_device_train_batch_size=8, save_steps=10), QUIET)
    assert last_checkpoint(out).endswith('checkpoint-10')
    first = {r['step']: r['loss'] for r in json.load(open(os.path.join(out, 'train_log.json'))) if 'loss' in r}
    model, tok, _ = load_model(tiny_base); model.train()
    other = sft_dataset(tasks, tok, n_variants=2, seed=1)   # other data: steps 1-10, if run again, would log other losses
    tr = train_sft(model, tok, other, out, IASFTConfig(max_steps=16, learning_rate=1e-3, per_device_train_batch_size=8, save_steps=10), RunContext(progress=False, resume=True))
    assert tr.state.global_step == 16
    logged = {r['step']: r['loss'] for r in tr.state.log_history if 'loss' in r}
    assert {s: l for s, l in logged.items() if s <= 10} == first        # restored from the checkpoint, not re-run
    assert sorted(s for s in logged if s > 10) == [11, 12, 13, 14, 15, 16]   # only the remaining steps ran

def test_lora_adapter_trains_reloads_and_generates(tasks, tiny_base, tmp_path):
    model, tok, _ = load_model(tiny_base); model.train()
    out = str(tmp_path / 'lora')
    train_sft(model, tok, sft_dataset(tasks, tok, n_variants=2), out, IASFTConfig(max_steps=8, learning_rate=1e-2, per_device_train_batch_size=8), QUIET, lora=True)
    assert os.path.exists(os.path.join(out, 'adapter_config.json'))
    m2, tok2, _ = load_model(out)
    lora_b = [p for n, p in m2.named_parameters() if 'lora_B' in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)   # initialised at zero, trained away from it
    prompts = [render_prompt(tasks[0].definition, i.input, tok2) for i in tasks[0].instances_for('test')]
    out_ = generate(m2, tok2, prompts, GenConfig(max_new_tokens=8), progress=False)
    assert len(out_) == len(prompts) and all(isinstance(a[0], str) for a in out_)

KILLED_WHILE_SAVING = '''
import os, sys
from transformers import Trainer
save, calls = Trainer._save_optimizer_and_scheduler, []
def half_then_die(self, output_dir):
    calls.append(output_dir)
    if len(calls) == 2:  # the second checkpoint: half of optimizer.pt, then the process dies
        save(self, output_dir)
        p = os.path.join(output_dir, 'optimizer.pt'); data = open(p, 'rb').read(); open(p, 'wb').write(data[:len(data) // 2])
        os._exit(9)
    return save(self, output_dir)
Trainer._save_optimizer_and_scheduler = half_then_die
from ca_nb.cli import sft_cli
sft_cli(sys.argv[1:])
'''

def test_killed_while_writing_a_checkpoint(tiny_base, tmp_path, capsys):
    "ca_nb_sft killed while it writes its second checkpoint: --resume skips the half-written one, says so, takes the one before, and finishes all the steps."
    import subprocess, sys
    from ca_nb.cli import sft_cli
    out = tmp_path / 's'
    args = ['--model', tiny_base, '--preset', 'tiny', '--task-ids', 'sort_asc,max_num', '--n-train', '8', '--n-test', '2', '--n-dev', '1',
            '--max-steps', '6', '--save-steps', '2', '--logging-steps', '1', '--out', str(out)]
    script = tmp_path / 'die.py'; script.write_text(KILLED_WHILE_SAVING)
    r = subprocess.run([sys.executable, str(script)] + args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 9, r.stderr[-2000:]
    ck = out / 'checkpoints'
    cks = lambda: sorted(f for f in os.listdir(ck) if f.startswith('checkpoint-'))
    assert cks() == ['checkpoint-2', 'checkpoint-4'] and not (out / 'ca_nb_run.json').exists()
    with pytest.warns(UserWarning, match='taking over the lock'): sft_cli(args + ['--resume'])
    said = capsys.readouterr().out
    assert f"skipping {ck / 'checkpoint-4'}: incomplete (optimizer.pt is missing or truncated)" in said
    assert f"resuming from {ck / 'checkpoint-2'}" in said
    log = json.load(open(out / 'train_log.json'))
    assert [r['step'] for r in log if 'loss' in r] == [1, 2, 3, 4, 5, 6]   # steps 1-2 from the checkpoint, 3-6 run once each
    assert json.load(open(out / 'ca_nb_run.json'))['max_steps'] == 6 and cks() == ['checkpoint-6']
