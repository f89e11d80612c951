"The whole study on the tiny preset: same seed gives identical metrics; resume skips finished stages; the CLI."
import json, os, subprocess, sys, signal, time
import pytest
from ca_nb.pipeline import run_study, cached_run, StudyConfig, STAGES

def test_same_seed_identical_metrics(tmp_path):
    ref = json.load(open(os.path.join(cached_run('tiny'), 'metrics.json')))
    again = run_study(StudyConfig('tiny', 0), str(tmp_path / 'a'), progress=False, log=lambda *a: None)
    again, ref = (json.loads(json.dumps(m)) for m in (again, ref))
    for m in (again, ref): m.pop('seconds')   # wall times differ; every number measured must not
    assert again == ref

def test_metrics_schema():
    m = json.load(open(os.path.join(cached_run('tiny'), 'metrics.json')))
    assert set(m) == {'config', 'stages', 'comparisons', 'seconds', 'pair_quality'} and set(m['stages']) == set(STAGES)
    assert set(m['comparisons']) == {'ia_sft - base', 'cat - ia_sft', 'cat - base'}
    assert {'delta', 'ci', 'p'} <= set(m['comparisons']['cat - ia_sft']['cr'])
    for s in m['stages'].values():
        assert {'cr', 'mcr', 'accuracy', 'spread', 'ci', 'per_task', 'gap', 'n_instances', 'n_variants'} <= set(s)

def test_resume_skips_finished_stages(tmp_path):
    "Killed during the last evaluation, a run resumes: nothing is trained, sampled or scored again, no finished answer is regenerated."
    import shutil
    run = str(tmp_path / 'r'); shutil.copytree(cached_run('tiny'), run)
    shutil.rmtree(os.path.join(run, 'eval', 'cat'))   # as if killed during the last evaluation
    old = json.load(open(os.path.join(run, 'metrics.json')))['seconds']
    # a run made before the options had their section names: config.json with the old names and no resolved plan
    json.dump(dict(preset='tiny', seed=0, data=None, model=None, lora=False, n_variants=None, reward='ladder', lam=None, judge='auto',
                   pairs=dict(strategy='subtle', delta=1.0, min_sim=0.5, pool='instance', max_per_prompt=2), stage2_wordings='train',
                   judge_data=None, n_eval_instances=None, device='auto', dtype='auto'), open(os.path.join(run, 'config.json'), 'w'))
    files = [os.path.join(run, s, 'ca_nb_run.json') for s in STAGES] + [os.path.join(run, 'eval', s, 'responses.jsonl') for s in ('base', 'ia_sft')]
    files += [os.path.join(run, f) for f in ('rewards.jsonl', 'pairs.jsonl', os.path.join('responses', 'greedy.jsonl'), os.path.join('responses', 'samples.jsonl'))]
    stamp = {f: (os.path.getmtime(f), os.path.getsize(f)) for f in files}
    logs = []
    m = run_study(StudyConfig('tiny', 0), run, resume=True, progress=False, log=logs.append)
    assert {f: (os.path.getmtime(f), os.path.getsize(f)) for f in files} == stamp   # untouched: nothing retrained, resampled or rescored
    assert not any('training' in l or 'scored answers' in l for l in logs)
    assert m['seconds']['base'] == old['base'] and m['seconds']['ia_sft'] == old['ia_sft']   # measured seconds survive the resume
    with pytest.raises(FileExistsError, match='--resume'): run_study(StudyConfig('tiny', 0), run, progress=False)
    with pytest.raises(ValueError, match=r'other settings \(align.cat.lam, align.cat.loss_weights, align.pairs.strategy differ\)'):
        run_study(StudyConfig('tiny', 0, cat_lam=0.5, pairs_strategy='margin'), run, resume=True, progress=False)

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
    m = run_ablation(run, 'lam0', log=logs.append, cat_lam=0.0)
    main = json.load(open(os.path.join(run, 'metrics.json')))['stages']
    assert m['config']['cat_lam'] == 0.0 and m['stages']['ia_sft'] == main['ia_sft']   # stage 1 reused as it was
    assert not any(l.startswith('[base] training') or l.startswith('[ia_sft] ') and 'rows' in l for l in logs)
    assert any(l.startswith('[cat]') and 'λ=0.0' in l for l in logs)                # stage 2 retrained
    t = ablation_table(run)
    assert list(t.index) == ['main', 'lam0'] and t.loc['lam0', 'lam'] == 0.0
    from ca_nb.report import report_html
    assert '<h2>Ablations</h2>' in report_html(run)                                  # the report shows them

