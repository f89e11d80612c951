"The research UI on a small real run folder: reading (also partial runs), tables, panels' behaviour, the report."
import json, os, shutil, subprocess, sys
import pytest

def build_run(out):
    """A small real run folder: the cached tiny base evaluated on the embedded suite (stage `base`), the same answers
    as a second stage (`ia_sft`), `metrics.json` combining them, and stage-2 pairs made from real answers of that
    evaluation (chosen: a correct answer of the instance, rejected: a wrong one; rewards 6 and 1)."""
    from ca_nb.sft import cached_base
    from ca_nb.models import load_model
    from ca_nb.files import read_jsonl, write_json
    from ca_nb.suite import mini_suite
    from ca_nb.metrics import evaluate, is_correct, EvalConfig
    from ca_nb.runs import RunPaths
    paths = RunPaths(out)
    model, tok, _ = load_model(cached_base())
    tasks = mini_suite(n_train=4, n_dev=2, n_test=3)
    base = evaluate(model, tok, tasks, EvalConfig(), out=paths.eval_dir('base'), progress=False)
    shutil.copytree(paths.eval_dir('base'), paths.eval_dir('ia_sft'))
    config = dict(preset='tiny', seed=0, data=dict(tasks='mini', n_train=4, n_dev=2, n_test=3))
    write_json(paths.config_file, config)
    write_json(paths.metrics_file, dict(config=config, stages=dict(base=base, ia_sft=base)))
    rows = read_jsonl(paths.responses_file('base'))
    by_inst = {}
    for r in rows: by_inst.setdefault((r['task'], r['instance']), []).append(r)
    verdict = {"type": {"expected": 0.8, "unexpected": 0.2}, "correctness": {"incorrect": 0.6, "partially": 0.3, "completely": 0.1}}
    pairs = []
    for (task, inst), rs in sorted(by_inst.items()):
        good = [r for r in rs if is_correct(r['answer'], r['refs'])]
        chosen = good[0]['answer'] if good else rs[0]['refs'][0]  # the reference where the model never got it right
        for r in rs:
            if is_correct(r['answer'], r['refs']): continue
            n = len(pairs)  # judge probabilities as a dict, JSON-encoded (as the pipeline writes them) or absent
            probs = verdict if n % 3 == 0 else json.dumps(verdict) if n % 3 == 1 else None
            pairs.append(dict(prompt=r['prompt'], chosen=chosen, rejected=r['answer'], chosen_reward=6.0,
                              rejected_reward=1.0 + (n % 2), similarity=0.5, task=task, instance=inst,
                              variant=r['variant'], chosen_probs=None, rejected_probs=probs))
            break
    with open(paths.pairs_file, 'w') as f:
        for p in pairs: f.write(json.dumps(p) + "\n")
    return str(out)

@pytest.fixture(scope='session')
def ui_run(tmp_path_factory):
    "The run folder of `build_run`, built once per session (or the run folder in $CA_NB_UI_RUN)."
    if os.environ.get('CA_NB_UI_RUN'): return os.environ['CA_NB_UI_RUN']
    out = tmp_path_factory.getbasetemp() / 'ui_run'
    if not (out / 'pairs.jsonl').exists(): build_run(out)
    return str(out)

@pytest.fixture
def partial_run(ui_run, tmp_path):
    "The run without ia_sft's answers and metrics file, and without pairs: what an interrupted run leaves."
    out = tmp_path / 'partial'
    shutil.copytree(ui_run, out, ignore=shutil.ignore_patterns('report.html'))
    os.remove(out / 'eval' / 'ia_sft' / 'responses.jsonl'); os.remove(out / 'eval' / 'ia_sft' / 'metrics.json')
    os.remove(out / 'pairs.jsonl')
    return str(out)

def test_run_reads_folder(ui_run):
    from ca_nb.runs import Run
    from ca_nb.analysis import instance_rows
    run = Run(ui_run)
    assert run.stages[:2] == ['base', 'ia_sft']
    m = json.load(open(os.path.join(ui_run, 'eval', 'base', 'metrics.json')))
    assert run.metrics('base')['cr'] == m['cr']
    rows = instance_rows(run, 'base')
    assert len(rows) == m['n_instances'] and all(len(r['prompts']) == len(r['answers']) for r in rows)
    assert any('IA-SFT+CAT' in n for n in run.missing()) and not any('pairs.jsonl' in n for n in run.missing())

