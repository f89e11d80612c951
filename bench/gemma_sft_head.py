#!/usr/bin/env python
"""One LoRA IA-SFT step on Gemma 3 270M: TRL's fused output head (every position, on the CPU) against the output
layer applied only at the completion tokens (`ca_nb.sft.compact_lm_head`). Same batch, same adapter initialisation.

Usage (from the project root): python bench/gemma_sft_head.py [--batch 4] [--repeats 2] [--threads 1]

The batch is the real preset's IA-SFT batch (4 rows of 12 SNI tasks under 4 wordings each). Each variant runs a
forward and backward pass `--repeats` times after one warm-up, alternating, and the script prints the loss of each
(they must agree to float rounding), the largest difference of the LoRA gradients, and the seconds per step.
"""
import argparse, time

IDS = ('task092_check_prime_classification,task365_synthetic_remove_vowels,task369_synthetic_remove_odds,'
       'task850_synthetic_longest_palindrome,task1148_maximum_ascii_value,task1189_check_char_in_string,'
       'task1316_remove_duplicates_string,task1332_check_leap_year,task1403_check_validity_date_mmddyyyy,'
       'task1404_date_conversion,task1443_string_to_number,task1498_24hour_to_12hour_clock')

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--batch', type=int, default=4); ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--model', default='gemma3-270m')
    a = ap.parse_args()
    import tempfile, torch
    from trl import SFTTrainer
    from ca_nb.tasks import shared_sni_dir
    from ca_nb.data import DataConfig, load_tasks
    from ca_nb.models import load_model, seed_everything, RunContext
    from ca_nb.sft import IASFTConfig, training_args, sft_dataset, lora_config, compact_lm_head
    sni = shared_sni_dir()
    tasks = load_tasks(DataConfig(str(sni / 'tasks'), IDS.split(','), str(sni / 'paraphrases' / 'train.jsonl'),
                                  str(sni / 'paraphrases' / 'dev.jsonl'), train_instances='generated', n_train=4, n_dev=1))
    seed_everything(0, a.threads)
    trainers, batch = {}, None
    for name in ('full', 'compact'):
        model, tok, _ = load_model(a.model); model.train()
        ds = sft_dataset(tasks, tok, n_variants=4, seed=0).select(range(a.batch))
        seed_everything(0, a.threads)  # the same LoRA initialisation for both
        args = training_args(IASFTConfig(max_steps=1, per_device_train_batch_size=a.batch), tempfile.mkdtemp(), RunContext(device='cpu', progress=False))
        tr = SFTTrainer(model=model, args=args, processing_class=tok, train_dataset=ds.select_columns(['prompt', 'completion']),
                        peft_config=lora_config())
        if name == 'compact': compact_lm_head(tr)
        if batch is None: batch = tr._prepare_inputs(next(iter(tr.get_train_dataloader())))
        trainers[name] = tr
    scored, total = int((batch['labels'][:, 1:] != -100).sum()), batch['labels'][:, 1:].numel()
    ntok = int(batch['attention_mask'].sum())  # the real (unpadded) tokens of the batch
    print(f"{a.model}: batch of {a.batch} rows, {ntok} tokens ({total} positions), {scored} of them scored (completion tokens); "
          f"vocabulary {trainers['full'].model.config.vocab_size}, torch threads {torch.get_num_threads()}")

    def step(tr):
        tr.model.zero_grad()
        t0 = time.time(); loss = tr.compute_loss(tr.model, dict(batch)); loss.backward(); dt = time.time() - t0
        return loss.item(), dt, {n: p.grad.clone() for n, p in tr.model.named_parameters() if p.grad is not None}
    for tr in trainers.values(): step(tr)  # warm-up
    runs = {n: [] for n in trainers}
    for _ in range(a.repeats):
        for n, tr in trainers.items(): runs[n].append(step(tr))
    (lf, _, gf), (lc, _, gc) = runs['full'][-1], runs['compact'][-1]
    sec = {n: min(r[1] for r in rs) for n, rs in runs.items()}
    gdiff = max((gf[k] - gc[k]).abs().max().item() for k in gf)
    print(f"loss: full {lf:.6f}, compact {lc:.6f} (difference {abs(lf - lc):.2e}); largest LoRA gradient difference {gdiff:.2e} "
          f"(largest gradient {max(g.abs().max().item() for g in gf.values()):.2e})")
    with torch.no_grad():  # the same loss in float64 from the backbone's hidden states: which one rounds more?
        m = trainers['full'].model.get_base_model()
        h = m.base_model(input_ids=batch['input_ids'], attention_mask=batch['attention_mask'], use_cache=False).last_hidden_state[:, :-1]
        lab = batch['labels'][:, 1:]; mask = lab != -100
        logits = h[mask].double() @ m.get_output_embeddings().weight.double().T
        ref = -logits.log_softmax(-1).gather(-1, lab[mask][:, None]).mean().item()
    print(f"float64 reference loss {ref:.6f}: full off by {abs(lf - ref):.2e}, compact off by {abs(lc - ref):.2e}")
    print(f"forward+backward seconds (best of {a.repeats}): full {sec['full']:.1f}, compact {sec['compact']:.1f}; "
          f"ratio {sec['full'] / sec['compact']:.2f}x; tokens/s {ntok / sec['full']:.0f} -> {ntok / sec['compact']:.0f}")
    assert abs(lf - lc) < 1e-4 * max(1, abs(lf)), (lf, lc)

if __name__ == '__main__': main()
