"Paraphrasers, parser, filters, study and the ca_nb_paraphrase command: behaviour on known and planted inputs."
import json, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
import pytest
from hypothesis import given, settings, strategies as st
from ca_nb.tasks import shared_sni_dir, load_sni_tasks
from ca_nb.data import DataConfig, load_tasks, load_paraphrases
from ca_nb.suite import mini_suite
from ca_nb.paraphrase import (parse_paraphrases, rule_paraphrases, swap_synonyms, definition_parts, fewshot_prompt,
                              llm_paraphrases, endpoint_paraphrases, file_paraphrases, paraphrase, filter_paraphrases,
                              filter_tasks, FilterConfig, LLMConfig, paraphrase_table, study_summary, paraphrase_figure,
                              token_overlap)

TASKS = mini_suite(2, 1, 1)
ORIG = 'Sort the numbers in ascending order.'
P = ['Put the numbers in order.', 'Arrange the numbers from small to large.', 'Order them, smallest first.']

# --- parser -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text', [
    "1. Put the numbers in order.\n2. Arrange the numbers from small to large.\n3. Order them, smallest first.",
    "1) Put the numbers in order.\n\n2) Arrange the numbers from small to large.\n\n3) Order them, smallest first.",
    "(1) Put the numbers in order.\n(2) Arrange the numbers\nfrom small to large.\n(3) Order them, smallest first.",
    "Paraphrase 1: Put the numbers in order.\nParaphrase 2: Arrange the numbers from small to large.\nParaphrase 3: Order them, smallest first.",
    "- Put the numbers in order.\n- Arrange the numbers from small to large.\n- Order them, smallest first.",
    "* \"Put the numbers in order.\"\n* 'Arrange the numbers from small to large.'\n• “Order them, smallest first.”",
    "Put the numbers in order.\n\nArrange the numbers from small to large.\n\nOrder them, smallest first.\n",
    "Put the numbers in order.\n\nArrange the numbers from\nsmall to large.\n\n\nOrder them, smallest first.",
    "Put the numbers in order.\nArrange the numbers from small to large.\nOrder them, smallest first.",
    "Sure! Here are three paraphrases:\n\n1. Put the numbers in order.\n2. Arrange the numbers from small to large.\n3. Order them, smallest first.\n\nLet me know if you need more.",
])
def test_parser_formats(text):
    assert parse_paraphrases(text) == P

def test_parser_dedups_and_drops_the_original():
    text = "1. Put the numbers in order.\n2. put the numbers in order\n3. Sort the numbers in ascending order!\n4. Order them."
    assert parse_paraphrases(text, ORIG) == ['Put the numbers in order.', 'Order them.']

@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(P + ['Give them sorted.', 'Rank the values.']), min_size=1, max_size=6),
       st.sampled_from(['numbered', 'bulleted', 'blank']))
def test_parser_roundtrip(items, style):
    "Whatever the layout, the parser returns the distinct items in order."
    if style == 'numbered': text = '\n'.join(f"{i + 1}. {p}" for i, p in enumerate(items))
    elif style == 'bulleted': text = '\n'.join(f"- {p}" for p in items)
    else: text = '\n\n'.join(items)
    assert parse_paraphrases(text) == list(dict.fromkeys(items))

# --- rules --------------------------------------------------------------------------------------------------

def test_rules_deterministic_and_seeded():
    for t in TASKS:
        a = rule_paraphrases(t.definition, 8, seed=3)
        assert a == rule_paraphrases(t.definition, 8, seed=3)
    assert any(rule_paraphrases(t.definition, 8, 0) != rule_paraphrases(t.definition, 8, 1) for t in TASKS)

def test_rules_change_the_wording():
    for t in TASKS:
        ps = rule_paraphrases(t.definition, 10)
        assert len(ps) == 10 and len(set(ps)) == 10, t.id
        assert all(p.strip().lower() != t.definition.strip().lower() for p in ps), t.id

