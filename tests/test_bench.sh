#!/usr/bin/env bash
# `svdd bench` runs end to end on a tiny budget: the step benchmark (svdd alone, MNIST scoring)
# and a whole training run, each in its own child process; the JSON report holds both. The
# figures are not checked (timings belong to the benchmark, not to the tests), only that every
# part ran, reported finite numbers and that bad options are refused.
set -u
svdd=${SVDD_BIN:?SVDD_BIN must point at the svdd binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=SCRIPTDIR/testlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

check "help" 0 "--scaling-images" -- "$svdd" bench --help
check "unknown option" 2 "unknown option --frobnicate" -- "$svdd" bench --frobnicate
check "bad table" 2 "bad value 'speed' for --tables" -- "$svdd" bench --tables speed
check "too few images" 2 "bad value '10' for --scaling-images" -- "$svdd" bench --scaling-images 10
check "unknown child task" 2 "unknown task 'nothing'" -- "$svdd" bench --child nothing
check "no rounds" 2 "bad value '0' for --rounds" -- "$svdd" bench --rounds 0
check "too many rounds" 2 "bad value '21' for --rounds" -- "$svdd" bench --rounds 21

check "tiny run" 0 "Whole training runs" -- "$svdd" bench --no-torch --nets mnist --tasks train,score --threads 1 \
    --seconds 0.05 --repeats 1 --warmup 0 --retries 0 --scaling-images 250 --scaling-epochs 1 --json "$tmp/b.json"
# the four MNIST step workloads, one whole run, all with positive finite figures
if /usr/bin/python3 - "$tmp/b.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
svdd = [x for x in r["svdd"] if x["task"].startswith("score-mnist")]
assert len(svdd) == 2, svdd
# the compare table holds the step workloads only; whole runs are the scaling table's
assert sorted(x["task"] for x in r["svdd"]) == ["score-mnist-b1", "score-mnist-b200", "train-mnist-ae", "train-mnist-enc"], r["svdd"]
assert all(math.isfinite(x["rate_median"]) and x["rate_median"] > 0 for x in svdd)
fit = r["scaling"]
assert len(fit) == 1 and fit[0]["images"] == 250 and fit[0]["epochs"] == 1, fit
assert 0 < fit[0]["seconds"] < 600 and fit[0]["peak_rss_kb"] > 0, fit
assert fit[0]["ae_seconds"] > 0 and fit[0]["objective_seconds"] > 0
PY
then ok; else bad "the JSON report lacks a part of the run"; fi

# --rounds: a stand-in for PyTorch's script whose rate grows with every call, so that the rounds'
# ratios differ; each workload's reported ratio must be the median of its rounds', with their
# range, and so must svdd's speed-up on two threads over one
cat > "$tmp/python" <<'SH'
#!/bin/sh
# called as: python SCRIPT --task NAME --threads T ...
n=$(cat "$0.count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$0.count"
echo "{\"side\":\"torch\",\"task\":\"$3\",\"threads\":$5,\"rate_median\":$((n * 1000)),\"rate_best\":$((n * 1000)),\"blas\":\"/x/openblas-pthread/libopenblas.so\",\"peak_rss_kb\":1000}"
SH
chmod +x "$tmp/python"
: > "$tmp/torch_bench.py"
check "rounds" 0 "3 rounds" -- "$svdd" bench --python "$tmp/python" --torch-script "$tmp/torch_bench.py" \
    --torch-blas pthread --nets mnist --tasks score --threads 1,2 --rounds 3 --tables compare \
    --seconds 0.05 --repeats 1 --warmup 0 --retries 0 --json "$tmp/r.json"
if /usr/bin/python3 - "$tmp/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["protocol"]["rounds"] == 3
rows = r["rows"]
tasks = ("score-mnist-b1", "score-mnist-b200")
assert sorted((x["task"], x["threads"], x["round"]) for x in rows) == sorted((t, n, k) for t in tasks for n in (1, 2) for k in range(3)), rows
assert len(r["torch"]) == 12 and sorted(x["round"] for x in r["torch"]) == [0] * 4 + [1] * 4 + [2] * 4
for s in r["ratios"]:
    mine = sorted(x["ratio"] for x in rows if x["task"] == s["task"] and x["threads"] == s["threads"])
    assert s["rounds"] == 3 and s["median"] == mine[1] and s["min"] == mine[0] and s["max"] == mine[2], (s, mine)
    med = [x for x in rows if x["task"] == s["task"] and x["threads"] == s["threads"] and x["round"] == s["median_round"]][0]
    assert med["ratio"] == s["median"], (s, med)
assert len(r["ratios"]) == 4
rate = {(x["task"], x["threads"], x["round"]): x["svdd_images_per_s"] for x in rows}
assert len(r["thread_scaling"]) == 2
for s in r["thread_scaling"]:
    mine = sorted(rate[(s["task"], 2, k)] / rate[(s["task"], 1, k)] for k in range(3))
    # the JSON's numbers carry 15 significant digits
    got = (s["min"], s["median"], s["max"])
    assert s["threads"] == 2 and s["rounds"] == 3 and all(abs(a - b) <= 1e-12 * b for a, b in zip(got, mine)), (s, mine)
PY
then ok; else bad "the rounds' ratios are not summarised by their median and range"; fi
finish
