#!/usr/bin/env bash
# The command-line tool end to end on the built-in synthetic set: train, eval, score, experiment,
# and the messages and exit codes of bad command lines and files. Prints 'N passed, N failed'.
set -u
svdd=${SVDD_BIN:?SVDD_BIN must point at the svdd binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/testlib.sh
source "$(dirname "$0")/testlib.sh"

short=(--epochs 3 --ae-epochs 3 --lr 1e-3 --ae-lr 1e-3 --batch-size 100 --threads 1)

check "help" 0 "commands:" -- "$svdd" --help
for c in train score eval experiment demo explain report; do check "$c --help" 0 "usage: svdd $c" -- "$svdd" "$c" --help; done
check "unknown command" 2 "unknown command" -- "$svdd" frobnicate
check "unknown option" 2 "unknown option '--frob'" -- "$svdd" train --frob
check "bad number" 2 "--epochs expects a whole number" -- "$svdd" train --dataset synthetic --normal-class 0 --epochs ten --out "$tmp/m"
check "bad method" 2 "unknown method 'svm'" -- "$svdd" train --dataset synthetic --normal-class 0 --method svm --out "$tmp/m"
check "missing out" 2 "--out" -- "$svdd" train --dataset synthetic --normal-class 0
check "missing data" 1 "no such folder" -- "$svdd" train --data "$tmp/nope" --dataset mnist --normal-class 0 --out "$tmp/m"
check "bad class" 2 "neither a class index" -- "$svdd" train --dataset synthetic --normal-class 7 --out "$tmp/m"
check "missing model" 1 "$tmp/none.safetensors: cannot open" -- "$svdd" eval --model "$tmp/none.safetensors" --dataset synthetic --out "$tmp/e.json"

check "train" 0 "threshold gaussian" -- "$svdd" train --dataset synthetic --normal-class 0 --method hybrid "${short[@]}" --out "$tmp/m.safetensors"
check "model written" 0 "" -- test -s "$tmp/m.safetensors"
check "unwritable output" 1 "/nonexistent/dir/m.safetensors" -- "$svdd" train --dataset synthetic --normal-class 0 "${short[@]}" --out /nonexistent/dir/m.safetensors
check "eval" 0 "anomaly = positive" -- "$svdd" eval --model "$tmp/m.safetensors" --dataset synthetic --out "$tmp/e.json"
for key in auc average_precision threshold precision recall f1 fpr tpr f1_all_anomalous f1_oracle n_normal n_anomalous; do
    check "eval json $key" 0 "\"$key\":" -- cat "$tmp/e.json"
done
check "eval counts" 0 "\"n_anomalous\":[[:space:]]*1000" -- cat "$tmp/e.json"
# a hybrid model is measured with each of its scores
for score in sum distance reconstruction; do
    check "eval hybrid score $score" 0 "^$score 0\.[0-9]+$" -- python3 -c "import json,sys; [print(k, v['auc']) for k, v in json.load(open(sys.argv[1]))['by_hybrid_score'].items()]" "$tmp/e.json"
done
check "eval prints hybrid scores" 0 "hybrid score reconstruction" -- "$svdd" eval --model "$tmp/m.safetensors" --dataset synthetic --out "$tmp/e4.json"
check "eval other threshold" 0 "mahalanobis-quantile" -- "$svdd" eval --model "$tmp/m.safetensors" --dataset synthetic --threshold mahalanobis-quantile --fpr 0.1 --out "$tmp/e2.json"
check "score" 0 "2000 images scored" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --out "$tmp/s.csv"
check "score csv header" 0 "^index,path,label,score,anomalous" -- head -1 "$tmp/s.csv"
check "score csv rows" 0 "^2001 " -- wc -l "$tmp/s.csv"
# the same scores on one thread and on two (the synthetic set's network takes the direct kernels,
# which give the same floats on any number of threads; the hybrid's decoder too)
check "score 1 thread" 0 "2000 images scored" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --threads 1 --out "$tmp/s1.csv"
check "score 2 threads" 0 "2000 images scored" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --threads 2 --out "$tmp/s2.csv"
check "score same on 1 and 2 threads" 0 "" -- cmp "$tmp/s1.csv" "$tmp/s2.csv"
check "eval 1 thread" 0 "anomaly = positive" -- "$svdd" eval --model "$tmp/m.safetensors" --dataset synthetic --threads 1 --out "$tmp/e1.json"
check "eval same on 1 and 2 threads" 0 "" -- cmp "$tmp/e.json" "$tmp/e1.json"
check "score bad threads" 2 "--threads expects" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --threads 0 --out "$tmp/s2.csv"
check "score bad threshold" 2 "--fpr expects" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --fpr 2 --out "$tmp/s2.csv"
check "score two sources" 2 "exactly one" -- "$svdd" score --model "$tmp/m.safetensors" --dataset synthetic --folder "$tmp" --out "$tmp/s2.csv"
check "score corrupt image" 1 "$tmp/bad.png" -- bash -c "printf 'not a png' > '$tmp/bad.png' && '$svdd' score --model '$tmp/m.safetensors' '$tmp/bad.png' --out '$tmp/s3.csv'"
check "truncated model" 1 "$tmp/cut.safetensors" -- bash -c "head -c 1000 '$tmp/m.safetensors' > '$tmp/cut.safetensors' && '$svdd' eval --model '$tmp/cut.safetensors' --dataset synthetic --out '$tmp/e3.json'"

check "explain" 0 "3 heat maps written" -- "$svdd" explain --model "$tmp/m.safetensors" --dataset synthetic --top 3 --out "$tmp/x"
check "explain files" 0 "^4$" -- bash -c "ls '$tmp/x' | wc -l"
# the same maps and gallery on one thread and on two, for each kind of map
for cam in excess deviation gradcam; do
    check "explain $cam 1 thread" 0 "3 heat maps written" -- "$svdd" explain --model "$tmp/m.safetensors" --dataset synthetic --top 3 --cam $cam --threads 1 --out "$tmp/x1$cam"
    check "explain $cam 2 threads" 0 "3 heat maps written" -- "$svdd" explain --model "$tmp/m.safetensors" --dataset synthetic --top 3 --cam $cam --threads 2 --out "$tmp/x2$cam"
    check "explain $cam same on 1 and 2 threads" 0 "" -- diff -r "$tmp/x1$cam" "$tmp/x2$cam"
done
check "explain bad threads" 2 "--threads expects" -- "$svdd" explain --model "$tmp/m.safetensors" --dataset synthetic --threads 300 --out "$tmp/x"
# a report's scores, maps and t-SNE map: the same files on one thread and on two
check "report 1 thread" 0 "report written" -- "$svdd" report --model "$tmp/m.safetensors" --dataset synthetic --tsne-points 300 --gallery 2 --threads 1 --out "$tmp/r1"
check "report 2 threads" 0 "report written" -- "$svdd" report --model "$tmp/m.safetensors" --dataset synthetic --tsne-points 300 --gallery 2 --threads 2 --out "$tmp/r2"
check "report same on 1 and 2 threads" 0 "" -- diff -r "$tmp/r1" "$tmp/r2"
# too few points for t-SNE: refused before anything is encoded or written
check "report too few t-SNE points" 1 "at least 7 test images" -- "$svdd" report --model "$tmp/m.safetensors" --dataset synthetic --tsne-points 5 --out "$tmp/r3"
check "report refused writes nothing" 0 "^0$" -- bash -c "ls '$tmp/r3' | wc -l"
check "explain bad mode" 2 "--cam takes" -- "$svdd" explain --model "$tmp/m.safetensors" --dataset synthetic --cam magic --out "$tmp/x"

check "experiment" 0 "tables in" -- "$svdd" experiment --datasets synthetic --classes 0 --methods deep-svdd,hybrid --seeds 1-2 --jobs 2 "${short[@]}" --out "$tmp/exp"
check "experiment cells" 0 "^4$" -- bash -c "ls '$tmp/exp/cells' | wc -l"
check "experiment table" 0 "mean of 1 classes" -- cat "$tmp/exp/results.md"
check "experiment hybrid scores table" 0 "hybrid: AUC of each score" -- cat "$tmp/exp/results.md"
# one pre-trained network per class and seed, shared by both methods
check "experiment shared pre-training" 0 "^2$" -- bash -c "ls '$tmp/exp/pretrained' | wc -l"
check "experiment reuses pre-training" 0 "hybrid s1: .*pre-trained network loaded" -- "$svdd" experiment --datasets synthetic --classes 0 --methods deep-svdd,hybrid --seeds 1 "${short[@]}" --out "$tmp/exp1"
check "experiment rerun skips" 0 "0 cells to run \(4 already done\)" -- "$svdd" experiment --datasets synthetic --classes 0 --methods deep-svdd,hybrid --seeds 1-2 "${short[@]}" --out "$tmp/exp"
check "experiment new schedule reruns" 0 "2 cells to run" -- "$svdd" experiment --datasets synthetic --classes 0 --methods deep-svdd --seeds 1-2 --epochs 2 --ae-epochs 2 --lr 1e-3 --ae-lr 1e-3 --batch-size 100 --threads 1 --out "$tmp/exp"

finish
