"The whole study on the tiny preset: same seed gives identical metrics; resume skips finished stages; the CLI."
import json, os, subprocess, sys, signal, time
import pytest
from ca_nb.pipeline import run_study, cached_run, STAGES

def test_same_seed_identical_metrics(tmp_path):
    ref = json.load(open(os.path.join(cached_run('tiny'), 'metrics.json')))
    again = run_study(str(tmp_path / 'a'), 'tiny', 0, progress=False, report=False, log=lambda *a: None)
    assert json.loads(json.dumps(again)) == ref

def test_metrics_schema():
    m = json.load(open(os.path.join(cached_run('tiny'), 'metrics.json')))
    assert set(m) == {'config', 'stages'} and set(m['stages']) == set(STAGES)
    for s in m['stages'].values():
        assert {'cr', 'mcr', 'accuracy', 'spread', 'ci', 'per_task', 'gap', 'n_instances', 'n_variants'} <= set(s)

def test_resume_skips_finished_stages(tmp_path):
    import shutil
    run = str(tmp_path / 'r'); shutil.copytree(cached_run('tiny'), run)
    shutil.rmtree(os.path.join(run, 'eval', 'cat'))   # as if killed during the last evaluation
    stamp = {s: os.path.getmtime(os.path.join(run, s, 'ca_nb_run.json')) for s in STAGES}
    logs = []
    t = time.time(); run_study(run, 'tiny', 0, resume=True, progress=False, report=False, log=logs.append)
    assert {s: os.path.getmtime(os.path.join(run, s, 'ca_nb_run.json')) for s in STAGES} == stamp
    assert not any('training' in l for l in logs) and time.time() - t < 60
    with pytest.raises(FileExistsError, match='--resume'): run_study(run, 'tiny', 0, progress=False)

def test_eval_cli_interrupted_and_resumed(tmp_path):
    base = os.path.join(cached_run('tiny'), 'base')
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_eval')
    full = tmp_path / 'full'; part = tmp_path / 'part'
    subprocess.run([exe, '--model', base, '--out', str(full)], check=True, capture_output=True)
    p = subprocess.Popen([exe, '--model', base, '--out', str(part)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):   # interrupt once some answers are written
        time.sleep(0.05)
        if (part / 'responses.jsonl').exists() and (part / 'responses.jsonl').stat().st_size > 0: break
    p.send_signal(signal.SIGINT); p.wait(timeout=60)
    subprocess.run([exe, '--model', base, '--out', str(part)], check=True, capture_output=True)
    rows = lambda d: [json.loads(l) for l in open(d / 'responses.jsonl')]
    a, b = rows(full), rows(part)
    assert len(a) == len(b) and len({r['key'] for r in b}) == len(b)
    ma, mb = (json.load(open(d / 'metrics.json')) for d in (full, part))
    assert all(ma[k] == mb[k] for k in ('cr', 'mcr', 'accuracy'))

def test_ablation_reuses_unchanged_stages(tmp_path):
    import shutil
    from ca_nb.pipeline import run_ablation
    from ca_nb.analysis import ablation_table
    run = str(tmp_path / 'r'); shutil.copytree(cached_run('tiny'), run)
    logs = []
    m = run_ablation(run, 'lam0', log=logs.append, lam=0.0)
    main = json.load(open(os.path.join(run, 'metrics.json')))['stages']
    assert m['config']['lam'] == 0.0 and m['stages']['ia_sft'] == main['ia_sft']   # stage 1 reused as it was
    assert not any(l.startswith('[base] training') or l.startswith('[ia_sft] ') and 'rows' in l for l in logs)
    assert any(l.startswith('[cat]') and 'λ=0.0' in l for l in logs)                # stage 2 retrained
    t = ablation_table(run)
    assert list(t.index) == ['main', 'lam0'] and t.loc['lam0', 'lam'] == 0.0
    from ca_nb.analysis import report_html
    assert '<h2>Ablations</h2>' in report_html(run)                                  # the report shows them
