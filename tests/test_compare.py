"""ca_nb_compare: many models on the same instances and wordings. CR agrees with lm-evaluation-harness's SCORE rate
where it should; PSS and worst-wording accuracy have their hand-computed values; a rerun evaluates nothing again and
a model added costs only itself; an interrupted model resumes; a failing model is named and marked failed while the
others complete; mismatched settings and data are refused before any work; a served model joins the table; the stages
of a run are measured on the run's own split."""
import json, os, shutil, socket
from dataclasses import replace
import pytest
from hypothesis import given, settings, strategies as st

TASKS = ['sort_asc', 'max_num', 'upper_word']

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    import torch
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

@pytest.fixture(scope='module')
def tiny_sft():
    from ca_nb.sft import cached_sft
    return cached_sft()

def data(**kw):
    from ca_nb.sft import TINY_DATA
    return replace(TINY_DATA, task_ids=TASKS, **kw)

def ctx(log=None):
    from ca_nb.models import RunContext
    return RunContext(device='cpu', threads=1, progress=False, log=(log.append if log is not None else lambda *a: None))

def mtimes(out):
    "Modification times of every file under `out` (what a rerun must leave alone)."
    return {os.path.join(r, f): os.stat(os.path.join(r, f)).st_mtime_ns for r, _, fs in os.walk(out) for f in fs
            if not f.startswith('leaderboard.') and f != 'report.html'}

def records(answers_by_question, refs=('A',)):
    return [dict(task='t', instance=str(q), variant='orig' if j == 0 else f'p{j}', answer=a, refs=list(refs))
            for q, ans in enumerate(answers_by_question) for j, a in enumerate(ans)]

# --- the definitions ------------------------------------------------------------------------------------------------

def score_consistency_rate(answers_by_question):
    "SCORE's consistency rate, written here from its definition: agreeing pairs over all pairs, pooled over questions."
    agree = total = 0
    for ans in answers_by_question:
        n = len(ans); total += n * (n - 1) // 2
        agree += sum(ans[i] == ans[j] for i in range(n) for j in range(i + 1, n))
    return agree / total

@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6).flatmap(lambda n: st.lists(st.lists(st.sampled_from('ABC'), min_size=n, max_size=n), min_size=1, max_size=8)))
def test_cr_equals_score_when_every_question_has_the_same_wordings(answers):
    from ca_nb.metrics import consistency_metrics
    assert abs(consistency_metrics(records(answers), ci=False)['cr'] - score_consistency_rate(answers)) < 1e-12

def test_cr_and_score_differ_when_wording_counts_differ():
    from ca_nb.metrics import consistency_metrics
    answers = [['A', 'A'], ['A', 'B', 'C', 'D']]   # 1 of 1 pairs agree; 0 of 6
    assert consistency_metrics(records(answers), ci=False)['cr'] == 0.5   # (1 + 0) / 2 instances
    assert abs(score_consistency_rate(answers) - 1 / 7) < 1e-12   # (1 + 0) / (1 + 6) pairs

def test_pss_and_worst_wording_accuracy_by_hand():
    from ca_nb.metrics import instance_table, prompt_sensitivity, worst_wording_accuracy
    right = {  # correctness under (orig, p1, p2, p3) for task t, (orig, p1) for task u
        ('t', 'a'): [1, 1, 0, 0], ('t', 'b'): [1, 0, 1, 0], ('u', 'c'): [0, 1], ('u', 'd'): [1, 1]}
    recs = [dict(task=t, instance=i, variant='orig' if j == 0 else f'p{j}', answer='x' if c else 'y', refs=['x'])
            for (t, i), cs in right.items() for j, c in enumerate(cs)]
    rows = instance_table(recs)
    # PSS: a and b differ on 4 of their 6 pairs, c on its 1 pair, d on none: (4/6 + 4/6 + 1 + 0) / 4
    assert abs(prompt_sensitivity(rows) - 7 / 12) < 1e-12
    # t: orig 2/2, p1 1/2, p2 1/2, p3 0/2 -> 0; u: orig 1/2, p1 2/2 -> 1/2; mean over the two tasks
    assert abs(worst_wording_accuracy(rows) - 0.25) < 1e-12

