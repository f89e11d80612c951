"""The served-model engine: an OpenAI-compatible server on 127.0.0.1 serving the tiny model gives the local answers and
metrics; a server that dies mid-run loses nothing, and the rerun resumes from the cache with nothing twice; a server
whose replies are malformed is named in one line, and none of those replies is cached."""
import json, threading, time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from ca_nb.cli import eval_cli

DATA = ['--preset', 'tiny', '--task-ids', 'sort_asc,max_num,upper_word', '--n-test', '4', '--batch-size', '8']

def serve(model_dir, die_after=None, port=0, bad=None, good=0, models=None, fail=0):
    """A server of the tiny model speaking `/v1/models` and `/v1/completions` (greedy); it stops answering after `die_after`
    completions; after `good` requests it replies `bad(n prompts)` instead; `models`: its /v1/models reply; `fail`: first
    requests answered HTTP 503."""
    from ca_nb.models import load_model
    from ca_nb.generate import generate, GenConfig
    model, tok, _ = load_model(model_dir)
    count = [0]
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def _send(self, obj):
            body = json.dumps(obj).encode(); self.send_response(200)
            self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(body))); self.end_headers()
            self.wfile.write(body)
        def do_GET(self): self._send(models or {'object': 'list', 'data': [{'id': 'ca-nb-tiny', 'object': 'model'}]})
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            count[0] += 1
            if die_after is not None and count[0] > die_after:   # the server is gone: the connection drops
                self.close_connection = True; self.connection.close(); return
            if count[0] <= fail: self.send_error(503); return
            if bad is not None and count[0] > good: self._send(bad(len(req['prompt']))); return
            outs = generate(model, tok, req['prompt'], GenConfig(max_new_tokens=req['max_tokens'], stop=tuple(req.get('stop', ()))), progress=False)
            self._send({'object': 'text_completion', 'choices': [{'index': i, 'text': o[0], 'finish_reason': 'stop'} for i, o in enumerate(outs)]})
    server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

def rows(path): return [json.loads(l) for l in open(path)]

def test_served_model_equals_the_local_one(tmp_path, tiny_base):
    eval_cli(['--model', tiny_base, '--out', str(tmp_path / 'local')] + DATA)
    server = serve(tiny_base)
    try: eval_cli(['--model', tiny_base, '--engine', f'http://127.0.0.1:{server.server_port}/v1', '--out', str(tmp_path / 'http')] + DATA)
    finally: server.shutdown(); server.server_close()
    a, b = (json.load(open(tmp_path / d / 'metrics.json')) for d in ('local', 'http'))
    assert all(a[k] == b[k] for k in ('cr', 'mcr', 'accuracy', 'n_instances', 'n_variants', 'judge'))
    key = lambda r: (r['task'], r['instance'], r['variant'])
    assert sorted((key(r), r['answer']) for r in rows(tmp_path / 'local' / 'responses.jsonl')) == \
           sorted((key(r), r['answer']) for r in rows(tmp_path / 'http' / 'responses.jsonl'))

def test_server_dies_mid_run_and_the_rerun_resumes(tmp_path, tiny_base, capsys):
    server = serve(tiny_base, die_after=2)
    port, out = server.server_port, tmp_path / 'http'
    args = ['--model', tiny_base, '--engine', f'http://127.0.0.1:{port}/v1', '--out', str(out)] + DATA
    try:
        with pytest.raises(SystemExit) as e: eval_cli(args)
    finally: server.shutdown(); server.server_close()
    err = capsys.readouterr().err.strip().split('\n')[-1]   # after the progress bar of the answers that did come back
    assert e.value.code == 2 and err.startswith('error: ') and 'no answer after 4 attempts' in err, err
    kept = rows(out / 'responses.jsonl')
    assert len(kept) == 16   # the two batches the server answered (8 prompts each) are in the cache
    server = serve(tiny_base, port=port)   # the server is back
    try: eval_cli(args)
    finally: server.shutdown(); server.server_close()
    done = rows(out / 'responses.jsonl')
    assert len(done) == len({r['key'] for r in done}) == 3 * 4 * 7 and done[:16] == kept

def n_rows(path):
    try: return len(open(path).read().splitlines())
    except FileNotFoundError: return 0

def choices(n, **c): return {'choices': [dict({'index': i, 'text': 'x'}, **{k: v(i) if callable(v) else v for k, v in c.items()}) for i in range(n)]}

MALFORMED = {   # what the server sends -> what the one-line error must say
    'duplicate_index': (lambda n: choices(n, index=0), 'choice indices [0, 0, 0, 0, 0, 0, 0, 0] for 8 prompt(s): expected each of 0..7 once'),
    'shifted_index': (lambda n: choices(n, index=lambda i: i + 1), 'expected each of 0..7 once'),
    'missing_index': (lambda n: {'choices': [{'text': 'x'}] * n}, 'expected each of 0..7 once'),
    'too_few': (lambda n: choices(n - 1), 'choice indices [0, 1, 2, 3, 4, 5, 6] for 8 prompt(s)'),
    'missing_text': (lambda n: {'choices': [{'index': i} for i in range(n)]}, "choice 0: 'text' is missing: expected the completion as a string"),
    'null_text': (lambda n: choices(n, text=None), "choice 0: 'text' is null"),
    'number_text': (lambda n: choices(n, text=7), "choice 0: 'text' is 7"),
    'empty_text': (lambda n: choices(n, text=''), "empty 'text' for all 8 prompt(s)"),
    'chat_reply': (lambda n: {'choices': [{'index': i, 'message': {'role': 'assistant', 'content': 'x'}} for i in range(n)]},
                   "choice 0 is a chat reply ('message'"),
    'no_choices': (lambda n: {'error': 'overloaded'}, "malformed reply {'error': 'overloaded'}: expected 'choices'"),
}