def test_commands_never_train_on_what_they_evaluate(tmp_path):
    "ca_nb_sft, ca_nb_align and ca_nb_eval one after another on SNI tasks: the instances trained on and evaluated are disjoint."
    from ca_nb.tasks import shared_sni_dir
    from ca_nb.files import read_jsonl
    sni = shared_sni_dir()
    if sni is None: pytest.skip("../shared/data/sni is absent in this checkout")
    base = os.path.join(cached_run('tiny'), 'base')
    exe = lambda name: os.path.join(os.path.dirname(sys.executable), name)
    data = ['--tasks', str(sni / 'tasks'), '--task-ids', 'task1332_check_leap_year,task365_synthetic_remove_vowels',
            '--paraphrases', str(sni / 'paraphrases' / 'train.jsonl'), '--eval-paraphrases', str(sni / 'paraphrases' / 'dev.jsonl')]
    sft, cat, ev = (str(tmp_path / d) for d in ('sft', 'cat', 'eval'))
    for cmd in (['ca_nb_sft', '--model', base, '--max-steps', '4', '--out', sft] + data,
                ['ca_nb_align', '--model', sft, '--n-instances', '3', '--max-steps', '2', '--out', cat] + data,
                ['ca_nb_eval', '--model', cat, '--out', ev] + data):
        r = subprocess.run([exe(cmd[0])] + cmd[1:], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    trained = {(r['task'], r['instance']) for r in read_jsonl(os.path.join(cat, 'rewards.jsonl'))}
    evaluated = {(r['task'], r['instance']) for r in read_jsonl(os.path.join(ev, 'responses.jsonl'))}
    assert trained and evaluated and not trained & evaluated
    # IA-SFT trained on the train split of the same load: rebuild it from the model's recorded data
    from ca_nb.data import load_tasks
    from ca_nb.runs import RunInfo
    ts = load_tasks(RunInfo.read(sft).data)
    sft_instances = {(t.id, i.id) for t in ts for i in t.instances_for('train')}
    assert not sft_instances & evaluated and trained <= sft_instances
    # the embedded suite keeps its own splits
    from ca_nb.suite import mini_suite
    s = mini_suite(n_train=5, n_dev=2, n_test=3)
    assert all(not {i.input for i in t.instances_for('train')} & {i.input for i in t.instances_for('test')} for t in s)

def test_cli_errors_are_one_line(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_demo')
    for args, want in ((['--eval-judge', 'bogus'], "--judge 'bogus'"), (['--n-test', '-1'], '--n-test -1'),
                       (['--task-ids', ','], '--task-ids: the id list is empty')):
        r = subprocess.run([exe, '--preset', 'tiny', '--out', str(tmp_path / 'x')] + args, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.strip().startswith('error: ') and want in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / 'x').exists()   # nothing was started

def test_stage2_on_fresh_wordings(tmp_path):
    "The fresh-wording ablation: stage 2 samples and pairs only under wordings that training and evaluation never use."
    import shutil
    from ca_nb.pipeline import run_ablation, study_config
    from ca_nb.data import load_tasks
    from ca_nb.text import normalize
    run = str(tmp_path / 'r'); shutil.copytree(cached_run('tiny'), run)
    m = run_ablation(run, 'fresh', stage2_wordings='rules')
    main = json.load(open(os.path.join(run, 'metrics.json')))
    assert m['config']['stage2_wordings'] == 'rules' and m['stages']['ia_sft'] == main['stages']['ia_sft']
    assert set(m['comparisons']) == {'ia_sft - base', 'cat - ia_sft', 'cat - base'}
    known = {t.id: {normalize(p) for ps in t.paraphrases.values() for p in ps} for t in load_tasks(study_config(run).plan().data)}
    scored = [json.loads(l) for l in open(os.path.join(run, 'ablations', 'fresh', 'rewards.jsonl'))]
    fresh = [r for r in scored if r['variant'] != 'orig']
    assert fresh and not any(normalize(r['instruction']) in known[r['task']] for r in fresh)

def test_foreign_rows_do_not_change_the_comparisons(tmp_path):
    "Rows added to a stage's responses.jsonl (another stage's answers to the same wordings, a task the run lacks) leave the paired comparisons of a resume as they were."
    import shutil
    run = str(tmp_path / 'r'); shutil.copytree(cached_run('tiny'), run)
    before = json.load(open(os.path.join(run, 'metrics.json')))
    base = [json.loads(l) for l in open(os.path.join(run, 'eval', 'base', 'responses.jsonl'))]
    with open(os.path.join(run, 'eval', 'cat', 'responses.jsonl'), 'a') as f:
        for r in base: f.write(json.dumps(dict(r, answer='zzz')) + '\n')   # another run's answers, keyed as that run keyed them
        f.write(json.dumps(dict(base[0], key='k-foreign', task='task_from_elsewhere')) + '\n')
    m = run_study(StudyConfig('tiny', 0), run, resume=True, progress=False, log=lambda *a: None)
    assert json.loads(json.dumps(m['comparisons'])) == before['comparisons']
    assert json.loads(json.dumps(m['stages']['cat'])) == before['stages']['cat']

def test_study_refuses_an_edited_input_on_resume(tmp_path, tiny_base, monkeypatch):
    "ca_nb_demo --resume after the evaluation wording file was edited in place: refused, naming the file, before any work; restored, it resumes; a run without digests (older) resumes."
    import ca_nb.pipeline as pipeline
    from ca_nb.data import DataConfig
    def stop(*a, **k): raise KeyboardInterrupt   # stop the study when stage 1 would train: the checks are what is tested
    monkeypatch.setattr(pipeline, 'train_sft', stop)
    f = tmp_path / 'w.jsonl'
    write = lambda w: f.write_text(''.join(json.dumps({'Task_id': t, 'Definition_reprs': [w, 'Go.']}) + '\n' for t in ('sort_asc', 'max_num')))
    write('Do the task.')
    cfg = StudyConfig('tiny', 0, model=tiny_base, data=DataConfig(task_ids=['sort_asc', 'max_num'], n_train=8, n_test=2, n_dev=1, eval_paraphrases=str(f)))
    run = str(tmp_path / 'r')
    with pytest.raises(KeyboardInterrupt): run_study(cfg, run, progress=False, log=lambda *a: None)
    inputs = json.load(open(os.path.join(run, 'config.json')))['inputs']
    assert str(f) in inputs and os.path.join(tiny_base, 'model.safetensors') in inputs
    n = len(open(os.path.join(run, 'eval', 'base', 'responses.jsonl')).read().splitlines())
    write('Do the task now.')
    with pytest.raises(ValueError, match=f'{f} changed since {run} was started'): run_study(cfg, run, resume=True, progress=False)
    assert len(open(os.path.join(run, 'eval', 'base', 'responses.jsonl')).read().splitlines()) == n and not os.path.exists(os.path.join(run, '.ca_nb.lock'))
    write('Do the task.')
    with pytest.raises(KeyboardInterrupt): run_study(cfg, run, resume=True, progress=False, log=lambda *a: None)   # restored: past the checks
    c = json.load(open(os.path.join(run, 'config.json'))); del c['inputs']; json.dump(c, open(os.path.join(run, 'config.json'), 'w'))
    write('Do the task now.')
    with pytest.raises(KeyboardInterrupt): run_study(cfg, run, resume=True, progress=False, log=lambda *a: None)   # older run: unknown, not changed
