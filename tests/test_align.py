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

# --- the likelihood reward's fast path, the majority reward, stage 2 on the user's own inputs ---
from ca_nb.sft import cached_sft

@pytest.fixture(scope='module')
def sft(): return load_model(cached_sft())

MAJ_TASKS = ('is_increasing', 'count_vowels', 'word_length', 'is_palindrome')  # tasks where the tiny model's answers often agree

def test_completion_logprobs_equal_whole_rows(sft, monkeypatch):
    "Answer tokens only, prompts prefilled once, a prompt's answers as one tree (and one row each where a tree cannot be used): the values of whole prompt + answer rows scored one by one."
    import ca_nb.reward as R
    from ca_nb.models import render_prompt
    model, tok, _ = sft
    ts = mini_suite(n_train=3, n_dev=1, n_test=1)[:5]
    ps = [render_prompt(text, i.input, tok) for t in ts for i in t.instances_for('train') for _, text in t.variants('train')[:3]]
    cs = [' ' + a for a in ('1 2 3', '', 'yes', 'yes, 5', 'the answer is 7', 'the answer is 8', 'x' * 30)]  # answers that begin alike share tree nodes
    ps, cs = [p for p in ps for _ in cs], cs * len(ps)
    full = {red: R._completion_logprobs_full(model, tok, ps, cs, reduce=red) for red in ('mean', 'sum')}
    trees = []
    real_tree = R._tree_logprobs
    monkeypatch.setattr(R, '_tree_logprobs', lambda *a: trees.append(1) or real_tree(*a))
    for red in ('mean', 'sum'):
        fast = R.completion_logprobs(model, tok, ps, cs, batch_size=32, reduce=red)
        assert fast.shape == (len(ps),) and np.abs(fast - full[red]).max() < 1e-4
    assert trees  # the tree path ran
    monkeypatch.setattr(R, '_tree_logprobs', lambda *a: None)  # as where a sliding window is shorter than prompt + tree
    assert np.abs(R.completion_logprobs(model, tok, ps, cs, batch_size=32) - full['mean']).max() < 1e-4
    assert R.completion_logprobs(model, tok, [], []).shape == (0,)

def test_likelihood_scores_a_merged_copy_of_a_lora_model(sft, tmp_path):
    "On the CPU a LoRA model's likelihood rewards come from a merged copy: the values of the adapters run as they are, the model untouched."
    import copy
    from peft import LoraConfig, get_peft_model
    from ca_nb.models import render_prompt
    from ca_nb.reward import merged_lora, likelihood_rewards
    model, tok, _ = sft
    lora = get_peft_model(copy.deepcopy(model), LoraConfig(r=4, target_modules=['q_proj', 'v_proj', 'down_proj'], lora_dropout=0.0))
    torch.manual_seed(0)
    for n, w in lora.named_parameters():
        if 'lora_B' in n: w.data.normal_(0, 0.05)  # adapters that change the answers' likelihoods
    before = {n: w.detach().clone() for n, w in lora.named_parameters()}
    t = mini_suite(n_train=2, n_dev=1, n_test=1)[0]
    inst = t.instances_for('train')[0]
    prompts = [render_prompt(text, inst.input, tok) for _, text in t.variants('train')[:3]]
    items = [dict(task=t.id, instance=inst.id, instruction='x', input=inst.input, answer=a, refs=None, other_prompts=prompts)
             for a in ('yes', 'the answer is 7', '3')]
    merged = merged_lora(lora)
    assert merged is not lora and not hasattr(merged, 'peft_config')
    as_is = [r['reward'] for r in likelihood_rewards(lora, tok, items)]
    assert np.allclose([r['reward'] for r in likelihood_rewards(merged, tok, items)], as_is, atol=1e-4)
    assert not np.allclose(as_is, [r['reward'] for r in likelihood_rewards(model, tok, items)], atol=1e-3)  # the adapters matter
    assert all(torch.equal(w, before[n]) for n, w in lora.named_parameters())  # the trained model is left as it was
    assert merged_lora(model) is model  # nothing to merge

def _own_inputs(path, tasks):
    with open(path, 'w') as f:
        for t in tasks:
            for i in t.instances_for('test')[:1] + t.instances_for('dev')[:1]: f.write(json.dumps({'task': t.id, 'input': i.input}) + '\n')
    return str(path)

