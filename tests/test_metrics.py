"Property tests of the consistency metrics, and the exact values of the definitions on known inputs."
import numpy as np
from hypothesis import given, strategies as st, settings
import pytest
from ca_nb.judges import ModelJudge, RougeL, EXACT, judge_for
from ca_nb.metrics import consistency_rate, max_consistency_rate, consistency_metrics, bootstrap_ci, is_correct

answers = st.lists(st.sampled_from(['1 2 3', '3 2 1', 'yes', 'no', 'Yes.', ' 1  2 3 ', '', '  ']), min_size=2, max_size=10)

@given(answers, st.randoms())
def test_order_invariant(a, rnd):
    b = list(a); rnd.shuffle(b)
    assert consistency_rate(a) == consistency_rate(b) and max_consistency_rate(a) == max_consistency_rate(b)

@given(answers)
def test_bounds_and_relation(a):
    cr, mcr = consistency_rate(a), max_consistency_rate(a)
    assert 0 <= cr <= 1 and 1 / len(a) <= mcr <= 1
    assert (cr == 1) == (mcr == 1)

@given(st.text(min_size=1, max_size=5).filter(str.strip), st.integers(2, 12))
def test_all_equal(x, n):
    assert consistency_rate([x] * n) == 1 and max_consistency_rate([x] * n) == 1

@given(st.integers(2, 12))
def test_all_different(n):
    a = [str(i) for i in range(n)]
    assert consistency_rate(a) == 0 and max_consistency_rate(a) == 1 / n

@settings(max_examples=50)
@given(answers)
def test_general_judge_matches_counting(a):
    "On an equivalence relation, the pairwise path (any judge) agrees with the counting path."
    j = ModelJudge(EXACT)
    assert abs(consistency_rate(a, j) - consistency_rate(a)) < 1e-12
    assert abs(max_consistency_rate(a, j) - max_consistency_rate(a)) < 1e-12

def test_known_values():
    assert abs(consistency_rate(["a", "a", "b"]) - 1 / 3) < 1e-12
    assert abs(max_consistency_rate(["a", "a", "b"]) - 2 / 3) < 1e-12

def test_mcr_non_transitive_judge():
    "ROUGE-L is not transitive: MCR is the largest clique, not a chain."
    j = RougeL(0.6)
    a = ['red green blue', 'green blue yellow', 'blue yellow black', 'red green blue']
    # 0~1, 1~2, 0~3, 1~3 but not 0~2: the chain links all four, the largest clique is {0, 1, 3}
    assert max_consistency_rate(a, j) == 0.75

def test_ci_contains_mean():
    v = np.random.default_rng(0).random(200)
    lo, hi = bootstrap_ci(v)
    assert lo < v.mean() < hi and hi - lo < 0.2

def test_gap_and_spread():
    recs = [dict(task='t', instance=str(i), variant=v, answer=('x' if v == 'orig' or i % 2 else 'y'), refs=['x'])
            for i in range(10) for v in ('orig', 'test0', 'test1')]
    m = consistency_metrics(recs)
    assert m['accuracy_original'] == 1.0 and abs(m['accuracy_paraphrased'] - 0.5) < 1e-12
    assert abs(m['gap'] - 0.5) < 1e-12 and abs(m['spread'] - 0.5) < 1e-12
    assert m['n_instances'] == 10 and m['n_variants'] == 3 and set(m['ci']) == {'cr', 'mcr', 'accuracy'}

JUDGES = [EXACT, ModelJudge(EXACT), judge_for('chat'), RougeL()]

@pytest.mark.parametrize('judge', JUDGES, ids=repr)
@pytest.mark.parametrize('n', [2, 3, 7])
def test_empty_answers_agree_with_nothing(judge, n):
    "n empty answers: CR 0 (not 1) and MCR 1/n, under counting and pairwise judges alike."
    a = ['', ' ', '\n\t'] * n
    assert consistency_rate(a[:n], judge) == 0 and max_consistency_rate(a[:n], judge) == 1 / n

@pytest.mark.parametrize('judge', JUDGES, ids=repr)
def test_one_empty_among_agreeing_answers(judge):
    "Four agreeing answers and one empty: C(4,2) = 6 agreeing pairs of C(5,2) = 10; the largest group is 4 of 5."
    a = ['1 2 3', '1 2 3', '1 2 3', '1 2 3', '']
    assert consistency_rate(a, judge) == 0.6 and max_consistency_rate(a, judge) == 0.8
    assert consistency_rate(a[:4], judge) == 1   # without it: perfectly consistent

def recs(answers_by_instance, refs=('yes', 'no'), task='t'):
    return [dict(task=task, instance=str(i), variant=v, answer=x, refs=[refs[i % len(refs)]])
            for i, xs in enumerate(answers_by_instance) for v, x in zip(('orig', 'test0', 'test1', 'test2'), xs)]

def test_empty_reference_still_correct_but_never_consistent():
    "SNI has instances whose reference is the empty string: an empty answer is right there, yet agrees with nothing."
    assert is_correct('', ['']) and is_correct('  ', ['']) and not is_correct('', ['x'])
    m = consistency_metrics(recs([[''] * 4] * 3, refs=('',)))
    assert m['accuracy'] == 1 and m['cr'] == 0 and m['mcr'] == 0.25 and m['empty_share'] == 1

def test_shares_and_warnings():
    "empty_share and top_answer_share on known answers, overall and per task, and the warnings they raise."
    m = consistency_metrics(recs([['yes'] * 4] * 4) + recs([['a', 'b', '', ''], ['c', 'd', 'e', 'f']], refs=('no',), task='u'))
    assert m['empty_share'] == 2 / 24 and (m['top_answer'], m['top_answer_share']) == ('yes', 16 / 24)
    assert m['top_answer_ref_share'] == 8 / 24   # t's instances 0 and 2 have the reference 'yes' (8 answers); u's none
    assert m['per_task']['u']['empty_share'] == 0.25 and m['per_task']['t']['top_answer_share'] == 1
    assert m['warnings'] == ["67% of the answers are 'yes' (the references give it 33%): a model giving one answer to everything "
                             "is consistent only in a trivial sense",
                             "task 'u': 25% of the answers are empty: an empty answer agrees with no other, so these count as "
                             "inconsistent; check --max-new-tokens, the stop strings, the model or the server"]
    assert m['per_task']['t']['warnings'][0].startswith("100% of the answers are 'yes' (the references give it 50%)")
    assert len(m['per_task']['t']['warnings']) == len(m['per_task']['u']['warnings']) == 1   # t's is said overall, u's is added
    ok = consistency_metrics(recs([['no'] * 4] * 3 + [['yes'] * 4], refs=('no', 'no', 'no', 'yes')))
    assert ok['top_answer_share'] == 0.75 and ok['top_answer_ref_share'] == 0.75 and ok['warnings'] == []   # right, not degenerate
    few = consistency_metrics(recs([['a', 'b', 'c', '']] * 4))   # 25% empty: one warning, no other
    assert few['empty_share'] == 0.25 and len(few['warnings']) == 1 and few['warnings'][0].startswith('25% of the answers are empty')
    assert consistency_metrics(recs([['a', 'b', 'c', '']] + [['a', 'b', 'c', 'd']] * 3))['warnings'] == []   # 1 of 16 empty: no warning
