"Stage 2 behaviour: ladder levels, verdict probabilities, ordered pairs, and CAT moving the implicit reward margin."
import json, os
import numpy as np, pytest, torch
from ca_nb.models import load_model, RunContext
from ca_nb.suite import mini_suite
from ca_nb.judges import judge_prompt, JudgePrompts, TYPE_LABELS, CORRECT_LABELS
from ca_nb.reward import ladder_level, combine_verdicts, label_probs, self_rewards, judge_examples, partial_answer
from ca_nb.align import pairs_dataset, train_cat, implicit_margin, CATConfig
from ca_nb.pipeline import cached_run

@pytest.fixture(scope='module')
def run(): return cached_run('tiny')

def test_ladder_levels():
    assert ladder_level('5', ['5']) == 6 and ladder_level('Yes.', ['yes']) == 6
    assert ladder_level('the total is 12', ['12']) == 5 and ladder_level('1 2', ['1 2 3']) is None   # a shorter list: the judge decides
    assert ladder_level('x' * 80 + ' 12', ['12']) is None   # containment, but lengths 50+ characters apart
    assert ladder_level('7', ['12']) is None
    assert combine_verdicts(True, 'completely') == 4 and combine_verdicts(True, 'partially') == 3
    assert combine_verdicts(True, 'incorrect') == 1 and combine_verdicts(False, 'incorrect') == 0
    assert combine_verdicts(False, 'completely') == 1

def test_verdict_probabilities_sum_to_one(run):
    model, tok, _ = load_model(os.path.join(run, 'ia_sft'))
    t = mini_suite(n_train=2, n_dev=1, n_test=1)[0]; i = t.instances[0]
    ps = [judge_prompt(q, t.definition, i.input, a, i.outputs[0], tok, JudgePrompts()) for q in ('type', 'correct')
          for a in (i.outputs[0], 'yes', '')]
    for labels, rows in ((TYPE_LABELS, ps[:3]), (CORRECT_LABELS, ps[3:])):
        p = label_probs(model, tok, rows, labels)
        assert p.shape == (3, len(labels)) and np.allclose(p.sum(1), 1) and (p >= 0).all()

def test_label_probs_equal_each_prompt_alone(run):
    "Shared judge prefixes are computed once; the probabilities are those of each prompt run on its own."
    import torch
    from ca_nb.reward import label_token_ids, _label_dist
    model, tok, _ = load_model(os.path.join(run, 'ia_sft'))
    ps = [judge_prompt('correct', t.definition, i.input, a, i.outputs[0], tok, JudgePrompts())
          for t in mini_suite(n_train=3, n_dev=1, n_test=1)[:4] for i in t.instances_for('train') for a in (i.outputs[0], '7', 'no')]
    p = label_probs(model, tok, ps, CORRECT_LABELS, batch_size=8)
    ids = label_token_ids(tok, CORRECT_LABELS, after_space=ps[0][-1:].isspace())
    with torch.no_grad():
        alone = np.concatenate([_label_dist(model(**tok(q, return_tensors='pt', add_special_tokens=False)).logits[:, -1].float(), ids)
                                for q in ps])
    assert np.abs(p - alone).max() < 1e-5

def test_scores_are_cached(run, tmp_path):
    model, tok, _ = load_model(os.path.join(run, 'ia_sft'))
    t = mini_suite(n_train=3, n_dev=1, n_test=1)[1]
    items = [dict(instruction=t.definition, input=i.input, answer=a, refs=i.outputs)
             for i in t.instances_for('train') for a in (i.outputs[0], '3 1', 'yes')]
    c = str(tmp_path / 'r.jsonl')
    a = self_rewards(model, tok, items, cache=c, progress=False)
    b = self_rewards(model, tok, items, cache=c, progress=False)
    assert [r['reward'] for r in a] == [r['reward'] for r in b] and len(open(c).readlines()) == len(items)
    assert all(r['reward'] == 6 for r in a[::3])