def test_rules_deterministic_across_processes():
    code = "from ca_nb.paraphrase import rule_paraphrases; print(rule_paraphrases('Give the last letter of the word.', 6, 7))"
    outs = [subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert outs[0] == outs[1] == str(rule_paraphrases('Give the last letter of the word.', 6, 7)) + '\n'

def test_synonyms_leave_quoted_answers_alone():
    import random
    s = swap_synonyms("Output 'first' if the first number is the largest, else \"last\".", random.Random(0), rate=1.0)
    assert "'first'" in s and '"last"' in s and 'the initial' in s

def test_definition_parts_sni_style():
    p = definition_parts("In this task, you are given a list of integers. You need to find the median. The median is the middle value.")
    assert (p.given, p.action, p.rest) == ('a list of integers', 'find the median', ['The median is the middle value.'])

@pytest.mark.skipif(shared_sni_dir() is None, reason='../shared/data/sni is absent')
def test_rules_on_sni_keep_quoted_answers():
    t = load_sni_tasks(shared_sni_dir() / 'tasks', ['task092_check_prime_classification'])[0]
    ps = rule_paraphrases(t.definition, 8)
    assert len(ps) == 8 and all("'Yes'" in p and "'No'" in p for p in ps)

# --- filters ------------------------------------------------------------------------------------------------

def test_filters_drop_planted_duplicates_and_drift():
    cands = ['Put these numbers in order from smallest to largest.',
             'Sort the numbers in ascending order!',                      # the original, other punctuation
             'Put these numbers in order from smallest to the largest.',  # near copy of the first
             'The weather in Paris is lovely in spring.',                 # off-topic
             'Put these numbers in order from smallest to largest.',      # exact copy of the first
             'Arrange the numbers so that the lowest comes first.']
    kept, dropped = filter_paraphrases(ORIG, cands)
    assert kept == [cands[0], cands[5]]
    why = {d['text']: d['reason'] for d in dropped}
    assert why == {cands[1]: 'duplicate of original', cands[2]: 'near duplicate', cands[3]: 'drift', cands[4]: 'duplicate'}
    assert all(d['against'] for d in dropped)

def test_filter_length_bounds_and_thresholds():
    kept, dropped = filter_paraphrases(ORIG, ['Sort.', 'Sort the numbers, ' + 'very carefully, ' * 20 + 'ascending.'])
    assert kept == [] and [d['reason'] for d in dropped] == ['too short', 'too long']
    cfg = FilterConfig(min_len_ratio=0.0, max_len_ratio=100.0)
    assert filter_paraphrases(ORIG, ['Sort the numbers.'], cfg)[0] == ['Sort the numbers.']
    assert filter_paraphrases(ORIG, ['The weather is lovely.'], FilterConfig(drift_tau=0.0))[0] == ['The weather is lovely.']

def test_filter_rougeL_drift():
    kept, dropped = filter_paraphrases(ORIG, ['Put these numbers in order from smallest to largest.',
                                              'The weather in Paris is lovely in spring.'],
                                       FilterConfig(similarity='rougeL', drift_tau=0.3))
    assert len(kept) == 1 and dropped[0]['reason'] == 'drift'

def test_filter_tasks_reports_task_ids():
    paras = {t.id: [t.definition, 'Completely unrelated chatter about cooking pasta.'] + t.paraphrases['test'][:1] for t in TASKS[:3]}
    kept, dropped = filter_tasks(TASKS[:3], paras)
    assert {d['task'] for d in dropped} == set(paras)
    assert all(kept[t.id] == [p for p in t.paraphrases['test'][:1] if token_overlap(t.definition, p) >= 0.1] for t in TASKS[:3])

# --- file source, one call ----------------------------------------------------------------------------------

def test_file_source_mini_and_path(tmp_path):
    fp = file_paraphrases(TASKS, split='test')
    assert all(fp[t.id] == t.paraphrases['test'] for t in TASKS)
    assert len(paraphrase(TASKS, 'file', n=0)[TASKS[0].id]) == 16
    f = tmp_path / 'p.jsonl'
    f.write_text(json.dumps({'Task_id': TASKS[0].id, 'Definition': [TASKS[0].definition], 'Definition_reprs': ['A.', 'B.']}) + '\n')
    got = paraphrase(TASKS, 'file', n=1, file=str(f))
    assert got[TASKS[0].id] == ['A.'] and got[TASKS[1].id] == []

def test_unknown_method():
    with pytest.raises(ValueError, match='expected one of'): paraphrase(TASKS, 'magic')

# --- study --------------------------------------------------------------------------------------------------

def test_study_table_and_figure():
    tab = paraphrase_table(TASKS)
    assert len(tab) == 16 * len(TASKS) and set(tab.split) == {'train', 'dev', 'test'}
    assert tab.sim_original.between(0, 1).all() and tab.sim_siblings.between(0, 1).all()
    rules = paraphrase_table(TASKS, paraphrase(TASKS, 'rules', n=5), source='rules')
    assert set(rules.split) == {'-'} and (rules.sim_original.mean() > tab.sim_original.mean())
    s = study_summary(tab)
    assert list(s.n) == [16] * len(TASKS) and (s.splits == 'train:8 dev:2 test:6').all()
    fig = paraphrase_figure(tab)
    assert len(fig.data) == 3  # one trace per split

# --- LLM path -----------------------------------------------------------------------------------------------

def test_llm_paraphrases_end_to_end(tiny_base, tmp_path):
    from ca_nb.models import load_model
    from ca_nb.files import read_jsonl
    from ca_nb.tinylm import build_model, TinyConfig
    from ca_nb.paraphrase import as_chat, _pool
    m, tok, _ = load_model(tiny_base)
    cfg = LLMConfig(max_new_tokens=16, samples=2)
    out = llm_paraphrases(TASKS[:4], m, tok, n=3, cfg=cfg, cache=str(tmp_path / 'c.jsonl'))  # the trained tiny model (it says little)
    raw = read_jsonl(tmp_path / 'c.jsonl')   # what the model was asked and what it wrote
    assert len(raw) == 4 * cfg.samples and all(r['answer'].strip() for r in raw)
    asked = {t.id: as_chat(fewshot_prompt(t.definition, 3), tok) for t in TASKS[:4]}
    assert {r['prompt'] for r in raw} == set(asked.values())
    assert list(out) == [t.id for t in TASKS[:4]]
    for t in TASKS[:4]:  # each task's paraphrases are exactly what parsing its own completions gives
        assert out[t.id] == _pool([r['answer'] for r in raw if r['prompt'] == asked[t.id]], t.definition, 3)
        assert len(out[t.id]) <= 3 and all(p.strip() and p.strip().lower() != t.definition.lower() for p in out[t.id])
    noise = build_model(tok, TinyConfig(), seed=0)  # an untrained model writes text, so parsing and pooling run
    a = llm_paraphrases(TASKS[:3], noise, tok, n=3, cfg=cfg, seed=5)
    assert any(a.values()) and all(len(v) <= 3 and len(set(v)) == len(v) for v in a.values())
    assert a == llm_paraphrases(TASKS[:3], noise, tok, n=3, cfg=cfg, seed=5)  # seeded sampling

class _FakeOpenAI(BaseHTTPRequestHandler):
    "A stand-in for an OpenAI-compatible server: lists one model, answers with numbered paraphrases."
    seen = []
    def log_message(self, *a): pass
    def _send(self, obj):
        b = json.dumps(obj).encode()
        self.send_response(200); self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        assert self.path == '/v1/models'; self._send({'data': [{'id': 'fake-model'}]})
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        _FakeOpenAI.seen.append((self.path, body))
        text = "1. Put the numbers in order.\n2. Arrange them from small to large."
        if self.path == '/v1/chat/completions':
            self._send({'choices': [{'index': i, 'message': {'role': 'assistant', 'content': text}} for i in range(body['n'])]})
        else: self._send({'choices': [{'index': i, 'text': text} for i in range(body['n'])]})

@pytest.mark.parametrize('chat', [True, False])
def test_endpoint_paraphrases(chat):
    srv = HTTPServer(('127.0.0.1', 0), _FakeOpenAI)
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    try:
        _FakeOpenAI.seen.clear()
        out = endpoint_paraphrases(TASKS[:2], f"http://127.0.0.1:{srv.server_port}", n=5, cfg=LLMConfig(samples=2), chat=chat)
    finally: srv.shutdown()
    assert out == {t.id: ['Put the numbers in order.', 'Arrange them from small to large.'] for t in TASKS[:2]}
    path, body = _FakeOpenAI.seen[0]
    assert path == ('/v1/chat/completions' if chat else '/v1/completions') and body['model'] == 'fake-model' and body['n'] == 2
    prompt = body['messages'][0]['content'] if chat else body['prompt']
    assert prompt in {fewshot_prompt(t.definition, 5) for t in TASKS[:2]}

# --- the command --------------------------------------------------------------------------------------------

def _run_cli(tmp_path, *args):
    script = tmp_path / 'run_paraphrase.py'
    script.write_text("from ca_nb.paraphrase import paraphrase_cli\nparaphrase_cli()\n")
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600)

