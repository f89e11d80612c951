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
