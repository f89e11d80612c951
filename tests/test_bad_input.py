"Bad input never becomes a wrong number: each case exits with one line naming the problem, or gives the documented result."
import json, os, re, shutil, subprocess, sys
import pytest
from ca_nb.cli import eval_cli, sft_cli, demo_cli

SMALL = ['--task-ids', 'sort_asc,max_num', '--n-test', '2', '--n-train', '4', '--n-dev', '1']

def fails(capsys, fn, argv, *want):
    "Run a command in-process: it must exit with status 2 and one stderr line holding every `want`."
    with pytest.raises(SystemExit) as e: fn(argv)
    err = capsys.readouterr().err.strip().split('\n')[-1]   # the last line: what came before is progress output
    assert e.value.code == 2 and err.startswith('error: '), err
    for w in want: assert w in err, err
    return err

def para_file(path, lines):
    path.write_text(''.join((l if isinstance(l, str) else json.dumps(l)) + '\n' for l in lines), encoding='utf-8')
    return str(path)

def test_paraphrase_file_without_wordings(tmp_path, capsys, tiny_base):
    "Cases 1-2: a task left with no paraphrase (empty list, blank strings, empty file) is refused, never measured as CR 1.0."
    for name, lines in (('empty_list', [{'Task_id': 'sort_asc', 'Definition_reprs': []}, {'Task_id': 'max_num', 'Definition_reprs': ['Give the biggest.']}]),
                        ('blank', [{'Task_id': 'sort_asc', 'Definition_reprs': ['  ', '']}, {'Task_id': 'max_num', 'Definition_reprs': ['Give the biggest.']}]),
                        ('empty_file', [])):
        f = para_file(tmp_path / f'{name}.jsonl', lines)
        fails(capsys, eval_cli, ['--model', tiny_base, '--eval-paraphrases', f, '--out', str(tmp_path / name)] + SMALL,
              f, 'no paraphrases for task(s)', 'sort_asc')
        assert not (tmp_path / name / 'responses.jsonl').exists()

def test_duplicate_task_lines_and_wordings(tmp_path, capsys, tiny_base):
    "Case 3: a second line for a task is an error naming both lines; a repeated wording is dropped with a warning."
    f = para_file(tmp_path / 'dup.jsonl', [{'Task_id': 'sort_asc', 'Definition_reprs': ['Order them.']},
                                           {'Task_id': 'max_num', 'Definition_reprs': ['Give the biggest.']},
                                           {'Task_id': 'sort_asc', 'Definition_reprs': ['Arrange them.']}])
    fails(capsys, eval_cli, ['--model', tiny_base, '--eval-paraphrases', f, '--out', str(tmp_path / 'o')] + SMALL,
          'line 3: a second line for task', 'first is line 1')
    from ca_nb.data import load_paraphrases
    g = para_file(tmp_path / 'rep.jsonl', [{'Task_id': 'sort_asc', 'Definition_reprs': ['Order them.', 'Order them.', ' Order them. ']}])
    with pytest.warns(UserWarning, match='2 repeated wording'): assert load_paraphrases(g) == {'sort_asc': ['Order them.']}

def test_single_wording_instances_are_excluded_and_counted():
    "Cases 1-3 in the metric itself: an instance with one answer has no CR; it is counted, not scored 1."
    from ca_nb.metrics import consistency_metrics
    recs = [dict(task='a', instance='1', variant=v, answer=x, refs=['x']) for v, x in (('orig', 'x'), ('test0', 'y'), ('test1', 'x'))]
    recs += [dict(task='b', instance='2', variant='orig', answer='x', refs=['x'])]
    m = consistency_metrics(recs)
    assert abs(m['cr'] - 1 / 3) < 1e-12 and m['n_unmeasured'] == 1 and m['n_instances'] == 2
    assert m['per_task']['b']['n_unmeasured'] == 1 and m['per_task']['b']['cr'] != 1.0

