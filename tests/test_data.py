"SNI loading on every real task file, bad input named, paraphrase round trip, the embedded suite."
import json, glob
from pathlib import Path
import pytest
from ca_nb.tasks import load_sni_tasks, shared_sni_dir, DataError
from ca_nb.data import load_paraphrases, write_paraphrases
from ca_nb.suite import mini_suite

SNI = shared_sni_dir()
needs_sni = pytest.mark.skipif(SNI is None, reason="../shared/data/sni is absent in this checkout")

@needs_sni
def test_every_sni_file_loads_with_its_counts():
    files = sorted(glob.glob(str(SNI / 'tasks' / '*.json')))
    tasks = load_sni_tasks(SNI / 'tasks')
    assert len(tasks) == len(files) == 32
    for t, f in zip(tasks, files):
        raw = json.load(open(f))
        assert t.id == Path(f).stem and t.definition == raw['Definition'][0].strip()
        assert [i.id for i in t.instances] == [r['id'] for r in raw['Instances']]
        assert [i.outputs for i in t.instances] == [r['output'] for r in raw['Instances']]

@needs_sni
def test_shared_paraphrase_files():
    tasks = load_sni_tasks(SNI / 'tasks')
    tr, dv = load_paraphrases(SNI / 'paraphrases' / 'train.jsonl', tasks), load_paraphrases(SNI / 'paraphrases' / 'dev.jsonl', tasks)
    assert len(tr) == len(dv) == 32 and all(len(v) == 8 for v in tr.values()) and all(len(v) == 2 for v in dv.values())

def test_folder_reports_all_bad_files_and_keeps_good_ones(tmp_path):
    ok = {"Definition": ["Echo."], "Instances": [{"id": "1", "input": "a", "output": ["a"]}]}
    json.dump(ok, open(tmp_path / 'task_ok.json', 'w'))
    (tmp_path / 'task_bad.json').write_text('{"Definition": ["x"], "Instances": [')
    json.dump({"Definition": ["x"]}, open(tmp_path / 'task_noinst.json', 'w'))
    with pytest.raises(DataError) as e: load_sni_tasks(tmp_path)
    msg = str(e.value)
    assert 'task_bad.json: line 1: malformed JSON' in msg and 'task_noinst.json: field "Instances"' in msg
    assert [t.id for t in e.value.loaded] == ['task_ok']

def test_paraphrase_round_trip(tmp_path):
    tasks = mini_suite(n_train=2, n_dev=1, n_test=1)
    p = write_paraphrases(tmp_path / 'p.jsonl', {t.id: t.paraphrases['test'] for t in tasks}, tasks)
    assert load_paraphrases(p, tasks) == {t.id: t.paraphrases['test'] for t in tasks}
    row = json.loads(open(p).readline())
    assert row['Definition'] == [tasks[0].definition] and set(row) == {'Task_id', 'Definition', 'Definition_reprs'}

def test_suite_shape():
    tasks = mini_suite(n_train=20, n_dev=5, n_test=5)
    assert len(tasks) >= 16
    for t in tasks:
        assert len(t.paraphrases['train']) >= 6 and len(t.paraphrases['dev']) >= 2 and len(t.paraphrases['test']) >= 4
        ins = {s: {i.input for i in t.instances_for(s)} for s in ('train', 'dev', 'test')}
        assert not (ins['train'] & ins['test']) and not (ins['train'] & ins['dev']) and not (ins['dev'] & ins['test'])
    # the test set does not move when more training instances are drawn
    more = mini_suite(n_train=40, n_dev=5, n_test=5)
    assert [i.input for i in more[0].instances_for('test')] == [i.input for i in tasks[0].instances_for('test')]