def test_metrics_recomputed_from_answers(ui_run, tmp_path):
    "Without any metrics file a stage's numbers come from its answers, and equal the evaluation's."
    from ca_nb.runs import Run
    from ca_nb.analysis import stage_metrics
    out = tmp_path / 'r'; shutil.copytree(os.path.join(ui_run, 'eval', 'base'), out / 'eval' / 'base')
    os.remove(out / 'eval' / 'base' / 'metrics.json')
    m = json.load(open(os.path.join(ui_run, 'eval', 'base', 'metrics.json')))
    assert Run(out).metrics('base') is None   # the reader reads; measuring is the analysis's
    got = stage_metrics(Run(out), 'base')
    assert abs(got['cr'] - m['cr']) < 1e-12 and abs(got['accuracy'] - m['accuracy']) < 1e-12
    assert Run(out).stages == ['base'] and any('config.json is missing' in n for n in Run(out).missing())
    from ca_nb.widgets import ParaphrasePanel
    assert 'could not be rebuilt' in ParaphrasePanel(out).children[0].value  # no config.json: the tasks are unknown

def test_stage_and_task_tables(ui_run):
    from ca_nb.analysis import stage_table, task_table, ci_text
    m = json.load(open(os.path.join(ui_run, 'metrics.json')))['stages']['base']
    t = stage_table(ui_run)
    assert list(t.index) == ['base', 'ia_sft'] and t.loc['base', 'cr'] == m['cr']
    assert [t.loc['base', 'cr_lo'], t.loc['base', 'cr_hi']] == m['ci']['cr']
    assert ci_text(t).loc['base', 'CR'] == f"{m['cr']:.3f} [{m['ci']['cr'][0]:.3f}, {m['ci']['cr'][1]:.3f}]"
    tt = task_table(ui_run)
    assert len(tt) == 2 * m['n_tasks'] and set(tt.label) == {'base', 'IA-SFT'}

def test_consistency_panel(ui_run):
    import ipywidgets as W
    from ca_nb.runs import Run
    from ca_nb.analysis import agreement_matrix, instance_rows
    from ca_nb.widgets import ConsistencyPanel, PLOTLY_MIME
    p = ConsistencyPanel(ui_run)
    assert isinstance(p, W.VBox)
    assert [v for _, v in p.stage.options] == ['base', 'ia_sft'] and p.stage.value == 'base'
    assert p.figures['tasks'].data[0].type == 'bar' and len(p.figures['tasks'].data[0].x) == len(p.task.options)
    p.task.value = 'sort_asc'
    assert p.instance.value.startswith('sort_asc')
    row = next(r for r in instance_rows(Run(ui_run), 'base') if r['instance'] == p.instance.value)
    for a in row['answers']: assert a.replace('&', '&amp;').replace('<', '&lt;') in p.answers.value
    hm = p.heatmap.outputs[0]['data'][PLOTLY_MIME]['data'][0]
    assert hm['type'] == 'heatmap' and hm['z'] == agreement_matrix(row['answers']).astype(int).tolist()
    first = p.instance.value
    p.next.click(); assert p.instance.value != first
    p.prev.click(); assert p.instance.value == first
    p.worst.click()
    worst = min((r for r in instance_rows(Run(ui_run), 'base') if r['task'] == 'sort_asc'), key=lambda r: (r['cr'], sum(r['correct'])))
    assert p.instance.value == worst['instance']
    p.stage.value = 'ia_sft'
    assert p.task.value == 'sort_asc' and p.instance.value == worst['instance']  # the selection is kept across stages

def test_pair_panel(ui_run):
    import ipywidgets as W
    from ca_nb.analysis import pair_html
    from ca_nb.widgets import PairPanel
    p = PairPanel(ui_run, page_size=3)
    assert isinstance(p, W.VBox) and len(p.pairs) > 3
    assert p.body.value.count("class='ca-pair'") == 3 and p.prev.disabled and not p.next.disabled
    p.next.click(); assert p.page == 1 and 'page 2 of' in p.status.value
    p.min_margin.value = 4.5  # keeps the pairs with rewards 6 and 1, drops 6 and 2
    sel = p.selected()
    assert p.page == 0 and len(sel) and (sel.margin == 5).all() and len(sel) < len(p.pairs)
    p.sort.value = 'task'; p.min_margin.value = 0
    assert list(p.selected().task) == sorted(p.selected().task)
    t = p.task.options[1]; p.task.value = t
    assert set(p.selected().task) == {t} and f"<b>{t}</b>" in p.body.value
    p.task.value = 'all'; p.sort.value = 'margin, largest first'
    body = ''.join(pair_html(r) for _, r in p.selected().iterrows())
    assert 'correctness: incorrect 0.60, partially 0.30, completely 0.10' in body and 'no judge verdict' in body
    assert body.count('judge: type:') == len(p.pairs) - len(p.pairs) // 3  # dict and JSON-string verdicts both read

