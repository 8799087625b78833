#!/usr/bin/env bash
# Every kind of bad input the command-line tool meets, checked against the table in
# docs/robustness.md. For each row of the table: make the bad input (setup_<case> below, if the
# case needs files), run the row's command, and check the exit code and that every line of the
# row's message appears, exactly and in order, in the output, with the temporary folder written
# as $TMP; any other line saying "error" fails the row too. The table is parsed from the Markdown
# itself, so that the document and the behaviour cannot drift apart; a setup without a row fails.
#
#   SVDD_VALGRIND=1      run every command under valgrind --leak-check=full as well (a definite or
#                        indirect leak or a memory error fails the row, exit 99)
#   SVDD_ROBUSTNESS_SHOW=1  print each row's actual output (to update the table)
#   SVDD_ROBUSTNESS_ONLY=REGEX  run only the rows whose case matches (bash =~)
#
# Prints 'N passed, N failed, N skipped'. Rows that mount a tmpfs (a full or read-only disk) need
# unprivileged user namespaces (unshare -rm) and are skipped without them.
set -u
export LC_ALL=C
svdd_bin=${SVDD_BIN:?SVDD_BIN must point at the svdd binary}
here=$(cd "$(dirname "$0")" && pwd)
doc=${SVDD_SOURCE_DIR:-$here/..}/docs/robustness.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0 failed=0 skipped=0

