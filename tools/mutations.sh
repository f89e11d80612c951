#!/usr/bin/env bash
# The tests that guard five behaviours (issue 29's "tests that bite"), each run against a copy of HEAD with that behaviour
# broken: every line must say FAILS. The last line runs the browser test alone, unbroken, on an empty cache: it must pass
# (it builds its own run folder; it borrows no fixture from another test file).
# Run from the project root: bash tools/mutations.sh   (about 10 minutes on 2 cores; uses git worktrees in a temp folder)
set -u
root=$(pwd); V=$root/.venv/bin/python; tmp=$(mktemp -d)
mut() {  # name, file, old text (exactly once), new text, test id
  local name=$1 file=$2 old=$3 new=$4 test=$5 d=$tmp/$1 cache=${CA_NB_CACHE:-$HOME/.cache/ca_nb}
  git worktree add -q --detach "$d" HEAD
  "$V" - "$d/$file" "$old" "$new" <<'PY'
import sys; f, old, new = sys.argv[1:]; s = open(f).read(); assert s.count(old) == 1, (f, old); open(f, 'w').write(s.replace(old, new))
PY
  [ "$name" = browser_alone ] && cache=$tmp/empty-cache
  out=$(cd "$d" && CA_NB_CACHE=$cache HF_HUB_OFFLINE=1 PYTHONPATH=$d timeout 1500 "$V" -m pytest -x -q -p no:cacheprovider "$test" 2>&1); rc=$?
  verdict=$([ $rc = 0 ] && echo passes || echo FAILS)
  echo "$name: $test $verdict (exit $rc) with $file: '$old' -> '$new': $(echo "$out" | grep -E '^(E |[0-9]+ (passed|failed))' | head -2 | tr '\n' ' ' | cut -c1-300)"
  git worktree remove --force "$d"
}
mut containment ca_nb/reward.py "if contains_reference(answer, r) and" "if False and contains_reference(answer, r) and" tests/test_align.py::test_containment_pairs_choose_right_answers
mut precision ca_nb/align.py "precision=float(np.mean(ok)) if lab" "precision=float(np.mean(bad)) if lab" tests/test_align.py::test_pairs_are_distinct_and_their_quality_is_recorded
mut paraphrase ca_nb/paraphrase.py "            if normalize(p) not in seen: seen.add(normalize(p)); out.append(p)" "            pass" tests/test_paraphrase.py::test_llm_paraphrases_end_to_end
mut resume ca_nb/pipeline.py "    if not paths.done(stage): return False" "    if not paths.done(stage) or stage == 'ia_sft': return False" tests/test_pipeline.py::test_resume_skips_finished_stages
mut browser ca_nb/analysis.py 'f"<mark>{html.escape(t)}</mark>"' 'html.escape(t)' tests/test_browser.py::test_report_renders_offline
mut browser_alone ca_nb/analysis.py '"HTML of `a` and of `b`' '"HTML of `a` and of `b`' tests/test_browser.py::test_report_renders_offline
rm -rf "$tmp"
