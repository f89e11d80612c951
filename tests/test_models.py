"The one loader: a Hub id through the Hugging Face cache (offline), a damaged folder named, the model's family."
import json, os, shutil, subprocess, sys

def hf_cache(tmp_path, folder, repo='ca-nb-test/tiny-base', rev='0123456789abcdef0123456789abcdef01234567'):
    "A Hugging Face cache holding `folder` as the snapshot `rev` of `repo` (as `huggingface_hub` lays it out)."
    home = tmp_path / 'hf'
    root = home / 'hub' / f"models--{repo.replace('/', '--')}"
    shutil.copytree(folder, root / 'snapshots' / rev, ignore=shutil.ignore_patterns('checkpoints', 'ca_nb_run.json'))
    (root / 'refs').mkdir(parents=True); (root / 'refs' / 'main').write_text(rev)
    return str(home), repo

def test_hub_id_loads_offline_from_the_cache(tmp_path, tiny_base):
    home, repo = hf_cache(tmp_path, tiny_base)
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_eval')
    env = dict(os.environ, HF_HOME=home, HF_HUB_OFFLINE='1')
    args = ['--preset', 'tiny', '--task-ids', 'sort_asc,max_num', '--n-test', '3']
    a = subprocess.run([exe, '--model', repo, '--out', str(tmp_path / 'hub')] + args, env=env, capture_output=True, text=True, timeout=600)
    b = subprocess.run([exe, '--model', tiny_base, '--out', str(tmp_path / 'dir')] + args, env=env, capture_output=True, text=True, timeout=600)
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-1500:] + b.stderr[-1500:]
    ma, mb = (json.load(open(tmp_path / d / 'metrics.json')) for d in ('hub', 'dir'))
    assert all(ma[k] == mb[k] for k in ('cr', 'mcr', 'accuracy', 'n_instances', 'n_variants', 'judge'))
    # a Hub id that is not in the cache: one line that names it and says why
    c = subprocess.run([exe, '--model', 'ca-nb-test/absent', '--out', str(tmp_path / 'x')] + args, env=env, capture_output=True, text=True, timeout=600)
    assert c.returncode == 2 and 'ca-nb-test/absent' in c.stderr and 'HF_HUB_OFFLINE=1' in c.stderr, c.stderr

def test_family_decides_judge_and_judge_prompts(tiny_base):
    from ca_nb.models import load_model
    from ca_nb.judges import judge_for, judge_prompts_for
    _, _, info = load_model(tiny_base)
    assert info.family == 'tiny' and info.context == 1024 and not info.chats
    assert repr(judge_for('auto', info.family)) == 'ExactMatch(normalize)' and judge_prompts_for(info.family).shots == []

# Model-loading errors (issue 30): each one line that names the path or option and what was expected.

def test_cuda_that_is_not_there(monkeypatch, tmp_path, capsys, tiny_base):
    import torch, pytest
    from ca_nb.models import load_model, resolve_device
    from ca_nb.cli import eval_cli
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match=r"--device cuda: not available on this machine .*; available: cpu"): resolve_device('cuda')
    with pytest.raises(ValueError, match="--device cuda"): load_model(tiny_base, device='cuda')
    with pytest.raises(SystemExit) as e:
        eval_cli(['--model', tiny_base, '--device', 'cuda', '--out', str(tmp_path / 'e'), '--task-ids', 'sort_asc', '--n-test', '2'])
    err = capsys.readouterr().err.strip().split('\n')[-1]
    assert e.value.code == 2 and err.startswith('error: --device cuda: not available') and 'available: cpu' in err, err
    assert resolve_device('auto') == 'cpu'

def test_damaged_gguf_is_named(tmp_path, monkeypatch):
    import pytest
    from ca_nb.gguf import model_available, skip_reason, packaged_file
    from ca_nb.models import resolve_model_path
    if not model_available('smollm2'): pytest.skip(skip_reason('smollm2'))
    bad = tmp_path / 'copy.gguf'
    with open(packaged_file('smollm2'), 'rb') as f: bad.write_bytes(f.read(20_000_000))  # the first 20 of 98 MB
    monkeypatch.setenv('CA_NB_CACHE', str(tmp_path / 'cache'))
    with pytest.raises(ValueError) as e: resolve_model_path(str(bad))
    msg = str(e.value)
    assert msg.startswith(f"{bad}: damaged or truncated GGUF file") and '\n' not in msg, msg
    assert not any(p.name.endswith('.partial') for p in (tmp_path / 'cache').iterdir())  # nothing half-written left

def test_folder_without_tokenizer(tmp_path, tiny_base):
    import pytest
    from ca_nb.models import load_model, ModelError, TOKENIZER_FILES
    d = tmp_path / 'model'
    shutil.copytree(tiny_base, d, ignore=shutil.ignore_patterns('checkpoints', *TOKENIZER_FILES, 'special_tokens_map.json', 'chat_template.jinja'))
    with pytest.raises(ModelError, match=f"^{d}: no tokenizer in this model folder: expected tokenizer.json or tokenizer_config.json"):
        load_model(str(d))

def test_adapter_whose_base_moved(tmp_path, tiny_base):
    import pytest
    from peft import get_peft_model
    from ca_nb.models import load_model, ModelError
    from ca_nb.sft import lora_config
    base = tmp_path / 'base'
    shutil.copytree(tiny_base, base, ignore=shutil.ignore_patterns('checkpoints'))
    model, tok, _ = load_model(str(base))
    adapter = tmp_path / 'adapter'
    get_peft_model(model, lora_config()).save_pretrained(adapter); tok.save_pretrained(adapter)
    assert json.load(open(adapter / 'adapter_config.json'))['base_model_name_or_path'] == str(base)
    assert load_model(str(adapter)).info.family == 'tiny'  # loads while the base is where it was
    base.rename(tmp_path / 'moved')
    with pytest.raises(ModelError) as e: load_model(str(adapter))
    assert str(e.value).startswith(f"{adapter}: LoRA adapter whose base model {base} does not exist"), e.value
    assert f"{adapter}/adapter_config.json" in str(e.value)

def test_run_folder_given_as_a_model(tmp_path, tiny_base):
    import pytest
    from ca_nb.models import load_model, ModelError
    run = tmp_path / 'run'; run.mkdir()
    (run / 'config.json').write_text(json.dumps(dict(preset='tiny', seed=0, data=dict(tasks='mini'), model=None, lora=False)))
    for i, stage in enumerate(('base', 'ia_sft', 'cat')):  # written in this order
        shutil.copytree(tiny_base, run / stage, ignore=shutil.ignore_patterns('checkpoints'))
        os.utime(run / stage / 'config.json', (1e9 + i, 1e9 + i))
    (run / 'responses').mkdir()
    with pytest.raises(ModelError) as e: load_model(str(run))
    assert str(e.value) == (f"{run}: this is a run folder, not a model (its config.json is a study's); its stages are base, ia_sft, cat: "
                            f"pass one, e.g. --model {run}/cat")
    assert load_model(str(run / 'cat')).info.family == 'tiny'