def test_paraphrase_panel(ui_run):
    from ca_nb.widgets import ParaphrasePanel
    p = ParaphrasePanel(ui_run)
    assert p.task.value == 'sort_asc' and p.list.value.count('<tr>') == 1 + 16
    assert set(p.table[p.table.task == 'sort_asc'].split) == {'train', 'dev', 'test'}
    p.task.value = 'upper_word'; assert 'uppercase' in p.list.value
    assert p.figures['similarity'].data[0].type == 'box'
    from ca_nb.suite import mini_suite
    p = ParaphrasePanel(mini_suite(n_train=1, n_dev=1, n_test=1, task_ids=['max_num']))  # tasks instead of a run
    assert p.task.options == ('max_num',) and 'largest' in p.list.value

def test_partial_run_panels(partial_run):
    "A run missing a stage's answers and its pairs still opens; the panels say what is missing."
    from ca_nb.runs import Run
    from ca_nb.widgets import ConsistencyPanel, PairPanel
    run = Run(partial_run)
    assert run.stages[:2] == ['base', 'ia_sft'] and run.metrics('ia_sft')['cr'] == run.metrics('base')['cr']
    p = ConsistencyPanel(partial_run)
    assert 'eval/ia_sft/responses.jsonl is missing' in p.notes.value
    p.stage.value = 'ia_sft'
    assert 'tasks' in p.figures and 'responses.jsonl is missing' in p.answers.value and p.heatmap.outputs == ()
    assert 'no stage-2 pairs' in PairPanel(partial_run).children[0].value

def test_report(ui_run, tmp_path):
    from ca_nb.report import write_report
    path = write_report(ui_run, str(tmp_path / 'report.html'))
    text = open(path, encoding='utf-8').read()
    assert os.path.getsize(path) > 500_000 and text.count('* plotly.js v') == 1
    assert '<script src=' not in text and 'could not be made' not in text
    assert text.count('class="plotly-graph-div"') == text.count('Plotly.newPlot(') >= 8
    for h in ('Stage comparison', 'Per task', 'Least consistent instances', 'Stage-2 pairs', 'Paraphrases'): assert f'<h2>{h}</h2>' in text
    assert 'stage IA-SFT+CAT (cat) has not been evaluated' in text

CONSOLE_SCRIPT = "import sys\nfrom ca_nb.report import report_cli\nif __name__ == '__main__': sys.exit(report_cli())\n"

def test_report_cli(partial_run, tmp_path):
    "`ca_nb_report RUN` writes RUN/report.html, also for a partial run (before `pip install -e .` the same script is run)."
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_report')
    if not os.path.exists(exe): (tmp_path / 'ca_nb_report').write_text(CONSOLE_SCRIPT); exe = str(tmp_path / 'ca_nb_report')
    r = subprocess.run([sys.executable, exe, partial_run], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    text = open(os.path.join(partial_run, 'report.html'), encoding='utf-8').read()
    assert 'pairs.jsonl is missing' in text and 'no stage-2 pairs' in text and 'report:' in r.stdout

def test_views_use_the_runs_judge(tmp_path):
    "A run measured with the chat judge (extracted answers) is shown with that judge, not exact match of whole answers."
    from ca_nb.runs import Run
    from ca_nb.analysis import run_judge, instance_rows
    from ca_nb.judges import EXACT
    d = tmp_path / 'run' / 'eval' / 'ia_sft'; d.mkdir(parents=True)
    rows = [dict(task='t', instance='i', variant=v, refs=['Yes'], answer=a) for v, a in (('orig', 'Yes'), ('p1', 'The answer is: Yes.'))]
    (d / 'responses.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    (d / 'metrics.json').write_text(json.dumps({'judge': 'ExactMatch(chat_answer)'}))
    run = Run(tmp_path / 'run')
    assert repr(run_judge(run)) == 'ExactMatch(chat_answer)'
    assert instance_rows(run, 'ia_sft')[0]['cr'] == 1.0 and instance_rows(run, 'ia_sft', EXACT)[0]['cr'] == 0.0
    (d / 'metrics.json').write_text(json.dumps({'judge': 'ExactMatch(normalize)'}))
    assert repr(run_judge(Run(tmp_path / 'run'))) == 'ExactMatch(normalize)'