def test_majority_scoring_resumes_without_rescoring(sft, tmp_path, monkeypatch):
    import ca_nb.reward as R
    from ca_nb.align import candidate_items
    model, tok, _ = sft
    recs = [dict(task='t', instance=f'i{k}', variant=v, instruction=f'wording {v}', input=f'in {k}', refs=['1'], prompt=f'P{v}{k}', answers=a)
            for k in range(3) for v, a in (('orig', ['1', '1', '2']), ('train0', ['1', '3', '3']), ('train1', ['1', '', '1']))]
    items = candidate_items(recs, 'majority')
    calls = []
    real = R.majority_rewards
    monkeypatch.setattr(R, 'majority_rewards', lambda part, judge=None: calls.append(len(part)) or real(part, judge))
    c = str(tmp_path / 'rewards.jsonl')
    R.self_rewards(model, tok, items[:4], 'majority', c, progress=False)   # an interrupted run
    rows = R.self_rewards(model, tok, items, 'majority', c, progress=False)
    assert calls == [4, len(items) - 4] and len(open(c).readlines()) == len(items)
    R.self_rewards(model, tok, items, 'majority', c, progress=False)
    assert calls == [4, len(items) - 4]   # all read back
    assert [(r['variant'], r['answer'], r['votes'], r['n_answers'], r['in_majority']) for r in rows[:4]] == [
        ('orig', '1', 5, 9, True), ('orig', '2', 1, 9, False), ('train0', '1', 5, 9, True), ('train0', '3', 2, 9, False)]
    recs[0]['answers'] = ['2', '2', '2']   # instance i0's answers changed: its rows are scored anew, the others are not
    R.self_rewards(model, tok, candidate_items(recs, 'majority'), 'majority', c, progress=False)
    assert calls[2:] == [len([it for it in candidate_items(recs, 'majority') if it['instance'] == 'i0'])]

def test_majority_stage2_on_own_inputs(tmp_path):
    "No references: majority pairs weighted by their vote margin, trained; rewards that need references refuse before sampling."
    from ca_nb.align import AlignConfig, SampleConfig, PairConfig, run_alignment
    from ca_nb.files import read_jsonl
    tasks = [t for t in mini_suite(n_train=6, n_dev=1, n_test=1) if t.id in MAJ_TASKS]
    own = _own_inputs(tmp_path / 'inputs.jsonl', tasks)
    cfg = AlignConfig(reward='majority', sample=SampleConfig(n_instances=2, n_samples=2, temperature=0.5, instances=own),
                      pairs=PairConfig(weight='margin'), cat=CATConfig(max_steps=2))
    for kind in ('ladder', 'reference'):
        with pytest.raises(ValueError, match=f'--reward {kind} needs reference answers'):
            run_alignment(cached_sft(), tasks, str(tmp_path / 'x'), AlignConfig(reward=kind, sample=cfg.sample), RunContext(threads=1, progress=False))
    assert not (tmp_path / 'x').exists()
    r = run_alignment(cached_sft(), tasks, str(tmp_path / 'cat'), cfg, RunContext(threads=1, progress=False, log=lambda *a: None))
    pairs = read_jsonl(str(tmp_path / 'cat' / 'pairs.jsonl'))
    assert pairs and r['n_pairs'] == len(pairs) and r['margins']
    assert all(p['refs'] == [] and p['weight'] == p['vote_margin'] == (p['chosen_votes'] - p['rejected_votes']) / p['n_answers'] > 0 for p in pairs)
    assert all(2 * p['chosen_votes'] > p['n_answers'] for p in pairs)
    q = r['pair_quality']
    assert (q['n'], q['n_with_refs'], list(q['by_rung'])) == (len(pairs), 0, ['majority']) and np.isnan(q['precision'])
    from datasets import load_from_disk
    assert 'weight' in load_from_disk(str(tmp_path / 'cat' / 'pairs')).column_names

def test_majority_on_train_instances_measures_the_majority(tmp_path):
    from ca_nb.align import AlignConfig, SampleConfig, run_alignment
    tasks = [t for t in mini_suite(n_train=6, n_dev=1, n_test=1) if t.id in MAJ_TASKS]
    r = run_alignment(cached_sft(), tasks, str(tmp_path / 'cat'), AlignConfig(reward='majority', sample=SampleConfig(n_instances=3, n_samples=2, temperature=0.5),
                      cat=CATConfig(max_steps=1)), RunContext(threads=1, progress=False, log=lambda *a: None))
    q = r['pair_quality']
    assert q['n'] == q['n_with_refs'] == r['n_pairs'] > 0 and q['by_rung']['majority']['n'] == q['n']
    from ca_nb.metrics import is_correct
    pairs = [json.loads(l) for l in open(tmp_path / 'cat' / 'pairs.jsonl')]   # how often the majority was right, recomputed
    assert q['precision'] == pytest.approx(np.mean([is_correct(p['chosen'], p['refs']) for p in pairs]))