@pytest.mark.parametrize('case', sorted(MALFORMED))
def test_malformed_reply_is_named_and_never_cached(tmp_path, tiny_base, capsys, case):
    "Two good batches, then a malformed reply: one line naming the server and what came back; the good answers are kept, the bad never cached; the fixed server's rerun fills in the rest."
    bad, says = MALFORMED[case]
    server = serve(tiny_base, bad=bad, good=2)
    port, out = server.server_port, tmp_path / 'http'
    args = ['--model', tiny_base, '--engine', f'http://127.0.0.1:{port}/v1', '--out', str(out)] + DATA
    try:
        with pytest.raises(SystemExit) as e: eval_cli(args)
    finally: server.shutdown(); server.server_close()
    err = capsys.readouterr().err.strip().split('\n')[-1]
    assert e.value.code == 2 and err.startswith(f'error: http://127.0.0.1:{port}/v1/completions: ') and says in err, err
    kept = rows(out / 'responses.jsonl')
    assert len(kept) == 16 and all(r['answer'] != 'x' for r in kept)   # the two good batches only
    server = serve(tiny_base, port=port)   # the server is fixed
    try: eval_cli(args)
    finally: server.shutdown(); server.server_close()
    done = rows(out / 'responses.jsonl')
    assert len(done) == len({r['key'] for r in done}) == 3 * 4 * 7 and done[:16] == kept and all(r['answer'] != 'x' for r in done)

def test_models_list_empty_or_malformed(tiny_base):
    from ca_nb.generate import HttpEngine
    for models, says in (({'object': 'list', 'data': []}, "/v1/models: the server lists no model ({'object': 'list', 'data': []}): expected at least one"),
                         ({'data': [{'name': 'x'}]}, "/v1/models: malformed model entry {'name': 'x'}: expected an object with a string 'id'"),
                         ({'models': ['x']}, 'the server lists no model')):
        server = serve(tiny_base, models=models)
        try:
            with pytest.raises(ValueError, match=None) as e: HttpEngine(f'http://127.0.0.1:{server.server_port}/v1')
        finally: server.shutdown(); server.server_close()
        assert str(e.value).startswith(f'http://127.0.0.1:{server.server_port}/v1/models: ') and says in str(e.value), str(e.value)

def test_some_empty_answers_are_measured_and_warned(tmp_path, tiny_base):
    "A server whose answers are mostly empty (but not all): the evaluation runs, empty answers agree with nothing, and metrics.json warns."
    server = serve(tiny_base, bad=lambda n: choices(n, text=lambda i: 'yes' if i == 0 else ' '), good=0)
    out = tmp_path / 'http'
    try: eval_cli(['--model', tiny_base, '--engine', f'http://127.0.0.1:{server.server_port}/v1', '--out', str(out)] + DATA)
    finally: server.shutdown(); server.server_close()
    m = json.load(open(out / 'metrics.json'))
    got = rows(out / 'responses.jsonl')
    n_yes = sum(r['answer'] == 'yes' for r in got)
    assert n_yes == 84 // 8 + 1 and abs(m['empty_share'] - (84 - n_yes) / 84) < 1e-12
    yes = Counter((r['task'], r['instance']) for r in got if r['answer'] == 'yes')   # only the 'yes' answers of an instance agree
    assert abs(m['cr'] - sum(c * (c - 1) / 2 / 21 for c in yes.values()) / 12) < 1e-12 and m['cr'] < 0.1
    assert m['top_answer'] == 'yes' and any('of the answers are empty' in w for w in m['warnings'])

def test_retry_wait_shows_on_the_progress_bar(tiny_base, capsys):
    "HTTP 503 twice, then answers: the bar says it waits for the server (retry 1/3, 2/3), and the answers are those of the server."
    from ca_nb.generate import HttpEngine, generate, GenConfig
    from ca_nb.models import load_tokenizer
    tok, config = load_tokenizer(tiny_base)
    server = serve(tiny_base, fail=2)
    try:
        eng = HttpEngine(f'http://127.0.0.1:{server.server_port}/v1', backoff=0.01)
        got = generate(eng, tok, ['Sort the numbers.\n3 1 2', 'Give the largest.\n1 5'], GenConfig(max_new_tokens=4), progress=True)
    finally: server.shutdown(); server.server_close()
    err = capsys.readouterr().err
    assert 'waiting for the server, retry 1/3 (HTTP 503)' in err and 'retry 2/3' in err, err
    assert len(got) == 2 and eng.timeout == 60

def test_request_timeout(tiny_base):
    "A server that does not reply within `timeout` seconds counts as a failed attempt; after `retries` the error names the timeout."
    from ca_nb.generate import HttpEngine, GenConfig
    import http.server
    class Slow(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self): time.sleep(3)
    server = ThreadingHTTPServer(('127.0.0.1', 0), Slow); threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        eng = HttpEngine(f'http://127.0.0.1:{server.server_port}/v1', name='slow', retries=2, backoff=0.01, timeout=0.3)
        t0 = time.time()
        with pytest.raises(ConnectionError, match=r'no answer after 2 attempts \(.*timed out; 0.3 s per attempt'): eng.complete(['x'], GenConfig(), [0])
        assert time.time() - t0 < 2.5
    finally: server.shutdown(); server.server_close()