# --- the command's work ---------------------------------------------------------------------------------------------

def test_tables_written_rerun_reuses_and_an_added_model_costs_only_itself(tmp_path, tiny_base, tiny_sft):
    from ca_nb.compare import compare_models
    from ca_nb.metrics import EvalConfig
    out, cfg = str(tmp_path / 'cmp'), EvalConfig(n_instances=2)
    lb = compare_models([f'base={tiny_base}', f'ia_sft={tiny_sft}'], data(), cfg, out, ctx=ctx())
    n = len(TASKS) * 2 * 7   # tasks x instances x (original + 6 test wordings)
    for m in ('base', 'ia_sft'):
        assert len(open(os.path.join(out, m, 'responses.jsonl')).read().splitlines()) == n
        met = json.load(open(os.path.join(out, m, 'metrics.json')))
        row = next(r for r in lb['rows'] if r['model'] == m)
        assert (row['cr'], row['n_instances'], row['n_wordings'], row['judge']) == (met['cr'], 6, 7, 'exact')
        assert row['cr_lo'] <= row['cr'] <= row['cr_hi'] and 0 <= row['worst_wording_accuracy'] <= row['accuracy_paraphrased'] + 1e-9
    assert [r['cr'] for r in lb['rows']] == sorted([r['cr'] for r in lb['rows']], reverse=True)
    assert list(lb['comparisons']) == ['ia_sft'] and lb['comparisons']['ia_sft']['n_instances'] == 6
    assert set(lb['per_task']['base']) == set(TASKS)
    saved = json.load(open(os.path.join(out, 'leaderboard.json')))
    assert saved['rows'] == json.loads(json.dumps(lb['rows']))
    csv_lines = open(os.path.join(out, 'leaderboard.csv')).read().splitlines()
    assert csv_lines[0].startswith('model,status,cr,cr_lo,cr_hi') and len(csv_lines) == 3
    md = open(os.path.join(out, 'leaderboard.md')).read()
    assert '## Paired differences against base' in md and '| ia_sft |' in md and '## CR per task' in md
    # the same command again: nothing is loaded or answered, no file of a model changes
    before = mtimes(out)
    again = compare_models([f'base={tiny_base}', f'ia_sft={tiny_sft}'], data(), cfg, out, ctx=ctx())
    assert all(r['reused'] for r in again['rows']) and mtimes(out) == before
    assert [r['cr'] for r in again['rows']] == [r['cr'] for r in lb['rows']] and again['comparisons'] == lb['comparisons']
    # one model more: only it answers
    log = []
    more = compare_models([f'base={tiny_base}', f'ia_sft={tiny_sft}', f'base_again={tiny_base}'], data(), cfg, out, ctx=ctx(log))
    assert {r['model']: r['reused'] for r in more['rows']} == {'base': True, 'ia_sft': True, 'base_again': False}
    assert {k: v for k, v in mtimes(out).items() if 'base_again' not in k} == before
    assert more['comparisons']['base_again']['cr']['delta'] == 0 and more['comparisons']['base_again']['accuracy']['p'] == 1.0
    assert sum('reused' in m for m in log) == 2, log

