#!/bin/sh
# make demo: a real program set writing under /shadow, mirrored into two member directories
# in a temporary folder, then the members compared byte for byte.
set -eu
rel=${1:-target/release}
bin=$(CDPATH= cd -- "$rel" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/shadow-demo.XXXXXX")
mkdir -p "$work/primary" "$work/secondary"
echo "== shadow set in $work: prefix /shadow -> primary/ + secondary/"

"$bin/shadow-run" --prefix /shadow --primary "$work/primary" --secondary "$work/secondary" \
    --state-dir "$work/state" -- /bin/sh -c '
    set -e
    mkdir -p /shadow/app/logs
    cp -a /etc/ssl /shadow/app/config            # a directory tree, metadata kept
    i=0
    while [ $i -lt 200 ]; do                        # an appending logger
        echo "$(date +%s) event $i" >> /shadow/app/logs/events.log
        i=$((i + 1))
    done
    tar -C /shadow/app -cf /shadow/app/config.tar config
    mkdir /shadow/app/unpacked && tar -C /shadow/app/unpacked -xf /shadow/app/config.tar
    python3 -c "
import os
with open(\"/shadow/app/state.json.tmp\", \"w\") as f:
    f.write(\"{\\\"ok\\\": true}\\n\")
os.replace(\"/shadow/app/state.json.tmp\", \"/shadow/app/state.json\")
"
    ln -s logs/events.log /shadow/app/latest.log
    rm -r /shadow/app/unpacked/config/certs
    echo "program saw: $(ls /shadow/app | tr "\n" " ")"
'
echo "== members"
for m in primary secondary; do
    printf '%-10s %6s files, %s\n' "$m" "$(find "$work/$m" | wc -l)" "$(du -sh "$work/$m" | cut -f1)"
done
echo "== shadowctl verify"
"$bin/shadowctl" verify -c "$work/state/shadow-run.toml"
echo "== history log: $(cat "$work/state/history.log" 2>/dev/null | wc -l) record(s)"
echo "demo files left in $work"