@pytest.mark.parametrize('line, err', [('{"task": "sort_asc", "input": 5}', 'line 2: field "input": expected a string'),
                                       ('{"input": "1 2"}', 'line 2: field "task": expected a string'),
                                       ('{"task": "nope", "input": "1 2"}', "line 2: unknown task 'nope'"),
                                       ('["sort_asc", "1 2"]', 'line 2: expected an object with "task" and "input"'),
                                       ('{"task": "sort_asc", "input": ', 'line 2: malformed JSON')])
def test_instance_file_errors_name_the_line(tmp_path, line, err):
    from ca_nb.align import SampleConfig, stage2_records
    from ca_nb.tasks import DataError
    f = tmp_path / 'in.jsonl'; f.write_text('{"task": "sort_asc", "input": "3 1 2"}\n' + line + '\n')
    with pytest.raises(DataError) as e: stage2_records(mini_suite(2, 1, 1)[:2], SampleConfig(instances=str(f)))
    assert str(e.value) == f"{f}: {err}" or str(e.value).startswith(f"{f}: {err}")
    assert '\n' not in str(e.value)
    with pytest.raises(ValueError, match='--instances'): SampleConfig(instances=str(tmp_path / 'missing.jsonl')).check()

def test_own_inputs_become_stage2_records(tmp_path):
    from ca_nb.align import SampleConfig, stage2_records
    ts = mini_suite(2, 1, 1)[:2]
    f = tmp_path / 'in.jsonl'
    f.write_text(''.join(json.dumps({'task': ts[k % 2].id, 'input': f'{k} 1'}) + '\n' for k in range(5)) + '\n')
    recs = stage2_records(ts, SampleConfig(n_instances=2, instances=str(f)))
    assert {(r['task'], r['instance'], r['input']) for r in recs} == {(ts[0].id, 'line1', '0 1'), (ts[0].id, 'line3', '2 1'),
                                                                     (ts[1].id, 'line2', '1 1'), (ts[1].id, 'line4', '3 1')}
    assert all(r['refs'] == [] for r in recs) and len(recs) == sum(2 * len(t.variants('train')) for t in ts)

def test_majority_and_own_inputs_from_every_entry_point(tmp_path):
    "`ca_nb_align`, `ca_nb_demo`'s options and `run_ablation` reach the same stage 2: majority pairs on the user's inputs (instances `lineN` of the file), margin-weighted."
    import shutil
    from ca_nb.cli import align_cli, demo_parser, demo_config
    from ca_nb.files import read_jsonl
    from ca_nb.pipeline import run_ablation
    tasks = [t for t in mini_suite(n_train=6, n_dev=1, n_test=1) if t.id in MAJ_TASKS]
    own = _own_inputs(tmp_path / 'inputs.jsonl', tasks)
    def check(folder):
        pairs = read_jsonl(os.path.join(folder, 'pairs.jsonl'))
        assert pairs and all(p['refs'] == [] and p['weight'] == p['vote_margin'] > 0 and p['task'] in MAJ_TASKS and p['instance'].startswith('line') for p in pairs)
        return pairs
    out = str(tmp_path / 'cat')
    align_cli(['--model', cached_sft(), '--preset', 'tiny', '--task-ids', ','.join(MAJ_TASKS), '--reward', 'majority', '--instances', own, '--weight', 'margin',
               '--n-instances', '2', '--n-samples', '2', '--temperature', '0.5', '--max-steps', '2', '--out', out])
    check(out)
    info = json.load(open(os.path.join(out, 'ca_nb_run.json')))   # the run records what stage 2 trained on
    assert (info['reward'], info['instances'], info['n_instances'], info['weight'], info['max_steps']) == ('majority', own, 2, 'margin', 2)
    a = demo_config(demo_parser().parse_args(['--preset', 'tiny', '--stage2-reward', 'majority', '--sample-instances', own,
                                              '--pairs-weight', 'margin', '--sample-n-instances', '5', '--cat-max-steps', '7'])).plan().align
    assert (a.reward, a.sample.instances, a.pairs.weight, a.sample.n_instances, a.cat.max_steps) == ('majority', own, 'margin', 5, 7)
    run = str(tmp_path / 'run'); shutil.copytree(cached_run('tiny'), run)
    m = run_ablation(run, 'majority_own', log=lambda *a: None, stage2_reward='majority', sample_instances=own, pairs_weight='margin', cat_max_steps=2)
    pairs = check(os.path.join(run, 'ablations', 'majority_own'))
    assert m['pair_quality']['pairs']['n'] == len(pairs) and 'cat - ia_sft' in m['comparisons']