def test_an_interrupted_model_resumes_without_duplicates(tmp_path, tiny_base):
    from ca_nb.compare import compare_models
    from ca_nb.metrics import EvalConfig
    out, cfg = str(tmp_path / 'cmp'), EvalConfig(n_instances=2, batch_size=8)
    compare_models([f'base={tiny_base}'], data(), cfg, out, ctx=ctx())
    resp = os.path.join(out, 'base', 'responses.jsonl')
    lines = open(resp).read().splitlines()
    open(resp, 'w').write('\n'.join(lines[:16]) + '\n' + lines[16][:20])   # two batches kept, the third cut mid-line
    os.remove(os.path.join(out, 'base', 'compare_model.json')); os.remove(os.path.join(out, 'base', 'metrics.json'))
    lb = compare_models([f'base={tiny_base}'], data(), cfg, out, ctx=ctx())
    done = [json.loads(l) for l in open(resp)]
    assert not lb['rows'][0]['reused'] and len(done) == len({r['key'] for r in done}) == len(lines)
    assert [json.dumps(r) for r in done[:16]] == [json.dumps(json.loads(l)) for l in lines[:16]]   # what was there is kept
    assert sorted(r['answer'] for r in done) == sorted(json.loads(l)['answer'] for l in lines)

def _closed_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def test_failing_models_are_named_and_marked_while_the_others_complete(tmp_path, tiny_base, capsys):
    "A missing folder, a served model whose server is down, a model whose context is too short for the prompts: each one line, each failed in the table."
    from ca_nb.cli import main, compare_parser, _compare
    short = tmp_path / 'short'; shutil.copytree(tiny_base, short, ignore=shutil.ignore_patterns('checkpoints'))
    cfg = json.load(open(short / 'config.json')); cfg['max_position_embeddings'] = 16; json.dump(cfg, open(short / 'config.json', 'w'))
    out = tmp_path / 'cmp'
    with pytest.raises(SystemExit) as e:
        main(compare_parser(), _compare, ['--models', f'base={tiny_base},gone=/no/such/model,down=http://127.0.0.1:{_closed_port()}/v1,short={short}',
                                          '--tokenizer', tiny_base, '--task-ids', ','.join(TASKS), '--n-instances', '2',
                                          '--device', 'cpu', '--out', str(out), '--timeout', '5'])
    err = capsys.readouterr().err.splitlines()
    assert e.value.code == 1 and err[-1].startswith('error: 3 of 4 model(s) failed (') and 'the others are in the table' in err[-1]
    failed = {l.split(':')[1].strip(): l for l in err if l.startswith('failed: ')}
    assert set(failed) == {'gone', 'down', 'short'}, err
    assert 'no such local model folder' in failed['gone'] and 'no answer after 4 attempts' in failed['down']
    assert "do not fit the model's context of 16 tokens" in failed['short']
    lb = json.load(open(out / 'leaderboard.json'))
    assert [(r['model'], r['status']) for r in lb['rows']][0] == ('base', 'ok') and lb['failed'] == ['down', 'gone', 'short']
    assert all(r['error'] and '\n' not in r['error'] for r in lb['rows'][1:]) and lb['comparisons'] == {}
    assert (out / 'report.html').exists() and 'failed: ' in (out / 'leaderboard.md').read_text()
    assert not (out / 'gone').exists() and not (out / 'short' / 'responses.jsonl').exists()   # nothing answered for them

def test_other_settings_and_other_data_are_refused_before_any_work(tmp_path, tiny_base, capsys):
    from ca_nb.compare import compare_models
    from ca_nb.metrics import EvalConfig
    from ca_nb.runs import RunInfo
    from ca_nb.cli import main, compare_parser, _compare
    out = str(tmp_path / 'cmp')
    compare_models([f'base={tiny_base}'], data(), EvalConfig(n_instances=2), out, ctx=ctx())
    before = mtimes(out)
    with pytest.raises(ValueError, match=r"holds the evaluation of model 'base' made with other settings \(eval.max_new_tokens, eval.n_instances differ\)"):
        compare_models([f'base={tiny_base}'], data(), EvalConfig(n_instances=3, max_new_tokens=8), out, ctx=ctx())
    assert mtimes(out) == before
    # two stages trained on different data: their test splits would differ
    for name, d in (('a', data()), ('b', data(n_train=30, seed=1))):
        RunInfo('ia_sft', 'tiny', d.seed, d).write(str(tmp_path / 'run' / name))
    with pytest.raises(SystemExit) as e:
        main(compare_parser(), _compare, ['--models', f"{tmp_path / 'run' / 'a'},{tmp_path / 'run' / 'b'}", '--out', str(tmp_path / 'x')])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith('error: model(s) trained on other data') and '\n' not in err
    assert "b (n_train 30, not 60; seed 1, not 0)" in err and not (tmp_path / 'x').exists()
    with pytest.raises(ValueError, match="--baseline 'nope': expected one of the models' labels"):
        compare_models([f'base={tiny_base}'], data(), EvalConfig(n_instances=2), out, baseline='nope', ctx=ctx())
    with pytest.raises(ValueError, match="two models named 'base'"):
        compare_models([f'base={tiny_base}', f'base={tiny_base}'], data(), EvalConfig(n_instances=2), out, ctx=ctx())