def test_judge_examples_cover_all_verdicts():
    tasks = mini_suite(n_train=5, n_dev=1, n_test=1)
    rows = judge_examples(tasks, None, n_per_task=5)
    labels = {r['completion'].strip() for r in rows}
    assert labels == set(TYPE_LABELS) | set(CORRECT_LABELS)
    import random
    assert partial_answer('1 2 3', random.Random(0)) in {'2 3', '1 3', '1 2'}

def test_pairs_are_ordered_in_the_run(run):
    rows = [json.loads(l) for l in open(os.path.join(run, 'pairs.jsonl'))]
    assert rows and all(r['chosen_reward'] > r['rejected_reward'] for r in rows)
    from datasets import load_from_disk
    assert len(load_from_disk(os.path.join(run, 'pairs'))) == len(rows)

def test_cat_grows_the_margin_and_changes_weights(run, tmp_path):
    sft = os.path.join(run, 'ia_sft')
    model, tok, _ = load_model(sft); ref = load_model(sft).model
    rows = [json.loads(l) for l in open(os.path.join(run, 'pairs.jsonl'))][:64]
    ds = pairs_dataset(rows)
    m0 = implicit_margin(model, ref, tok, ds)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    train_cat(model, tok, ds, str(tmp_path / 'cat'), CATConfig(max_steps=12, learning_rate=1e-3, per_device_train_batch_size=16), RunContext(progress=False), ref)
    model.eval()
    m1 = implicit_margin(model, ref, tok, ds)
    assert abs(m0) < 1e-6 and m1 > m0 + 0.05
    assert sum(not torch.equal(before[n], p) for n, p in model.named_parameters()) == len(before)

def test_pairs_are_distinct_and_their_quality_is_recorded(run):
    "No pair has the same text on both sides; the run records pair quality, and its precision is the pairs' own."
    from ca_nb.text import normalize
    from ca_nb.metrics import is_correct
    rows = [json.loads(l) for l in open(os.path.join(run, 'pairs.jsonl'))]
    assert rows and all(normalize(r['chosen']) != normalize(r['rejected']) for r in rows)
    q = json.load(open(os.path.join(run, 'pair_quality.json')))
    assert q['pairs']['n'] == len(rows) and q['pairs']['identical'] == 0
    assert q['pairs']['precision'] == pytest.approx(np.mean([is_correct(r['chosen'], r['refs']) for r in rows]))  # the tiny run's judge: exact match
    assert q['judge']['n'] == sum(1 for r in (json.loads(l) for l in open(os.path.join(run, 'rewards.jsonl'))) if r['probs'])
    assert json.load(open(os.path.join(run, 'metrics.json')))['pair_quality'] == q

def test_containment_pairs_choose_right_answers():
    "The containment rung (the reference wrapped in words) goes to a right answer, and its pairs prefer it to wrong ones."
    from ca_nb.judges import chat_exact_match
    from ca_nb.reward import reference_rewards
    from ca_nb.align import build_pairs, pair_quality, PairConfig
    items = [dict(task='t', instance='i', variant=v, prompt=f'p {v}', instruction='Add the numbers.', input='5 7', refs=['12'],
                  answer=a, sample=0) for v, a in (('orig', 'The total is 12'), ('train0', '13'), ('train1', 'The total is 13'))]
    scored = [dict(it, **r) for it, r in zip(items, reference_rewards(items))]
    assert [s['level'] for s in scored] == [5, 0, 0]
    pairs = build_pairs(scored, PairConfig(strategy='margin'))
    assert {(p['chosen'], p['rejected']) for p in pairs} == {('The total is 12', '13'), ('The total is 12', 'The total is 13')}
    q = pair_quality(pairs, chat_exact_match())
    assert q['by_rung']['containment']['n'] == len(pairs) == 2 and q['precision'] == 1.0 and q['wrong_over_right'] == 0
