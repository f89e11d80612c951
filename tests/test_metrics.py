"Property tests of the consistency metrics, and the exact values of the definitions on known inputs."
import numpy as np
from hypothesis import given, strategies as st, settings
from ca_nb.judges import ModelJudge, RougeL, EXACT
from ca_nb.metrics import consistency_rate, max_consistency_rate, consistency_metrics, bootstrap_ci

answers = st.lists(st.sampled_from(['1 2 3', '3 2 1', 'yes', 'no', 'Yes.', ' 1  2 3 ']), min_size=2, max_size=10)

@given(answers, st.randoms())
def test_order_invariant(a, rnd):
    b = list(a); rnd.shuffle(b)
    assert consistency_rate(a) == consistency_rate(b) and max_consistency_rate(a) == max_consistency_rate(b)

@given(answers)
def test_bounds_and_relation(a):
    cr, mcr = consistency_rate(a), max_consistency_rate(a)
    assert 0 <= cr <= 1 and 1 / len(a) <= mcr <= 1
    assert (cr == 1) == (mcr == 1)

@given(st.text(min_size=1, max_size=5), st.integers(2, 12))
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
