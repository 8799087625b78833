#!/usr/bin/env bash
# A training run killed with SIGKILL resumes from its checkpoint and writes exactly the model an
# uninterrupted run writes: `svdd train` with a checkpoint every epoch is killed once during
# pre-training and, resumed, killed again during the Deep SVDD phase, each time as soon as its
# checkpoint records two epochs of the phase; the second resume runs to the end, and the two
# model files must be byte for byte the same. Then the command line's checks: bad option
# combinations, a torn checkpoint, a checkpoint of another schedule. Only the processes this test
# starts are killed, by their pid.
set -u
svdd=${SVDD_BIN:?SVDD_BIN must point at the svdd binary}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=SCRIPTDIR/testlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# Soft-boundary (R is part of the state) with learning-rate milestones after the kill points.
run=(train --dataset synthetic --normal-class 0 --method soft-boundary --warmup-epochs 1
     --ae-epochs 5 --epochs 6 --ae-lr 1e-3 --lr 1e-3 --ae-lr-milestones 3 --lr-milestones 4
     --batch-size 100 --seed 7 --threads 1)
ck="$tmp/run.ckpt"

# The phase and epoch recorded in the checkpoint's header (metadata strings of the JSON header).
ckpt_at() {
    [ -s "$ck" ] || return 1
    local head
    head=$(head -c 4096 "$ck" | tr -d '\0')
    grep -qF "\"phase\":\"$1\"" <<<"$head" || return 1
    local e
    e=$(grep -oE '"epochs_done":"[0-9]+"' <<<"$head" | grep -oE '[0-9]+')
    [ -n "$e" ] && [ "$e" -ge "$2" ]
}

# start_and_kill PHASE EPOCHS ARGS...: run svdd in the background, SIGKILL it as soon as the
# checkpoint holds EPOCHS epochs of PHASE. Fails when the run ends first.
start_and_kill() {
    local phase=$1 epochs=$2
    shift 2
    "$svdd" "$@" >"$tmp/log" 2>&1 &
    pid=$!
    local waited=0
    until ckpt_at "$phase" "$epochs"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            bad "the run ended (exit $?) before its checkpoint reached $phase epoch $epochs; log:"
            tail -5 "$tmp/log" | sed 's/^/    /'
            pid=
            return 1
        fi
        sleep 0.02
        waited=$((waited + 1))
        if [ "$waited" -gt 30000 ]; then bad "no $phase checkpoint after 10 minutes"; return 1; fi
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    local rc=$?
    pid=
    if [ "$rc" -eq 137 ]; then ok; else bad "the run was not killed by SIGKILL (exit $rc)"; return 1; fi
}

"$svdd" "${run[@]}" --out "$tmp/reference.safetensors" >"$tmp/ref.log" 2>&1 || {
    bad "the uninterrupted run failed:"
    tail -5 "$tmp/ref.log"
}

if start_and_kill pretrain 2 "${run[@]}" --checkpoint "$ck" --checkpoint-every 1 --out "$tmp/resumed.safetensors"; then
    check "killed run left no model" 0 "" -- test ! -e "$tmp/resumed.safetensors"
    echo "killed during pre-training; checkpoint: $(head -c 4096 "$ck" | tr -d '\0' | grep -oE '"(phase|epochs_done)":"[a-z0-9]+"' | tr '\n' ' ')"
    if start_and_kill objective 2 "${run[@]}" --resume "$ck" --checkpoint "$ck" --out "$tmp/resumed.safetensors"; then
        # it continued the pre-training (a run started afresh would end on the same model)
        check "resumed in pre-training" 0 "resuming after autoencoder pre-training epoch [2-5]" -- cat "$tmp/log"
        echo "killed during Deep SVDD; checkpoint: $(head -c 4096 "$ck" | tr -d '\0' | grep -oE '"(phase|epochs_done)":"[a-z0-9]+"' | tr '\n' ' ')"
        check "resume to the end" 0 "resuming after Deep SVDD training epoch" -- \
            "$svdd" "${run[@]}" --resume "$ck" --checkpoint "$ck" --out "$tmp/resumed.safetensors"
        if cmp "$tmp/reference.safetensors" "$tmp/resumed.safetensors"; then
            ok
            echo "the resumed model is byte for byte the uninterrupted one"
        else
            bad "the resumed model differs from the uninterrupted one"
        fi
    fi
fi

# ---- the command line's checks ----
check "help: checkpoints" 0 "--checkpoint-every" -- "$svdd" train --help
check "help: clipping" 0 "--clip-grad-norm" -- "$svdd" train --help
check "every without file" 2 "--checkpoint FILE" -- "$svdd" "${run[@]}" --checkpoint-every 2 --out "$tmp/m"
check "bad every" 2 "--checkpoint-every" -- "$svdd" "${run[@]}" --checkpoint "$ck" --checkpoint-every 0 --out "$tmp/m"
check "bad clip" 2 "--clip-grad-norm" -- "$svdd" "${run[@]}" --clip-grad-norm -1 --out "$tmp/m"
if [ -s "$ck" ]; then
    check "other schedule" 1 "fit.svdd.epochs = 6, this one 7" -- \
        "$svdd" "${run[@]}" --epochs 7 --resume "$ck" --out "$tmp/m"
    check "other seed" 1 "$ck: the checkpoint" -- "$svdd" "${run[@]}" --seed 8 --resume "$ck" --out "$tmp/m"
    head -c 5000 "$ck" >"$tmp/torn.ckpt"
    check "torn checkpoint" 1 "$tmp/torn.ckpt" -- "$svdd" "${run[@]}" --resume "$tmp/torn.ckpt" --out "$tmp/m"
    check "model as checkpoint" 1 "not an svdd checkpoint" -- \
        "$svdd" "${run[@]}" --resume "$tmp/reference.safetensors" --out "$tmp/m"
    check "no model after refusals" 0 "" -- test ! -e "$tmp/m"
    # clipping may change on resume (the remedy after a NaN stop), with a warning; the model records it
    check "resume with clipping" 0 "warning: .*fit.svdd.clip_grad_norm = 0.5 instead of 0" -- \
        "$svdd" "${run[@]}" --clip-grad-norm 0.5 --resume "$ck" --out "$tmp/clipped.safetensors"
    check "clipping recorded" 0 "" -- grep -aqF '"train.svdd.clip_grad_norm":"0.5"' "$tmp/clipped.safetensors"
fi
check "missing checkpoint" 1 "$tmp/none.ckpt" -- "$svdd" "${run[@]}" --resume "$tmp/none.ckpt" --out "$tmp/m"

finish
