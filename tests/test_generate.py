"Generation: batched equals one-at-a-time, cache resumes without loss or duplicates, sampling is seeded."
from hypothesis import given, strategies as st
from ca_nb.models import load_model, render_prompt
from ca_nb.files import read_jsonl
from ca_nb.suite import mini_suite
from ca_nb.generate import generate, GenConfig, prefix_groups, one_at_a_time

def _prompts(tok, n=40):
    return [render_prompt(text, i.input, tok) for t in mini_suite(n_train=2, n_dev=1, n_test=2)
            for i in t.instances_for('test') for _, text in t.variants('test')][:n]

def test_batched_equals_sequential(tiny_base):
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok)
    batched = [a[0] for a in generate(model, tok, ps, GenConfig(max_new_tokens=10, batch_size=16), progress=False)]
    single = [generate(model, tok, [p], GenConfig(max_new_tokens=10, batch_size=1), progress=False)[0][0] for p in ps]
    assert batched == single

def test_interrupted_cache_resumes_exactly(tiny_base, tmp_path):
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok, 30); cache = str(tmp_path / 'c.jsonl')
    cfg = GenConfig(max_new_tokens=10, batch_size=8)
    full = generate(model, tok, ps, cfg, cache=cache, progress=False)
    lines = open(cache).read().splitlines()
    with open(cache, 'w') as f: f.write('\n'.join(lines[:11]) + '\n' + lines[11][:7])   # killed mid-write
    again = generate(model, tok, ps, cfg, cache=cache, progress=False)
    rows = read_jsonl(cache)
    assert again == full and len(rows) == len(ps) and len({r['key'] for r in rows}) == len(ps)

def test_settings_change_the_key(tiny_base, tmp_path):
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok, 4); cache = str(tmp_path / 'c.jsonl')
    generate(model, tok, ps, GenConfig(max_new_tokens=10), cache=cache, progress=False)
    generate(model, tok, ps, GenConfig(max_new_tokens=5), cache=cache, progress=False)
    assert len(read_jsonl(cache)) == 8

def test_sampling_is_seeded(tiny_base):
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok, 6)
    cfg = lambda s: GenConfig(max_new_tokens=10, do_sample=True, seed=s, batch_size=6)
    a, b, c = (generate(model, tok, ps, cfg(s), n_samples=3, progress=False) for s in (1, 1, 2))
    assert a == b and a != c

def test_equals_model_generate_one_prompt_at_a_time(tiny_base):
    "The shared-prefix decode loop answers exactly what transformers' own generate answers, prompt by prompt."
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok, 60)
    batched = [a[0] for a in generate(model, tok, ps, GenConfig(max_new_tokens=12, batch_size=32), progress=False)]
    assert batched == one_at_a_time(model, tok, ps, 12)

def test_nucleus_of_one_token_is_greedy(tiny_base):
    model, tok, _ = load_model(tiny_base)
    ps = _prompts(tok, 12)
    greedy = generate(model, tok, ps, GenConfig(max_new_tokens=10), progress=False)
    assert generate(model, tok, ps, GenConfig(max_new_tokens=10, do_sample=True, top_p=1e-9), progress=False) == greedy

@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=8), min_size=1, max_size=12), st.integers(1, 4))
def test_prefix_groups_partition_and_share(seqs, min_prefix):
    seqs = sorted(seqs)
    groups = prefix_groups(seqs, min_prefix)
    assert [s for s, _, _ in groups] == [0] + [e for _, e, _ in groups][:-1] and groups[-1][1] == len(seqs)
    for s, e, p in groups:
        rows = seqs[s:e]
        assert all(r[:p] == rows[0][:p] and len(r) > p for r in rows)  # a common prefix, each row keeps a token
        assert e - s == 1 or p >= min_prefix