runner=()
if [ "${SVDD_VALGRIND:-0}" = 1 ]; then
    command -v valgrind >/dev/null || { echo "SVDD_VALGRIND=1 but valgrind is not installed"; exit 1; }
    runner=(valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$TMP/valgrind.%p.log")
fi

# ---- what the table's commands call -------------------------------------------------------------

svdd() { "${runner[@]}" "$svdd_bin" "$@"; }

# in_namespace MOUNT_OPTIONS DIR svdd ARGS...: run svdd in a private mount namespace (no privileges
# needed) with a tmpfs mounted on DIR; it disappears with the process. The option "fill" (not
# tmpfs's) fills the tmpfs with a file before svdd runs.
in_namespace() {
    local opts=$1 dir=$2
    shift 3
    mkdir -p "$dir"
    unshare -rm bash -c 'mount -t tmpfs -o "${1%,fill}" none "$2" || exit 97
        [ "${1%,fill}" = "$1" ] || head -c 1M /dev/zero >"$2/filler" 2>/dev/null
        shift 2; exec "$@"' _ "$opts" "$dir" "${runner[@]}" "$svdd_bin" "$@"
}
full_disk() { in_namespace size=64k,fill "$1" "${@:2}"; } # full_disk DIR svdd ...: a tmpfs filled up
read_only() { in_namespace ro "$1" "${@:2}"; }             # read_only DIR svdd ...: a read-only file system
# file_size_limit KIB svdd ...: ulimit -f KIB, with SIGXFSZ ignored so that write() fails with EFBIG
file_size_limit() { (trap '' XFSZ; ulimit -f "$1"; shift; "$@"); }

can_mount=0
mkdir -p "$TMP/.probe"
unshare -rm sh -c "mount -t tmpfs -o size=16k none '$TMP/.probe'" 2>/dev/null && can_mount=1

# ---- making bad files -----------------------------------------------------------------------------

cat >"$TMP/mk.py" <<'EOF'
"""Bad inputs for test_robustness.sh, with the standard library only."""
import gzip, json, struct, sys, zlib

def png(path, w, h, c=1, body=True):
    """A PNG of w x h (c = 1 grey, 3 RGB); body=False stops after a token IDAT (header only)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    if body:
        raw = b''.join(b'\0' + bytes((x * 7 + y * 3) % 256 for x in range(w * c)) for y in range(h))
        idat = zlib.compress(raw)
    else:
        idat = b'\0' * 16
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + chunk(b'IEND', b''))

def idx(path, magic, dims, body):
    with open(path, 'wb') as f:
        f.write(struct.pack('>I', magic) + b''.join(struct.pack('>I', d) for d in dims) + body)

def st_read(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]

def st_write(path, header, data):
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + data)

def model(src, dst, how):
    """A copy of the model src, broken in one way."""
    header, data = st_read(src)
    meta = header['__metadata__']
    if how == 'truncated':  # the header and the first 100 bytes of the data
        raw = open(src, 'rb').read()
        open(dst, 'wb').write(raw[:8 + struct.unpack('<Q', raw[:8])[0] + 100])
        return
    if how == 'arch':  # the spec of a wider first convolution, the weights of the old one
        meta['spec'] = meta['spec'].replace('conv2d 8 k=5 pad=2', 'conv2d 16 k=5 pad=2', 1)
    elif how == 'overlap':  # a tensor placed on top of another
        header['encoder.bn1.running_mean']['data_offsets'] = [0, 32]
    elif how == 'out-of-bounds':  # a tensor placed past the end of the data
        header['svdd.center']['data_offsets'] = [len(data), len(data) + 128]
    elif how in ('nan', 'inf'):  # element 3 of the first weights
        begin = header['encoder.conv1.weight']['data_offsets'][0] + 3 * 4
        bad = struct.pack('<f', float(how))
        data = data[:begin] + bad + data[begin + 4:]
    elif how == 'n-calibration':  # a count that would size gigabytes of buffers
        meta['n_calibration'] = '1000000000'
    elif how == 'not-svdd':  # safetensors, but from another program
        header = {'weight': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]}}
        data = b'\0' * 8
    st_write(dst, header, data)

def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == 'png':
        png(args[0], int(args[1]), int(args[2]), int(args[3]) if len(args) > 3 else 1)
    elif what == 'png-header':
        png(args[0], int(args[1]), int(args[2]), body=False)
    elif what == 'idx':  # idx PATH MAGIC DIM... [--body N | --labels L,L,...]
        path, magic, rest = args[0], int(args[1], 0), args[2:]
        body = b''
        if '--body' in rest:
            i = rest.index('--body')
            body = bytes(k % 251 for k in range(int(rest[i + 1])))
            rest = rest[:i]
        elif '--labels' in rest:
            i = rest.index('--labels')
            body = bytes(int(v) for v in rest[i + 1].split(','))
            rest = rest[:i]
        idx(path, magic, [int(d, 0) for d in rest], body)
    elif what == 'gzip-truncated':  # gzip of the file, cut in the middle
        z = gzip.compress(open(args[0], 'rb').read())
        open(args[1], 'wb').write(z[:len(z) // 2])
    elif what == 'cifar':  # cifar PATH LABEL... [--extra N]: records with these labels, N stray bytes
        path, rest, extra = args[0], args[1:], 0
        if '--extra' in rest:
            extra = int(rest[rest.index('--extra') + 1])
            rest = rest[:rest.index('--extra')]
        with open(path, 'wb') as f:
            for l in rest:
                f.write(bytes([int(l)]) + bytes(3072))
            f.write(bytes(extra))
    elif what == 'model':
        model(args[0], args[1], args[2])
    else:
        sys.exit('mk.py: unknown ' + what)

main()
EOF
mk() { python3 "$TMP/mk.py" "$@"; }

# A valid model to break, trained on the built-in set with a tiny schedule.
"$svdd_bin" train --dataset synthetic --normal-class 0 --epochs 1 --ae-epochs 1 --lr 1e-3 --ae-lr 1e-3 \
    --batch-size 100 --threads 1 --out "$TMP/m.safetensors" >"$TMP/train.log" 2>&1 ||
    { echo "cannot train the model to break:"; cat "$TMP/train.log"; exit 1; }
mk png "$TMP/ok.png" 28 28
printf 'plain text, not a file of the expected kind\n' >"$TMP/text.txt"
: >"$TMP/plain" # a regular file where outputs expect a folder

# IDX folders hold train-images-idx3-ubyte and train-labels-idx1-ubyte; ten 28x28 images unless
# the case says otherwise.
idx_dir() { # idx_dir CASE: a folder with valid labels (0..9) for ten images
    mkdir -p "$TMP/$1"
    mk idx "$TMP/$1/train-labels-idx1-ubyte" 0x801 10 --labels 0,1,2,3,4,5,6,7,8,9
}
setup_idx_truncated() { idx_dir idx-truncated && mk idx "$TMP/idx-truncated/train-images-idx3-ubyte" 0x803 10 28 28 --body 5000; }
setup_idx_gz_truncated() {
    idx_dir idx-gz-truncated && mk idx "$TMP/whole.idx" 0x803 10 28 28 --body 7840 &&
        mk gzip-truncated "$TMP/whole.idx" "$TMP/idx-gz-truncated/train-images-idx3-ubyte.gz"
}
setup_idx_magic() { idx_dir idx-magic && mk idx "$TMP/idx-magic/train-images-idx3-ubyte" 0x12345678 10 28 28 --body 7840; }
setup_idx_overflow() {
    idx_dir idx-overflow && mk idx "$TMP/idx-overflow/train-images-idx3-ubyte" 0x803 0xffffffff 0xffffffff 0xffffffff
}
setup_idx_count() { idx_dir idx-count && mk idx "$TMP/idx-count/train-images-idx3-ubyte" 0x803 4000000000 28 28; }
setup_idx_gigabytes() { idx_dir idx-gigabytes && mk idx "$TMP/idx-gigabytes/train-images-idx3-ubyte" 0x803 10000000 4096 4096; }
setup_idx_max_images() { idx_dir idx-max-images && mk idx "$TMP/idx-max-images/train-images-idx3-ubyte" 0x803 10 28 28 --body 7840; }
setup_idx_labels() {
    mkdir -p "$TMP/idx-labels" && mk idx "$TMP/idx-labels/train-images-idx3-ubyte" 0x803 10 28 28 --body 7840 &&
        mk idx "$TMP/idx-labels/train-labels-idx1-ubyte" 0x801 10 --labels 0,1,2,3,4,5,6,7,8,12
}
setup_idx_empty() { idx_dir idx-empty && mk idx "$TMP/idx-empty/train-images-idx3-ubyte" 0x803 0 28 28; }
setup_idx_no_class() {
    mkdir -p "$TMP/idx-no-class" && mk idx "$TMP/idx-no-class/train-images-idx3-ubyte" 0x803 10 28 28 --body 7840 &&
        mk idx "$TMP/idx-no-class/train-labels-idx1-ubyte" 0x801 10 --labels 0,1,2,4,5,6,7,8,9,9
}
setup_idx_few() { idx_dir idx-few && mk idx "$TMP/idx-few/train-images-idx3-ubyte" 0x803 10 28 28 --body 7840; }
setup_idx_missing() { mkdir -p "$TMP/idx-missing"; }

cifar_dir() { # cifar_dir CASE: data_batch_2..5.bin valid; batch 1 is the case's
    mkdir -p "$TMP/$1"
    for b in 2 3 4 5; do mk cifar "$TMP/$1/data_batch_$b.bin" 0 1 || return 1; done
}
setup_cifar_truncated() { cifar_dir cifar-truncated && mk cifar "$TMP/cifar-truncated/data_batch_1.bin" 0 1 --extra 100; }
setup_cifar_label() { cifar_dir cifar-label && mk cifar "$TMP/cifar-label/data_batch_1.bin" 0 10 3; }
setup_cifar_empty() { cifar_dir cifar-empty && : >"$TMP/cifar-empty/data_batch_1.bin"; }

setup_folder_empty_class() { mkdir -p "$TMP/folder-empty-class/train/a" "$TMP/folder-empty-class/train/b" && mk png "$TMP/folder-empty-class/train/a/1.png" 28 28; }
setup_folder_no_classes() { mkdir -p "$TMP/folder-no-classes/train"; }
setup_folder_mixed() {
    mkdir -p "$TMP/folder-mixed/train/a" && mk png "$TMP/folder-mixed/train/a/1.png" 28 28 &&
        mk png "$TMP/folder-mixed/train/a/2.png" 32 32
}
setup_folder_huge() { mkdir -p "$TMP/folder-huge/train/a" && mk png-header "$TMP/folder-huge/train/a/1.png" 100000 100000; }
setup_folder_max_images() {
    mkdir -p "$TMP/folder-max-images/train/a" &&
        for i in 1 2 3; do mk png "$TMP/folder-max-images/train/a/$i.png" 28 28 || return 1; done
}
setup_folder_corrupt() {
    mkdir -p "$TMP/folder-corrupt/train/a" && mk png "$TMP/folder-corrupt/train/a/1.png" 28 28 &&
        head -c 60 "$TMP/folder-corrupt/train/a/1.png" >"$TMP/folder-corrupt/train/a/2.png"
}
setup_score_shape() { mk png "$TMP/rgb.png" 32 32 3; }
setup_out_file_size() { # forty images: a CSV of more than 1 KiB
    mkdir -p "$TMP/out-file-size/a" && for i in $(seq 1 40); do cp "$TMP/ok.png" "$TMP/out-file-size/a/$i.png"; done
}
setup_eval_shape() { mkdir -p "$TMP/eval-shape/train/a" && mk png "$TMP/eval-shape/train/a/1.png" 32 32 3; }

setup_model_truncated() { mk model "$TMP/m.safetensors" "$TMP/truncated.safetensors" truncated; }
setup_model_not_svdd() { mk model "$TMP/m.safetensors" "$TMP/other.safetensors" not-svdd; }
setup_model_arch() { mk model "$TMP/m.safetensors" "$TMP/arch.safetensors" arch; }
setup_model_overlap() { mk model "$TMP/m.safetensors" "$TMP/overlap.safetensors" overlap; }
setup_model_out_of_bounds() { mk model "$TMP/m.safetensors" "$TMP/oob.safetensors" out-of-bounds; }
setup_model_nan() { mk model "$TMP/m.safetensors" "$TMP/nan.safetensors" nan; }
setup_model_inf() { mk model "$TMP/m.safetensors" "$TMP/inf.safetensors" inf; }
setup_model_n_calibration() { mk model "$TMP/m.safetensors" "$TMP/ncal.safetensors" n-calibration; }


# ---- the table ---------------------------------------------------------------------------------

# The rows "| `case` | kind | `command` | exit | `line`<br>`line` |" of the tables headed
# "| Case | ...", as case TAB exit TAB command TAB lines separated by US (0x1f).
rows=$(python3 - "$doc" <<'EOF'
import re, sys
out, in_table = [], False
for line in open(sys.argv[1], encoding='utf-8'):
    if not line.startswith('|'):
        in_table = False
    elif line.startswith('| Case |'):
        in_table = True
    if not in_table or not line.startswith('| `'):
        continue
    cells = [c.strip().replace('\\|', '|') for c in re.split(r'(?<!\\)\|', line.rstrip('\n'))[1:-1]]
    if len(cells) != 5:
        sys.exit('docs/robustness.md: a row needs 5 cells: ' + line)
    case, _, cmd, code, msg = cells
    ticks = lambda s: re.findall(r'`([^`]*)`', s)
    if len(ticks(case)) != 1 or len(ticks(cmd)) != 1 or not code.isdigit() or not ticks(msg):
        sys.exit('docs/robustness.md: malformed row: ' + line)
    out.append('\t'.join([ticks(case)[0], code, ticks(cmd)[0], '\x1f'.join(ticks(msg))]))
print('\n'.join(out))
EOF
) || { echo "cannot read the table in $doc"; exit 1; }
[ -n "$rows" ] || { echo "no rows in the table of $doc"; exit 1; }

fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
}

used=" "
while IFS=$'\t' read -r id want cmd msgs; do
    used+="$id "
    [ -n "${SVDD_ROBUSTNESS_ONLY:-}" ] && ! [[ $id =~ $SVDD_ROBUSTNESS_ONLY ]] && continue
    case $cmd in
    full_disk* | read_only*)
        if [ "$can_mount" = 0 ]; then
            skipped=$((skipped + 1))
            echo "skip $id: cannot mount a tmpfs in a user namespace here (unshare -rm)"
            continue
        fi
        ;;
    esac
    setup=setup_${id//-/_}
    if declare -F "$setup" >/dev/null && ! "$setup" </dev/null; then
        fail "$id: setting up the bad input failed"
        continue
    fi
    rm -f "$TMP"/valgrind.*.log
    out=$(cd "$TMP" && eval "$cmd" 2>&1 </dev/null)
    rc=$?
    out=${out//"$TMP"/'$TMP'}
    IFS=$'\x1f' read -r -a want_lines <<<"$msgs"
    [ "${SVDD_ROBUSTNESS_SHOW:-0}" = 1 ] && printf '%s (exit %s):\n%s\n\n' "$id" "$rc" "$out"
    k=0 extra=""
    while IFS= read -r line; do
        if [ "$k" -lt "${#want_lines[@]}" ] && [ "$line" = "${want_lines[$k]}" ]; then
            k=$((k + 1))
        elif [[ $line == *error* ]]; then
            extra+="$line"$'\n'
        fi
    done <<<"$out"
    if [ "$rc" -eq "$want" ] && [ "$k" -eq "${#want_lines[@]}" ] && [ -z "$extra" ]; then
        passed=$((passed + 1))
    else
        fail "$id: exit $rc (table: $want), $k of ${#want_lines[@]} message lines found${extra:+, unexpected lines}"
        echo "    expected: ${want_lines[*]}"
        echo "$out" | tail -6 | sed 's/^/    got:      /'
        for log in "$TMP"/valgrind.*.log; do [ -s "$log" ] && sed 's/^/    /' "$log" | head -40; done
    fi
done <<<"$rows"

# Every bad input made here must have its row in the table.
for f in $(declare -F | awk '{print $3}' | grep '^setup_'); do
    id=${f#setup_}
    id=${id//_/-}
    [[ $used == *" $id "* ]] || fail "$f makes a bad input that has no row in docs/robustness.md"
done

echo "$passed passed, $failed failed, $skipped skipped${runner:+ (under valgrind)}"
[ "$failed" -eq 0 ]