def test_cli_rules_contract(tmp_path):
    a, b = tmp_path / 'a.jsonl', tmp_path / 'b.jsonl'
    for out in (a, b):
        r = _run_cli(tmp_path, '--tasks', 'mini', '--method', 'rules', '--n', '5', '--out', str(out))
        assert r.returncode == 0, r.stderr
    assert a.read_bytes() == b.read_bytes()
    rows = [json.loads(l) for l in a.read_text().splitlines() if l.strip()]
    assert len(rows) == len(mini_suite(1, 1, 1))
    for r in rows:
        assert {'Task_id', 'Definition', 'Definition_reprs'} <= r.keys() and len(r['Definition_reprs']) == 5
        assert all(p.strip().lower() != r['Definition'][0].strip().lower() for p in r['Definition_reprs'])
    tasks = load_tasks(DataConfig(eval_paraphrases=str(a)))  # what --eval-paraphrases of the other commands does
    assert all(len(t.paraphrases['test']) == 5 for t in tasks)
    assert load_paraphrases(str(a))

def test_cli_file_with_report(tmp_path):
    from ca_nb.paraphrase import paraphrase_cli
    out, rep = tmp_path / 'f.jsonl', tmp_path / 'drop.jsonl'
    paraphrase_cli(tasks='mini', method='file', split='all', n=0, out=str(out), report=str(rep), task_ids='sort_asc,min_num')
    got = load_paraphrases(str(out))
    drops = [json.loads(l) for l in rep.read_text().splitlines()]
    assert set(got) == {'sort_asc', 'min_num'} and len(got['sort_asc']) + sum(d['task'] == 'sort_asc' for d in drops) == 16
    assert all(d['reason'] and d['text'] for d in drops)

def test_cli_llm_tiny(tmp_path, tiny_base):
    out = tmp_path / 'llm.jsonl'
    r = _run_cli(tmp_path, '--tasks', 'mini', '--task_ids', 'sort_asc,upper_word', '--method', 'llm', '--model', tiny_base,
                 '--n', '3', '--max_new_tokens', '24', '--no_filter', '--out', str(out))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r['Task_id'] for r in rows] == ['sort_asc', 'upper_word'] and all(len(r['Definition_reprs']) <= 3 for r in rows)
    assert set(load_paraphrases(str(out))) <= {'sort_asc', 'upper_word'}