def test_prompt_longer_than_the_context(tmp_path, capsys, tiny_base):
    "Case 4: a 5,000-word wording is refused before any answer is generated, naming task, wording and length."
    f = para_file(tmp_path / 'long.jsonl', [{'Task_id': 'sort_asc', 'Definition_reprs': ['Sort the numbers. ' + 'please ' * 5000]},
                                            {'Task_id': 'max_num', 'Definition_reprs': ['Give the biggest.']}])
    fails(capsys, eval_cli, ['--model', tiny_base, '--eval-paraphrases', f, '--out', str(tmp_path / 'o')] + SMALL,
          "do not fit the model's context of 1024", "task 'sort_asc'", "variant 'test0'")
    assert not (tmp_path / 'o' / 'responses.jsonl').exists() or not open(tmp_path / 'o' / 'responses.jsonl').read()

def test_negative_counts_name_the_option(tmp_path, capsys, tiny_base):
    "Case 5: negative counts are refused with the option's name."
    fails(capsys, eval_cli, ['--model', tiny_base, '--n-instances', '-1', '--out', str(tmp_path / 'o')] + SMALL, '--n-instances -1')
    fails(capsys, eval_cli, ['--model', tiny_base, '--n-test', '-1', '--out', str(tmp_path / 'o')], '--n-test -1')
    fails(capsys, demo_cli, ['--preset', 'tiny', '--eval-n-instances', '-1', '--out', str(tmp_path / 'd')], '--n-instances -1')
    fails(capsys, sft_cli, ['--model', tiny_base, '--n-variants', '-3', '--out', str(tmp_path / 's')] + SMALL, '--n-variants -3')
    assert not (tmp_path / 'd').exists() and not (tmp_path / 's').exists()

def test_too_many_variants_are_clamped_and_recorded(tmp_path, capsys, tiny_base):
    "Case 6: more wordings than a task has are clamped, said, and the number used is what the run records."
    sft_cli(['--model', tiny_base, '--n-variants', '100', '--max-steps', '2', '--out', str(tmp_path / 's')] + SMALL)
    err = capsys.readouterr().err
    assert '--n-variants 100: some task has only 9 train wordings; using 9' in err
    assert json.load(open(tmp_path / 's' / 'ca_nb_run.json'))['n_variants'] == 9

def test_options_checked_before_work(tmp_path, capsys):
    "Case 7: a bad option stops the study before the base model trains, and nothing is written."
    fails(capsys, demo_cli, ['--preset', 'tiny', '--eval-judge', 'bogus', '--out', str(tmp_path / 'd')], "--judge 'bogus'")
    fails(capsys, demo_cli, ['--preset', 'tiny', '--pairs-strategy', 'nearest', '--out', str(tmp_path / 'd')], "--pairs 'nearest'")
    fails(capsys, demo_cli, ['--preset', 'tiny', '--stage2-reward', 'vibes', '--out', str(tmp_path / 'd')], "--reward 'vibes'")
    assert not (tmp_path / 'd').exists()

def test_complete_last_line_without_newline_is_kept(tmp_path, tiny_base):
    "Case 8: a responses.jsonl whose last row lacks only its newline keeps that row on resume: nothing lost, nothing twice."
    out = tmp_path / 'e'
    eval_cli(['--model', tiny_base, '--out', str(out)] + SMALL)
    path = out / 'responses.jsonl'
    full = path.read_text()
    path.write_text(full.rstrip('\n'))   # the writer died between the row and its newline
    eval_cli(['--model', tiny_base, '--out', str(out)] + SMALL)
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    assert len(rows) == len(full.splitlines()) == len({r['key'] for r in rows})

def test_reused_out_folder_with_other_settings(tmp_path, capsys, tiny_base):
    "Case 9: an output folder belongs to one evaluation; other settings are refused, naming what differs."
    out = tmp_path / 'e'
    eval_cli(['--model', tiny_base, '--out', str(out)] + SMALL)
    n = len(open(out / 'responses.jsonl').read().splitlines())
    fails(capsys, eval_cli, ['--model', tiny_base, '--out', str(out), '--task-ids', 'sort_asc', '--n-test', '3'], 'other settings', 'data')
    assert len(open(out / 'responses.jsonl').read().splitlines()) == n   # the file still holds one run's answers