def test_a_served_model_joins_the_table(tmp_path, tiny_base):
    "The tiny model served over HTTP answers as the local one: the same CR, no paired difference; once measured, it is reused with the server gone."
    from test_engine import serve
    from ca_nb.compare import compare_models, parse_model
    from ca_nb.metrics import EvalConfig
    server = serve(tiny_base)
    url, out, cfg = f'http://127.0.0.1:{server.server_port}/v1', str(tmp_path / 'cmp'), EvalConfig(n_instances=2)
    specs = [parse_model(f'local={tiny_base}'), parse_model(f'served={url}', tokenizer=tiny_base)]
    try: lb = compare_models(specs, data(), cfg, out, ctx=ctx())
    finally: server.shutdown(); server.server_close()
    rows = {r['model']: r for r in lb['rows']}
    assert rows['served']['status'] == 'ok' and rows['served']['cr'] == rows['local']['cr']
    assert rows['served']['accuracy'] == rows['local']['accuracy'] and rows['served']['prompt_format'] == 'chat template'
    assert lb['comparisons']['served']['cr']['delta'] == 0 and lb['comparisons']['served']['accuracy']['delta'] == 0
    assert json.load(open(os.path.join(out, 'served', 'eval_config.json')))['engine'] == url
    again = compare_models(specs, data(), cfg, out, ctx=ctx())   # the server is down now: its answers are in its folder
    assert all(r['reused'] and r['status'] == 'ok' for r in again['rows'])

def test_stages_of_a_run_are_measured_on_its_split(tmp_path, capsys):
    "Run stages given without data options: the run's data and evaluation settings; every answer is the run's own answer to that prompt."
    from ca_nb.pipeline import cached_run
    from ca_nb.runs import Run, RunInfo
    from ca_nb.cli import compare_cli
    run = cached_run('tiny'); out = tmp_path / 'cmp'
    models = ','.join(os.path.join(run, s) for s in ('base', 'ia_sft', 'cat'))
    lb = compare_cli(['--models', models, '--task-ids', 'sort_asc,count_vowels', '--n-instances', '2', '--device', 'cpu', '--out', str(out)])
    assert [m['label'] for m in lb['settings']['models']] == ['base', 'ia_sft', 'cat'] and lb['failed'] == []
    recorded = RunInfo.read(os.path.join(run, 'cat')).data
    assert lb['settings']['data'] == dict(vars(recorded), task_ids=['sort_asc', 'count_vowels'])
    assert lb['settings']['eval']['max_new_tokens'] == json.load(open(os.path.join(run, 'config.json')))['resolved']['eval']['max_new_tokens']
    for s in ('base', 'ia_sft', 'cat'):
        theirs = {(r['task'], r['instance'], r['variant']): r['answer'] for r in Run(run).responses(s)}
        ours = [json.loads(l) for l in open(out / s / 'responses.jsonl')]
        assert len(ours) == 2 * 2 * 7 and all(theirs[(r['task'], r['instance'], r['variant'])] == r['answer'] for r in ours), s
    assert 'paired differences against base' in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:   # another split than the one the stages were trained on
        compare_cli(['--models', models, '--n-test', '3', '--out', str(tmp_path / 'other')])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'base (n_test 10, not 3)' in err and 'cat (n_test 10, not 3)' in err
