"Generation: batched equals one-at-a-time, cache resumes without loss or duplicates, sampling is seeded."
import json, torch
from ca_nb.core import load_model, render_prompt, read_jsonl
from ca_nb.data import mini_suite
from ca_nb.generate import generate, GenConfig

def _prompts(tok, n=40):
    return [render_prompt(text, i.input, tok) for t in mini_suite(n_train=2, n_dev=1, n_test=2)
            for i in t.instances_for('test') for _, text in t.variants('test')][:n]

def test_batched_equals_sequential(tiny_base):
    model, tok = load_model(tiny_base)
    ps = _prompts(tok)
    batched = [a[0] for a in generate(model, tok, ps, GenConfig(max_new_tokens=10, batch_size=16), progress=False)]
    single = [generate(model, tok, [p], GenConfig(max_new_tokens=10, batch_size=1), progress=False)[0][0] for p in ps]
    assert batched == single

def test_interrupted_cache_resumes_exactly(tiny_base, tmp_path):
    model, tok = load_model(tiny_base)
    ps = _prompts(tok, 30); cache = str(tmp_path / 'c.jsonl')
    cfg = GenConfig(max_new_tokens=10, batch_size=8)
    full = generate(model, tok, ps, cfg, cache=cache, progress=False)
    lines = open(cache).read().splitlines()
    with open(cache, 'w') as f: f.write('\n'.join(lines[:11]) + '\n' + lines[11][:7])   # killed mid-write
    again = generate(model, tok, ps, cfg, cache=cache, progress=False)
    rows = read_jsonl(cache)
    assert again == full and len(rows) == len(ps) and len({r['key'] for r in rows}) == len(ps)

def test_settings_change_the_key(tiny_base, tmp_path):
    model, tok = load_model(tiny_base)
    ps = _prompts(tok, 4); cache = str(tmp_path / 'c.jsonl')
    generate(model, tok, ps, GenConfig(max_new_tokens=10), cache=cache, progress=False)
    generate(model, tok, ps, GenConfig(max_new_tokens=5), cache=cache, progress=False)
    assert len(read_jsonl(cache)) == 8

def test_sampling_is_seeded(tiny_base):
    model, tok = load_model(tiny_base)
    ps = _prompts(tok, 6)
    cfg = lambda s: GenConfig(max_new_tokens=10, do_sample=True, seed=s, batch_size=6)
    a, b, c = (generate(model, tok, ps, cfg(s), n_samples=3, progress=False) for s in (1, 1, 2))
    assert a == b and a != c
