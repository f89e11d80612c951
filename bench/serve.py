"""A minimal OpenAI-compatible server of any ca_nb model source, for showing the served path on a machine without vLLM:
GET /v1/models and POST /v1/completions (greedy or sampled, a list of prompts, `max_tokens`, `stop`), answered by
ca_nb's own generation. Not a production server (one request at a time); vLLM, TGI, llama.cpp or Ollama serve the same API.
Run: .venv/bin/python bench/serve.py MODEL [PORT]   (MODEL: a folder, a GGUF file, a Hub id or a registered name)"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from ca_nb.models import load_model
from ca_nb.generate import generate, GenConfig

model, tok, _ = load_model(sys.argv[1])
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
name = sys.argv[1].rstrip('/').split('/')[-1]

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _send(self, obj, code=200):
        body = json.dumps(obj).encode(); self.send_response(code)
        self.send_header('Content-Type', 'application/json'); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.rstrip('/') == '/v1/models': self._send({'object': 'list', 'data': [{'id': name, 'object': 'model'}]})
        else: self._send({'error': f'no route {self.path}'}, 404)
    def do_POST(self):
        if self.path.rstrip('/') != '/v1/completions': return self._send({'error': f'no route {self.path} (only /v1/completions)'}, 404)
        req = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        prompts = [req['prompt']] if isinstance(req['prompt'], str) else req['prompt']
        t = float(req.get('temperature') or 0.0); n = int(req.get('n') or 1)
        cfg = GenConfig(max_new_tokens=int(req.get('max_tokens') or 16), do_sample=t > 0, temperature=t or 1.0,
                        top_p=float(req.get('top_p') or 1.0), stop=tuple(req.get('stop') or ()), seed=int(req.get('seed') or 0))
        outs = generate(model, tok, prompts, cfg, n_samples=n, progress=False)
        self._send({'object': 'text_completion', 'model': name,
                    'choices': [{'index': i * n + s, 'text': o[s], 'finish_reason': 'stop'} for i, o in enumerate(outs) for s in range(n)]})

print(f"serving {sys.argv[1]} as '{name}' on http://127.0.0.1:{port}/v1", flush=True)
HTTPServer(('127.0.0.1', port), Handler).serve_forever()
