"""The served-model engine: an OpenAI-compatible server on 127.0.0.1 serving the tiny model gives the local answers and
metrics; a server that dies mid-run loses nothing, and the rerun resumes from the cache with nothing twice."""
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from ca_nb.cli import eval_cli

DATA = ['--preset', 'tiny', '--task-ids', 'sort_asc,max_num,upper_word', '--n-test', '4', '--batch-size', '8']

def serve(model_dir, die_after=None, port=0):
    "A server of the tiny model speaking `/v1/models` and `/v1/completions` (greedy); it stops answering after `die_after` completions."
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
        def do_GET(self): self._send({'object': 'list', 'data': [{'id': 'ca-nb-tiny', 'object': 'model'}]})
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            count[0] += 1
            if die_after is not None and count[0] > die_after:   # the server is gone: the connection drops
                self.close_connection = True; self.connection.close(); return
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
