"The whole study on real SNI tasks: trained on generated instances, evaluated on the real ones (tiny preset, two tasks)."
import json, os, subprocess, sys
import pytest
from ca_nb.tasks import shared_sni_dir, load_sni_tasks
from ca_nb.data import load_paraphrases
from ca_nb.pipeline import STAGES

SNI = shared_sni_dir()
needs_sni = pytest.mark.skipif(SNI is None, reason="../shared/data/sni is absent in this checkout")
IDS = ['task365_synthetic_remove_vowels', 'task1316_remove_duplicates_string']

@needs_sni
def test_tiny_sni_study_end_to_end(tmp_path):
    out = tmp_path / 'sni'
    exe = os.path.join(os.path.dirname(sys.executable), 'ca_nb_demo')
    r = subprocess.run([exe, '--preset', 'tiny', '--tasks', str(SNI / 'tasks'), '--task-ids', ','.join(IDS),
                        '--paraphrases', str(SNI / 'paraphrases' / 'train.jsonl'),
                        '--eval-paraphrases', str(SNI / 'paraphrases' / 'dev.jsonl'),
                        '--train-instances', 'generated', '--out', str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.load(open(out / 'metrics.json'))
    assert set(m['stages']) == set(STAGES)
    assert m['config']['data']['train_instances'] == 'generated' and m['config']['data']['task_ids'] == IDS
    real = {t.id: {i.id for i in t.instances} for t in load_sni_tasks(SNI / 'tasks', IDS)}
    n_dev = {t: len(v) for t, v in load_paraphrases(SNI / 'paraphrases' / 'dev.jsonl').items()}
    for stage, s in m['stages'].items():
        # every stage is measured on every real instance, under the original definition plus the dev paraphrases
        assert sorted(s['per_task']) == sorted(IDS)
        assert s['n_instances'] == sum(map(len, real.values())) and s['n_variants'] == 1 + n_dev[IDS[0]]
        rows = [json.loads(l) for l in open(out / 'eval' / stage / 'responses.jsonl')]
        assert {x['instance'] for x in rows} == set().union(*real.values())
    # stage 2 sampled answers on generated train instances only, never on a real one
    scored = [json.loads(l) for l in open(out / 'rewards.jsonl')]
    assert scored and not {x['instance'] for x in scored} & set().union(*real.values())
    assert all('gentrain' in x['instance'] for x in scored)
    # the IA-SFT model saw the training paraphrases: its train log exists and its loss went down
    log = [x['loss'] for x in json.load(open(out / 'ia_sft' / 'train_log.json')) if 'loss' in x]
    assert log[-1] < log[0]