def test_damaged_weights_are_named(tmp_path, capsys, tiny_base):
    "Case 10: a truncated model.safetensors is named as damaged."
    bad = tmp_path / 'bad'; shutil.copytree(tiny_base, bad, ignore=shutil.ignore_patterns('checkpoints'))
    w = bad / 'model.safetensors'; data = w.read_bytes(); w.write_bytes(data[:len(data) // 2])
    fails(capsys, eval_cli, ['--model', str(bad), '--out', str(tmp_path / 'o')] + SMALL, str(w), 'damaged or truncated')

def test_non_utf8_files_and_other_bad_options(tmp_path, capsys, tiny_base):
    "Non-UTF-8 task and paraphrase files name the file; an empty id list; --out naming a file; an unknown model."
    d = tmp_path / 'sni'; d.mkdir()
    (d / 'task_x.json').write_bytes(b'{"Definition": ["caf\xe9"], "Instances": []}')
    fails(capsys, eval_cli, ['--model', tiny_base, '--tasks', str(d), '--out', str(tmp_path / 'o')], 'task_x.json', 'not UTF-8')
    p = tmp_path / 'p.jsonl'; p.write_bytes(b'{"Task_id": "sort_asc", "Definition_reprs": ["caf\xe9"]}\n')
    fails(capsys, eval_cli, ['--model', tiny_base, '--eval-paraphrases', str(p), '--out', str(tmp_path / 'o')] + SMALL, 'p.jsonl', 'not UTF-8')
    fails(capsys, eval_cli, ['--model', tiny_base, '--task-ids', ',', '--out', str(tmp_path / 'o')], '--task-ids: the id list is empty')
    f = tmp_path / 'afile'; f.write_text('x')
    fails(capsys, eval_cli, ['--model', tiny_base, '--out', str(f)] + SMALL, f'--out {f}: a file, expected a folder')
    fails(capsys, eval_cli, ['--model', str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'o')] + SMALL, 'nowhere')

def test_report_on_a_folder_without_a_run(tmp_path, tiny_base):
    "ca_nb_report on an empty folder, or on a ca_nb_eval folder, says so and writes nothing."
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_report')
    empty = tmp_path / 'empty'; empty.mkdir()
    ev = tmp_path / 'ev'; eval_cli(['--model', tiny_base, '--out', str(ev)] + SMALL)
    for d in (empty, ev):
        r = subprocess.run([exe, str(d)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and r.stderr.startswith('error: ') and 'holds no study run' in r.stderr, r.stderr
        assert not (d / 'report.html').exists()

def test_debug_shows_the_traceback(tmp_path, tiny_base):
    from ca_nb.tasks import DataError
    with pytest.raises(DataError): eval_cli(['--model', tiny_base, '--task-ids', ',', '--out', str(tmp_path / 'o'), '--debug'])

# --- issue 30: a broken model never looks consistent; inputs checked once, completely ---

def test_options_that_make_answers_impossible(tmp_path, capsys, tiny_base):
    "--max-new-tokens 0 / --batch-size 0 are refused when the config is made: before the model loads, nothing written."
    for opt, says in (('--max-new-tokens', '--max-new-tokens 0: expected 1 or more'), ('--batch-size', '--batch-size 0: expected 1 or more')):
        fails(capsys, eval_cli, ['--model', tiny_base, opt, '0', '--out', str(tmp_path / 'o')] + SMALL, says)
        fails(capsys, eval_cli, ['--model', str(tmp_path / 'nowhere'), opt, '-3', '--out', str(tmp_path / 'o')] + SMALL, f'{opt} -3')  # no model is read
    assert not (tmp_path / 'o').exists()
    from ca_nb.generate import GenConfig
    from ca_nb.metrics import EvalConfig
    for make, says in ((lambda: GenConfig(max_new_tokens=0), '--max-new-tokens 0'), (lambda: GenConfig(batch_size=-1), '--batch-size -1'),
                       (lambda: GenConfig(do_sample=True, temperature=0.0), '--temperature 0.0'), (lambda: GenConfig(top_p=0), '--top-p 0'),
                       (lambda: EvalConfig(max_new_tokens=0), '--max-new-tokens 0'), (lambda: EvalConfig(n_instances=0), '--n-instances 0'),
                       (lambda: EvalConfig(split='val'), "--split 'val'"), (lambda: EvalConfig(judge='vibes'), "--judge 'vibes'")):
        with pytest.raises(ValueError, match=says): make()

def destroyed(tiny_base, tmp_path):
    "The tiny base model with its output layer zeroed: every answer is the padding token, decoded as nothing."
    from ca_nb.models import load_model
    bad = tmp_path / 'destroyed'; shutil.copytree(tiny_base, bad, ignore=shutil.ignore_patterns('checkpoints'))
    m, tok, _ = load_model(tiny_base)
    m.lm_head.weight.data.zero_(); m.save_pretrained(bad)
    return str(bad)

def test_a_model_answering_nothing_is_not_consistent(tmp_path, capsys, tiny_base):
    "A destroyed model answering nothing: CR 0 (not 1), MCR 1/n, empty share 1, and a warning in metrics.json and on stderr."
    out = tmp_path / 'e'
    with pytest.warns(UserWarning, match='100% of the answers are empty'):
        eval_cli(['--model', destroyed(tiny_base, tmp_path), '--out', str(out)] + SMALL)
    m = json.load(open(out / 'metrics.json'))
    assert all(r['answer'] == '' for r in map(json.loads, open(out / 'responses.jsonl')))
    assert m['cr'] == 0 and abs(m['mcr'] - 1 / m['n_variants']) < 1e-12 and m['empty_share'] == 1 and m['top_answer'] is None
    assert len(m['warnings']) == 1 and 'empty' in m['warnings'][0] and m['per_task']['sort_asc']['empty_share'] == 1

def test_no_evaluation_wording_is_refused_before_generation(tmp_path, capsys, tiny_base):
    "SNI tasks given only training paraphrases have nothing to compare under --split test: refused, naming --eval-paraphrases."
    d = tmp_path / 'sni'; d.mkdir()
    json.dump({'Definition': ['Repeat the word.'], 'Instances': [{'id': str(i), 'input': w, 'output': [w]} for i, w in enumerate(['cat', 'dog', 'sun'])]},
              open(d / 'task_echo.json', 'w'))
    p = para_file(tmp_path / 'train.jsonl', [{'Task_id': 'task_echo', 'Definition_reprs': ['Say the word again.']}])
    out = tmp_path / 'o'
    fails(capsys, eval_cli, ['--model', tiny_base, '--tasks', str(d), '--paraphrases', p, '--n-test', '2', '--out', str(out)],
          "1 task(s) have no test wording besides the original ('task_echo')", '--eval-paraphrases')
    assert not out.exists()   # refused before the folder is made
    from ca_nb.metrics import check_wordings
    from ca_nb.data import load_tasks, DataConfig
    ts = load_tasks(DataConfig(str(d), paraphrases=p, n_test=1, n_dev=1))
    check_wordings(ts, 'train')   # the train split has its wording
    with pytest.raises(ValueError, match='no dev wording besides the original'): check_wordings(ts, 'dev')

def test_duplicate_task_ids(tmp_path, capsys, tiny_base):
    "--task-ids X,X loaded the task twice (and its instances counted twice): refused, naming the id."
    fails(capsys, eval_cli, ['--model', tiny_base, '--task-ids', 'sort_asc,max_num,sort_asc', '--out', str(tmp_path / 'o')],
          "--task-ids: 'sort_asc' given 2 times: expected each task once")
    from ca_nb.tasks import load_sni_tasks, DataError
    d = tmp_path / 'sni'; d.mkdir()
    json.dump({'Definition': ['Echo.'], 'Instances': [{'id': '1', 'input': 'a', 'output': ['a']}]}, open(d / 'task_x.json', 'w'))
    with pytest.raises(DataError, match="'task_x' given 2 times"): load_sni_tasks(d, ['task_x', 'task_x'])

def test_wordings_equal_up_to_case_and_white_space(tmp_path):
    "A wording equal to the original or to another up to case and white space is dropped with a warning; merged files too."
    from ca_nb.data import load_paraphrases, attach_paraphrase_file
    from ca_nb.suite import mini_suite
    ts = mini_suite(2, 1, 1, task_ids=['sort_asc'])
    orig = ts[0].definition
    f = para_file(tmp_path / 'p.jsonl', [{'Task_id': 'sort_asc', 'Definition_reprs': [orig.upper(), 'Order  them.', ' order them.', 'Arrange them.']}])
    with pytest.warns(UserWarning, match=r'2 repeated wording\(s\) dropped \(equal to another or to the original, up to case and white space\)'):
        assert load_paraphrases(f, ts) == {'sort_asc': ['Order  them.', 'Arrange them.']}
    g = para_file(tmp_path / 'q.jsonl', [{'Task_id': 'sort_asc', 'Definition_reprs': ['ARRANGE them.', 'Line them up.']}])
    with pytest.warns(UserWarning, match=r"q.jsonl: task 'sort_asc': 1 wording\(s\) already in an earlier file dropped"):
        attach_paraphrase_file(ts, f'{f},{g}', 'test', ts)
    assert ts[0].paraphrases['test'] == ['Order  them.', 'Arrange them.', 'Line them up.']

def test_train_eval_leak_compares_normalised_text(tmp_path, capsys, tiny_base):
    "An evaluation wording that is a training wording in other case or spacing is a leak: refused."
    tr = para_file(tmp_path / 'tr.jsonl', [{'Task_id': t, 'Definition_reprs': ['Put them in order.', 'Do it.']} for t in ('sort_asc', 'max_num')])
    ev = para_file(tmp_path / 'ev.jsonl', [{'Task_id': t, 'Definition_reprs': ['PUT them  in order.', 'New words.']} for t in ('sort_asc', 'max_num')])
    fails(capsys, eval_cli, ['--model', tiny_base, '--paraphrases', tr, '--eval-paraphrases', ev, '--out', str(tmp_path / 'o')] + SMALL,
          "task 'sort_asc': 1 evaluation wording(s) also in the training wordings ('PUT them  in order.'")

@pytest.mark.parametrize('inst, says', [
    ({'id': 'a', 'input': None, 'output': ['x']}, 'Instances[1] (id \'a\') field "input": None: expected a string'),
    ({'id': 'a', 'input': 7, 'output': ['x']}, 'Instances[1] (id \'a\') field "input": 7: expected a string'),
    ({'id': None, 'input': 'y', 'output': ['x']}, 'Instances[1] field "id": None: expected a non-empty string (or an integer)'),
    ({'id': ['a'], 'input': 'y', 'output': ['x']}, 'Instances[1] field "id": [\'a\']: expected'),
    ({'id': 1, 'input': 'y', 'output': ['x']}, "Instances[1] field \"id\": duplicate instance id '1' (also Instances[0])"),
])
def test_bad_instance_fields_are_named(tmp_path, inst, says):
    "null or non-string input, a non-string id, and ids equal as strings (1 and \"1\") are refused, naming file, instance and field."
    from ca_nb.tasks import load_sni_task, DataError
    f = tmp_path / 'task_x.json'
    json.dump({'Definition': ['Echo.'], 'Instances': [{'id': '1', 'input': 'a', 'output': ['a']}, inst]}, open(f, 'w'))
    with pytest.raises(DataError) as e: load_sni_task(f)
    assert str(e.value).startswith(f'{f}: ') and says in str(e.value), str(e.value)

def test_data_options_range_checked():
    "Every numeric option of DataConfig is checked, naming the option."
    from ca_nb.data import DataConfig
    from ca_nb.tasks import DataError
    for k, v, says in (('n_train', -1, '--n-train -1: expected a count of 0 or more'), ('n_dev', 2.5, '--n-dev 2.5'),
                       ('n_test', True, '--n-test True'), ('seed', -1, '--seed -1: expected a whole number of 0 or more')):
        with pytest.raises(DataError, match=re.escape(says)): DataConfig(**{k: v}).check()
    DataConfig(n_train=0, n_dev=0, n_test=1, seed=0).check()

# --- issue 30: one folder holds one run, a crash never blocks a resume, every error names its file ---

EXE = lambda name: os.path.join(os.path.dirname(sys.executable), name)
TINY = ['--preset', 'tiny', '--task-ids', 'sort_asc,max_num', '--n-train', '8', '--n-test', '2', '--n-dev', '1']

def model_copy(tiny_base, path):
    shutil.copytree(tiny_base, path, ignore=shutil.ignore_patterns('checkpoints'))
    return str(path)

def test_two_evaluations_never_share_a_folder(tmp_path, capsys, tiny_base):
    "A second ca_nb_eval on a folder in use is refused naming the first (its PID and command), before its model loads; a lock left by a killed process is taken over; one folder holds one model's answers."
    import signal, time
    out, other = tmp_path / 'e', model_copy(tiny_base, tmp_path / 'other')
    first = ['--model', tiny_base, '--out', str(out)] + TINY
    p = subprocess.Popen([EXE('ca_nb_eval')] + first, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = out / '.ca_nb.lock'
    for _ in range(1200):  # until the first holds the folder (the lock file names it)
        if lock.exists() and lock.read_text().strip(): break
        time.sleep(0.1)
    os.kill(p.pid, signal.SIGSTOP)   # the first is working: hold it there
    try: fails(capsys, eval_cli, ['--model', other, '--out', str(out)] + TINY, f'--out {out}: in use by process {p.pid}', 'ca_nb_eval --model')
    finally: os.kill(p.pid, signal.SIGKILL); p.wait(timeout=60)
    assert lock.exists()   # killed: its lock file stays behind
    with pytest.warns(UserWarning, match=f'taking over the lock of process {p.pid}'): eval_cli(first)
    assert not lock.exists()
    fails(capsys, eval_cli, ['--model', other, '--out', str(out)] + TINY, 'other settings', 'model')
    rows = [json.loads(l) for l in open(out / 'responses.jsonl')]
    m = json.load(open(out / 'metrics.json'))
    assert len(rows) == len({r['key'] for r in rows}) == m['n_instances'] * m['n_variants']   # one model's answers, each once

def test_out_inside_an_input_is_refused(tmp_path, capsys, tiny_base):
    "--out equal to or inside --model (or the tasks folder) is refused before anything is written: the input model is untouched."
    d = model_copy(tiny_base, tmp_path / 'model')
    before = {f: os.path.getmtime(os.path.join(d, f)) for f in os.listdir(d)}
    fails(capsys, sft_cli, ['--model', d, '--out', d, '--max-steps', '2'] + TINY, f'--out {d}: is --model {d}', 'choose another --out')
    fails(capsys, eval_cli, ['--model', d, '--out', os.path.join(d, 'eval')] + TINY, 'lies inside --model')
    assert {f: os.path.getmtime(os.path.join(d, f)) for f in os.listdir(d)} == before   # not a file written, none added
    sni = tmp_path / 'sni'; sni.mkdir()
    json.dump({'Definition': ['Repeat the word.'], 'Instances': [{'id': str(i), 'input': w, 'output': [w]} for i, w in enumerate(['cat', 'dog'])]},
              open(sni / 'task_echo.json', 'w'))
    fails(capsys, eval_cli, ['--model', d, '--tasks', str(sni), '--out', str(sni / 'o')], 'lies inside --tasks')
    assert not (sni / 'o').exists()

def test_a_refused_command_leaves_nothing_behind(tmp_path, capsys, tiny_base):
    "Refused after the model loaded (a wording too long for its context): no folder, no settings file, no lock; the corrected command then runs."
    out = tmp_path / 'o'
    long = para_file(tmp_path / 'long.jsonl', [{'Task_id': t, 'Definition_reprs': ['Do it. ' + 'please ' * 2000]} for t in ('sort_asc', 'max_num')])
    fails(capsys, eval_cli, ['--model', tiny_base, '--eval-paraphrases', long, '--out', str(out)] + TINY, "do not fit the model's context")
    assert not out.exists()
    good = para_file(tmp_path / 'good.jsonl', [{'Task_id': t, 'Definition_reprs': ['Do the task.']} for t in ('sort_asc', 'max_num')])
    eval_cli(['--model', tiny_base, '--eval-paraphrases', good, '--out', str(out)] + TINY)
    assert json.load(open(out / 'eval_config.json'))['data']['eval_paraphrases'] == good and not (out / '.ca_nb.lock').exists()

def test_an_edited_input_is_named_on_resume(tmp_path, capsys, tiny_base):
    "A wording file (or the model) edited in place since the evaluation started: refused, naming the file; a folder without digests (older) resumes."
    f = para_file(tmp_path / 'w.jsonl', [{'Task_id': t, 'Definition_reprs': ['Do the task.', 'Go.']} for t in ('sort_asc', 'max_num')])
    model, out = model_copy(tiny_base, tmp_path / 'm'), tmp_path / 'e'
    cmd = ['--model', model, '--eval-paraphrases', f, '--out', str(out)] + TINY
    eval_cli(cmd)
    recorded = json.load(open(out / 'eval_config.json'))['inputs']
    assert set(recorded) >= {f, os.path.join(model, 'model.safetensors'), os.path.join(model, 'config.json')}
    n = len(open(out / 'responses.jsonl').read().splitlines())
    para_file(tmp_path / 'w.jsonl', [{'Task_id': t, 'Definition_reprs': ['Do the task now.', 'Go.']} for t in ('sort_asc', 'max_num')])
    fails(capsys, eval_cli, cmd, f'{f} changed since {out} was started', 'start a new --out, or restore the file')
    assert len(open(out / 'responses.jsonl').read().splitlines()) == n   # nothing generated under the new wording
    para_file(tmp_path / 'w.jsonl', [{'Task_id': t, 'Definition_reprs': ['Do the task.', 'Go.']} for t in ('sort_asc', 'max_num')])  # restored
    w = os.path.join(model, 'generation_config.json'); open(w, 'a').write('\n')
    fails(capsys, eval_cli, cmd, f'{w} changed since')
    s = json.load(open(out / 'eval_config.json')); del s['inputs']; json.dump(s, open(out / 'eval_config.json', 'w'))  # an older folder
    eval_cli(cmd)   # unknown is not changed: it resumes, and records the digests from now on
    assert json.load(open(out / 'eval_config.json'))['inputs'][w] != recorded[w]

def test_damaged_training_is_an_error_and_marked(tmp_path, capsys, tiny_base):
    "ca_nb_sft --learning-rate 1e6 wrecks the model: one line naming the damage, `health` in its ca_nb_run.json; ca_nb_eval on it warns."
    out = tmp_path / 's'
    err = fails(capsys, sft_cli, ['--model', tiny_base, '--learning-rate', '1e6', '--max-steps', '4', '--out', str(out)] + TINY, str(out), 'the model was damaged')
    assert 'the training loss rose from' in err or 'not a number' in err or 'vanished' in err
    health = json.load(open(out / 'ca_nb_run.json'))['health']
    assert health and health in err and not (out / '.ca_nb.lock').exists()
    with pytest.warns(UserWarning, match=re.escape(f'{out}: {health}')): eval_cli(['--model', str(out), '--out', str(tmp_path / 'e')] + TINY)

def test_damaged_run_files_are_named(tmp_path, capsys, tiny_base):
    "Malformed JSON (or a list where an object belongs) in eval_config.json, ca_nb_run.json, config.json, metrics.json, and a responses.jsonl row without its key: the file and line are named, one line."
    ev = tmp_path / 'e'
    eval_cli(['--model', tiny_base, '--out', str(ev)] + TINY)
    for name, text, says in (('eval_config.json', '{"model":\n', 'eval_config.json: line 2: malformed JSON'),
                             ('eval_config.json', '[1]', 'eval_config.json: holds a JSON list: expected a JSON object')):
        keep = (ev / name).read_text(); (ev / name).write_text(text)
        fails(capsys, eval_cli, ['--model', tiny_base, '--out', str(ev)] + TINY, str(ev / name), says)
        (ev / name).write_text(keep)
    rows = (ev / 'responses.jsonl').read_text()
    (ev / 'responses.jsonl').write_text(rows + '{"answer": "1 2"}\n')
    fails(capsys, eval_cli, ['--model', tiny_base, '--out', str(ev)] + TINY,
          f"{ev / 'responses.jsonl'}: line {len(rows.splitlines()) + 1}: a row without its 'key' field")
    model = model_copy(tiny_base, tmp_path / 'm'); (tmp_path / 'm' / 'ca_nb_run.json').write_text('{"stage": "ia_sft",\n "preset": ')
    fails(capsys, eval_cli, ['--model', model, '--out', str(tmp_path / 'e2')], 'ca_nb_run.json: line 2: malformed JSON')
    from dataclasses import asdict
    from ca_nb.cli import demo_config, demo_parser
    run = tmp_path / 'run'; run.mkdir()
    cfg = demo_config(demo_parser().parse_args(TINY))   # the config.json this command would write
    json.dump(dict(asdict(cfg), resolved=cfg.plan().record()), open(run / 'config.json', 'w'))
    (run / 'metrics.json').write_text('{"seconds": {"base": 1.0,\n')
    fails(capsys, demo_cli, ['--resume', '--out', str(run)] + TINY, str(run / 'metrics.json'), 'line 2: malformed JSON')
    (run / 'config.json').write_text('{"preset": "tiny",, }')
    fails(capsys, demo_cli, ['--resume', '--out', str(run)] + TINY, str(run / 'config.json'), 'line 1: malformed JSON')
    assert sorted(os.listdir(run)) == ['config.json', 'metrics.json']   # nothing else written, no lock left

def test_a_full_disk_is_named(tmp_path, capsys, tiny_base, monkeypatch):
    "A write that fails with ENOSPC (answers appended, a JSON file, torch's checkpoint writer) is one line naming the file and saying the disk is full."
    import builtins, errno
    real = builtins.open
    class Full:
        def __init__(self, f): self.f = f
        def write(self, s): raise OSError(errno.ENOSPC, 'No space left on device')
        def __getattr__(self, k): return getattr(self.f, k)
        def __enter__(self): return self
        def __exit__(self, *a): self.f.close()
    def full_open(path, mode='r', *a, **k):
        f = real(path, mode, *a, **k)
        return Full(f) if str(path).endswith('responses.jsonl') and 'a' in mode else f
    monkeypatch.setattr(builtins, 'open', full_open)
    out = tmp_path / 'e'
    fails(capsys, eval_cli, ['--model', tiny_base, '--out', str(out)] + TINY, f"{out / 'responses.jsonl'}: the disk is full", '--resume')
    monkeypatch.setattr(builtins, 'open', real)
    assert not (out / '.ca_nb.lock').exists()
    from ca_nb.files import write_json
    def no_space(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(json, 'dump', no_space)
    with pytest.raises(OSError) as e: write_json(str(tmp_path / 'x' / 'metrics.json'), {'cr': 1})
    assert e.value.filename == str(tmp_path / 'x' / 'metrics.json') and os.listdir(tmp_path / 'x') == []   # named; no temporary file left
    from ca_nb.cli import main, command
    import ca_nb.cli as cli
    from types import SimpleNamespace
    monkeypatch.setattr(cli.shutil, 'disk_usage', lambda p: SimpleNamespace(free=4096))   # a disk with 4 KiB left
    def torch_save(args): raise RuntimeError('[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed')
    p = command('x'); p.add_argument('--out')
    with pytest.raises(SystemExit) as e: main(p, torch_save, ['--out', str(tmp_path)])
    assert e.value.code == 2 and f'{tmp_path}: the disk is full' in capsys.readouterr().err

def test_a_training_folder_holds_one_training_run(tmp_path, capsys, tiny_base):
    "ca_nb_sft into a folder it trained before: the same command needs --resume; other options are refused, naming what differs."
    out = tmp_path / 's'
    sft_cli(['--model', tiny_base, '--max-steps', '2', '--out', str(out)] + TINY)
    fails(capsys, sft_cli, ['--model', tiny_base, '--max-steps', '2', '--out', str(out)] + TINY, 'already holds this training run', '--resume')
    fails(capsys, sft_cli, ['--model', tiny_base, '--max-steps', '3', '--resume', '--out', str(out)] + TINY,
          'a training run made with other settings', 'plan.ia_sft.max_steps')
    before = os.path.getmtime(out / 'model.safetensors')
    sft_cli(['--model', tiny_base, '--max-steps', '2', '--resume', '--out', str(out)] + TINY)   # the same run resumes
    assert json.load(open(out / 'train_config.json'))['plan']['ia_sft']['max_steps'] == 2 and os.path.getmtime(out / 'model.safetensors') >= before
